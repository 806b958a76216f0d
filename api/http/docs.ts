/**
 * `/openapi.json` (OpenAPI 3.1 from the routes' zod schemas) and `/docs`
 * (Swagger UI served from the `swagger-ui-dist` package, so it works offline).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AuthEnv } from './auth.ts';

const uiDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const assets: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
};

const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Jobplane API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui', persistAuthorization: true });</script>
</body></html>`;

export const apiDescription = `Jobplane runs your business jobs as durable Temporal workflows.

**Start here:** ask the platform operator for a tenant and an \`admin\` key
(\`POST /v1/tenants\`, then \`POST /v1/tenants/{tenantId}/api-keys\`), press
**Authorize** and paste the key. \`GET /v1/job-types\` lists what you can run and
the JSON Schema of each input. Create with \`POST /v1/jobs\` and an
\`Idempotency-Key\`; follow with \`GET /v1/jobs/{id}\` or long-poll
\`GET /v1/jobs/{id}/result?waitSeconds=30\`; steer with signals, updates, queries
and \`cancel\`; run on a timetable with \`/v1/schedules\`.

Every error is \`application/problem+json\` (RFC 9457) with a stable \`type\`.
Roles: admin ⊃ operator ⊃ submitter ⊃ viewer. Another tenant's resources
answer 404, like ids that do not exist. A key may also carry a \`scope\` (job
types, labels, actions): jobs outside it answer 404 the same way, actions and
tenant-wide routes outside it 403 \`scope-forbidden\`. Creates are rate limited per tenant
(429 with \`Retry-After\`) and capped by running jobs.`;

export function mountDocs(app: OpenAPIHono<AuthEnv>): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', description: 'API key: `jp_…`' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Jobplane API', version: '1.0.0', description: apiDescription },
    tags: [{ name: 'Jobs' }, { name: 'Job messages' }, { name: 'Schedules' }, { name: 'Operations' }, { name: 'Tenants' }, { name: 'API keys' }, { name: 'Audit' }],
  });
  app.get('/docs', (c) => c.html(page));
  for (const [file, type] of Object.entries(assets)) {
    const body = readFileSync(path.join(uiDir, file));
    app.get(`/docs/${file}`, (c) => c.body(body, 200, { 'content-type': type, 'cache-control': 'public, max-age=86400' }));
  }
}
