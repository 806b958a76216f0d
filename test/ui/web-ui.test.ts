/**
 * The Temporal Web UI (the dev server's UI 2.42.1, in headless Chromium)
 * shows a job's run readable only through the API's codec endpoint: with the
 * job tenant's viewer key as `--ui-codec-endpoint` the page shows the run's
 * summary and its decoded input; with another tenant's key the same page
 * shows ciphertext only. Screenshots go to test-results/ui/.
 *
 * Wiring: the codec endpoint URL holds the API's port and a viewer key, and
 * both exist only once the stack runs, while the dev server takes the URL at
 * start. So the file owns its dev server (persistent SQLite file, fixed gRPC
 * and UI ports): it starts it headless for the stack, then restarts it on the
 * same port and data file with the UI and the codec endpoint, the way
 * `npm start` runs it. The stack's client reconnects by itself. For the
 * negative case it restarts once more with another tenant's viewer key, so
 * the page, its origin (allowed by the API's CORS) and the stored history
 * stay the same and only the key differs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiKey, createTenant } from '../../api/tenants/service.ts';
import { freePort } from '../../runtime/host-port.ts';
import { launchBrowser, screenshot, type TestBrowser } from '../helpers/browser.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startTestStack, startTestTemporal, waitForJob, type TestStack, type TestTemporal } from '../helpers/stack.ts';

const marker = `UI-MARKER-${randomBytes(6).toString('hex')}`;
/** base64 of `binary/encrypted`: how the UI prints the encoding of a payload it could not decode. */
const encryptedEncodingB64 = Buffer.from('binary/encrypted').toString('base64');
const dir = mkdtempSync(path.join(tmpdir(), 'jobplane-ui-'));
const dbFile = path.join(dir, 'temporal.db');

let grpcPort: number;
let uiUrl: string;
let temporal: TestTemporal | undefined;
let stack: TestStack;
let workers: { stop(): Promise<void> } | undefined;
let receiver: Receiver;
let browser: TestBrowser | undefined;
let noBrowser: Error | undefined;
let otherTenantKey: string;
let job: { id: string; workflowId: string; runId: string; status: string; links: { ui: string } };
let summary: string;

/** (Re)starts the file's dev server on the same port and data file, its Web UI decoding with `key`. */
async function serveUiDecodingWith(key: string): Promise<void> {
  await temporal?.stop();
  temporal = await startTestTemporal({ port: grpcPort, dbFile, uiPort: Number(new URL(uiUrl).port), uiCodecEndpoint: `${stack.apiUrl}/codec/k/${key}` });
}

/**
 * Without Chromium every test fails, naming what is missing. (Thrown from
 * beforeAll it would mark the tests skipped, which a summary of failed tests
 * does not count.)
 */
function requireBrowser(): TestBrowser {
  if (!browser) throw noBrowser ?? new Error('the browser did not start');
  return browser;
}

beforeAll(async () => {
  try {
    browser = await launchBrowser();
  } catch (err) {
    noBrowser = err as Error;
    return; // nothing else to start: every test fails with this error
  }
  grpcPort = await freePort();
  uiUrl = `http://127.0.0.1:${await freePort()}`;
  temporal = await startTestTemporal({ port: grpcPort, dbFile });
  // The UI URL drives both the jobs' `links.ui` and the codec endpoint's CORS origin.
  stack = await startTestStack('ui', { temporal, env: { JOBPLANE_TEMPORAL_UI_URL: uiUrl } });
  const other = await createTenant(stack.db, `ui-other-${randomBytes(4).toString('hex')}`);
  otherTenantKey = (await createApiKey(stack.db, other.id, { name: 'other tenant UI codec', role: 'codec' })).key;

  // The UI holds a codec key, as `npm start` gives it: it decodes and can do nothing else.
  await serveUiDecodingWith(stack.keys.codec);
  workers = await stack.startWorkers();
  receiver = await startReceiver(() => ({ status: 200 }));

  const res = await stack.api('/v1/jobs', {
    method: 'POST',
    role: 'submitter',
    body: JSON.stringify({ type: 'webhook.deliver', input: { url: receiver.url, payload: { orderRef: marker } } }),
  });
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as { id: string };
  job = (await waitForJob(stack, id)) as typeof job;
  expect(job.status).toBe('succeeded');
  summary = `webhook.deliver → ${new URL(receiver.url).host} (tenant ${stack.tenantId})`;
});

afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  await stack?.close();
  await temporal?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Every codec call the page makes, and how many are still in flight. */
