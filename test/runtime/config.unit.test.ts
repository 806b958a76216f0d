import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../runtime/config.ts';
import { configTableMarkdown } from '../../scripts/config-table.ts';

describe('configuration', () => {
  it('docs/CONFIGURATION.md lists exactly the config table (regenerate with `npx tsx scripts/config-table.ts`)', () => {
    const doc = readFileSync(path.resolve(import.meta.dirname, '../../docs/CONFIGURATION.md'), 'utf8');
    expect(doc).toContain(configTableMarkdown());
  });

  it('applies defaults and derived links', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 3000, dataDir: '.data', temporalAddress: '127.0.0.1:7233', temporalNamespace: 'default' });
    expect(c.publicUrl).toBe('http://localhost:3000');
    expect(c.temporalUiUrl).toBe('http://localhost:8233');
    expect(loadConfig({ PORT: '8080' }).publicUrl).toBe('http://localhost:8080');
  });

  it('names every bad variable in one error', () => {
    expect(() => loadConfig({ PORT: 'abc', JOBPLANE_WEBHOOK_SIGNING_SECRET: 'short', JOBPLANE_LOG_LEVEL: 'loud' })).toThrowError(ConfigError);
    try {
      loadConfig({ PORT: 'abc', JOBPLANE_WEBHOOK_SIGNING_SECRET: 'short' });
    } catch (err) {
      expect((err as Error).message).toContain('PORT=');
      expect((err as Error).message).toContain('JOBPLANE_WEBHOOK_SIGNING_SECRET=');
    }
  });
});

describe('empty values', () => {
  it('an empty metrics address disables metrics; an empty PORT means the default', () => {
    expect(loadConfig({ JOBPLANE_WORKER_METRICS_ADDRESS: '' }).workerMetricsAddress).toBe('');
    expect(loadConfig({}).workerMetricsAddress).toBe('127.0.0.1:9464');
    expect(loadConfig({ PORT: '' }).port).toBe(3000);
  });
});

describe('worker task queues', () => {
  it('polls every catalog queue by default, a chosen subset, and refuses unknown names', async () => {
    const { selectedTaskQueues } = await import('../../workers/create-workers.ts');
    expect(selectedTaskQueues(loadConfig({})).sort()).toEqual(['default', 'documents', 'webhooks']);
    expect(selectedTaskQueues(loadConfig({ JOBPLANE_WORKER_TASK_QUEUES: 'webhooks' }))).toEqual(['webhooks']);
    expect(() => selectedTaskQueues(loadConfig({ JOBPLANE_WORKER_TASK_QUEUES: 'webhooks,nope' }))).toThrow(/unknown queue/);
  });
});