function watchCodec(page: Page) {
  const calls: { url: string; status: number; allowOrigin: string | undefined }[] = [];
  const failed: string[] = [];
  let inFlight = 0;
  const isCodec = (url: string) => url.startsWith(`${stack.apiUrl}/codec/`);
  page.on('request', (r) => {
    if (isCodec(r.url()) && r.method() === 'POST') inFlight++;
  });
  page.on('requestfailed', (r) => {
    if (!isCodec(r.url()) || r.method() !== 'POST') return;
    inFlight--;
    failed.push(`${r.url()}: ${r.failure()?.errorText}`);
  });
  page.on('requestfinished', async (r) => {
    if (!isCodec(r.url()) || r.method() !== 'POST') return;
    const res = await r.response();
    calls.push({ url: r.url(), status: res?.status() ?? 0, allowOrigin: (await res?.allHeaders())?.['access-control-allow-origin'] });
    inFlight--;
  });
  return {
    calls,
    failed,
    /** Resolves once the page has made codec calls and none is pending. */
    async settled(timeoutMs = 30_000) {
      await vi.waitFor(
        () => {
          if (!(calls.length > 0 && inFlight === 0)) throw new Error(`codec calls not settled: ${calls.length} done, ${inFlight} in flight, failed: ${failed.join('; ')}`);
        },
        { timeout: timeoutMs, interval: 100 },
      );
    },
  };
}

/** Opens the job's UI link in a fresh browser context and waits for the run's page to render. */
async function openRunPage() {
  // Tall enough for the input, the result and the whole event history in one screenshot.
  const context = await requireBrowser().newContext({ viewport: { width: 1440, height: 1800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const codec = watchCodec(page);
  const res = await page.goto(job.links.ui);
  expect(res?.status()).toBe(200);
  await page.getByTestId('workflow-id-heading').filter({ hasText: job.workflowId }).waitFor();
  await page.getByTestId('input-and-result').waitFor();
  return { page, codec, input: page.getByTestId('input-and-result'), close: () => context.close() };
}

describe('Temporal Web UI through the codec endpoint', () => {
  it('the job links to its run page in the Web UI', () => {
    requireBrowser();
    expect(job.links.ui).toBe(`${uiUrl}/namespaces/default/workflows/${encodeURIComponent(job.workflowId)}/${job.runId}/history`);
  });

  it('with the tenant’s viewer key, the run page shows the summary and the decoded input', async () => {
    const { page, codec, input, close } = await openRunPage();
    try {
      await input.getByText(marker).waitFor();
      expect(await input.innerText()).toContain(`"orderRef": "${marker}"`);
      const started = page.getByTestId('event-summary-row').filter({ hasText: 'Workflow Execution Started' });
      await started.getByText(summary, { exact: true }).waitFor();
      await codec.settled();
      // Every payload came through the job tenant's key, and the browser accepted every answer (CORS).
      expect(codec.failed).toEqual([]);
      for (const call of codec.calls) {
        expect(call).toEqual({ url: `${stack.apiUrl}/codec/k/${stack.keys.codec}/decode`, status: 200, allowOrigin: uiUrl });
      }
      console.log(`screenshot: ${await screenshot(page, 'decoded-own-tenant')}`);

      // The User Metadata tab renders the decoded summary as markdown, in a frame (summary first, then details).
      await page.getByTestId('user-metadata-tab').click();
      await page.locator('iframe[title="output"]').first().contentFrame().getByText(summary, { exact: true }).waitFor();
      console.log(`screenshot: ${await screenshot(page, 'user-metadata-own-tenant')}`);
    } finally {
      await close();
    }
  });

  it('with another tenant’s key, the same page shows ciphertext: no input, no summary', async () => {
    requireBrowser();
    await workers?.stop();
    workers = undefined;
    await serveUiDecodingWith(otherTenantKey);
    const { page, codec, input, close } = await openRunPage();
    try {
      // Rendered undecoded: the payload's metadata shows, base64 and all.
      await input.getByText(encryptedEncodingB64).first().waitFor();
      // The row that shows the summary with the right key.
      await page.getByTestId('event-summary-row').filter({ hasText: 'Workflow Execution Started' }).waitFor();
      await codec.settled();
      // Not a network or CORS failure: the API answered the browser and chose not to decode.
      expect(codec.failed).toEqual([]);
      for (const call of codec.calls) {
        expect(call).toEqual({ url: `${stack.apiUrl}/codec/k/${otherTenantKey}/decode`, status: 200, allowOrigin: uiUrl });
      }
      const html = await page.content();
      expect(html).not.toContain(marker);
      expect(html).not.toContain(summary);
      expect(await input.innerText()).toContain('"encryption-tenant"');
      console.log(`screenshot: ${await screenshot(page, 'encrypted-other-tenant')}`);
    } finally {
      await close();
    }
  });
});
