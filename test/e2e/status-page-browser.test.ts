import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { freePort } from '#test/support/free-port.ts';
import { launchChromium, type HeadlessChromium } from '#test/support/headless-chromium.ts';
import { startImageSource, type ImageSource } from '#test/support/image-source.ts';
import { startNodeProcess, type RunningProcess } from '#test/support/node-process.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/pg-database.ts';
import { parsePrometheusText, valueOf } from '#test/support/prometheus-text.ts';
import { createTestVhost, type TestVhost } from '#test/support/rabbit-vhost.ts';
import { waitUntil } from '#test/support/wait-until.ts';

const ROWS = 24;
const API_KEY = 'status-page-test-key';
const ARTIFACTS = 'test-artifacts';

describe('the status page in headless Chromium, after a run through dist/http.mjs and dist/worker.mjs', () => {
  let vhost: TestVhost;
  let database: TestDatabase;
  let source: ImageSource;
  let dataDir: string;
  let api: RunningProcess;
  let worker: RunningProcess;
  let apiUrl: string;
  let browser: HeadlessChromium;
  let page: Page;

  const authorization = { authorization: `Bearer ${API_KEY}` };

  before(async () => {
    vhost = await createTestVhost();
    database = await createTestDatabase();
    source = await startImageSource();
    dataDir = await mkdtemp(join(tmpdir(), 'imgpipe-page-'));
    const apiPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}`;
    const shared = {
      RABBIT_URL: vhost.url,
      DATABASE_URL: database.url,
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      // Seed rows come from the api's own sample source: a different picture per row.
      PICSUM_URL: `${apiUrl}/samples`,
      URL_ALLOW_HOSTS: `127.0.0.1:${apiPort},${source.hostPort}`,
    };
    api = startNodeProcess('dist/http.mjs', { ...shared, PORT: String(apiPort), API_KEY });
    worker = startNodeProcess('dist/worker.mjs', { ...shared, METRICS_PORT: String(await freePort()) });
    await waitUntil('the api to be ready', async () => (await fetch(`${apiUrl}/healthz`)).ok);

    const enqueued = await fetch(`${apiUrl}/enqueue?limit=${ROWS}`, { method: 'POST', headers: authorization });
    assert.deepEqual(await enqueued.json(), { enqueued: ROWS });
    for (const [id, url] of [['gone', `${source.origin}/missing.jpg`], ['html-page', `${source.origin}/page.html`]]) {
      const posted = await fetch(`${apiUrl}/tasks`, { method: 'POST', headers: { ...authorization, 'content-type': 'application/json' }, body: JSON.stringify({ id, url }) });
      assert.equal(posted.status, 202);
    }
    await waitUntil(`${ROWS} thumbnails and 2 failures`, async () => {
      const status = (await (await fetch(`${apiUrl}/status`, { headers: authorization })).json()) as { rows: { processed: number }; jobs: { failed: number } };
      return status.rows.processed === ROWS && status.jobs.failed === 2;
    }, 120_000, 250);

    browser = await launchChromium({ httpCredentials: { username: 'me', password: API_KEY } });
    page = await browser.context.newPage();
  });

  after(async () => {
    await browser?.close();
    await api?.stop();
    await worker?.stop();
    await source?.close();
    await database?.drop();
    await vhost?.delete();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function cards(): Promise<Record<string, string>> {
    const pairs = await page.$$eval('.card', (elements) =>
      elements.map((element) => [element.querySelector('.label')?.textContent ?? '', element.querySelector('.value')?.textContent ?? '']),
    );
    return Object.fromEntries(pairs);
  }

  it('shows the right counts, dead letters by code and the failures, behind Basic auth', async () => {
    await page.setViewportSize({ width: 1000, height: 900 });
    await waitUntil('the worker and the broker to settle', async () => {
      await page.goto(`${apiUrl}/`);
      const shown = await cards();
      return shown.queued === '0' && shown['dead-lettered'] === '2';
    });

    const shown = await cards();
    assert.deepEqual(
      [shown.rows, shown.processed, shown.failed, shown.pending, shown['dead-lettered']],
      ['300', String(ROWS), '0', String(300 - ROWS), '2'],
    );
    const deadByCode = await page.$$eval('table tr', (rows) => rows.map((row) => row.textContent));
    assert.deepEqual(deadByCode.sort(), ['HTTP_4041', 'NOT_AN_IMAGE1']);
    const failures = await page.$$eval('.failures li', (items) => items.map((item) => item.textContent ?? ''));
    assert.equal(failures.length, 2);
    assert.ok(failures.some((text) => text.startsWith('gone HTTP_404')), failures.join('\n'));
    assert.equal(await page.$$eval('script', (scripts) => scripts.length), 0, 'the page works without JavaScript');
  });

  it('shows the newest thumbnails, loaded through /thumbnails', async () => {
    // Expressions run in the page (this project's types have no DOM).
    await page.waitForFunction('document.images.length > 0 && [...document.images].every((image) => image.complete)');
    const widths = await page.$$eval('.grid img', (images) => images.map((image) => (image as unknown as { naturalWidth: number }).naturalWidth));

    assert.equal(widths.length, ROWS);
    assert.ok(widths.every((width) => width > 0), `natural widths ${widths.join(', ')}`);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });
    assert.ok((await readdir(ARTIFACTS)).includes('status-page.png'));
  });

  it('counts the run at GET /metrics', async () => {
    const response = await fetch(`${apiUrl}/metrics`, { headers: authorization });
    const samples = parsePrometheusText(await response.text());

    assert.equal(valueOf(samples, 'imgpipe_jobs_published_total'), ROWS + 2);
    assert.equal(valueOf(samples, 'imgpipe_enqueue_batch_size_sum'), ROWS);
    assert.equal(valueOf(samples, 'imgpipe_http_requests_total', { method: 'POST', route: '/tasks', status: '202' }), 2);
    assert.equal(valueOf(samples, 'imgpipe_queue_messages', { queue: 'images.q' }), 0);
    assert.equal(valueOf(samples, 'imgpipe_queue_messages', { queue: 'images.dlx.q' }), 2);
  });

  it('serves /openapi.json and the Swagger UI with its assets from the bundle', async () => {
    const document = await fetch(`${apiUrl}/openapi.json`, { headers: authorization });
    const docs = await fetch(`${apiUrl}/docs/`, { headers: authorization });
    const asset = await fetch(`${apiUrl}/docs/static/swagger-ui.css`, { headers: authorization });

    assert.equal(((await document.json()) as { openapi: string }).openapi, '3.1.0');
    assert.deepEqual([docs.status, asset.status], [200, 200]);
    assert.match(await docs.text(), /swagger-ui/);
  });

  it('fits a phone screen without sideways scrolling', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${apiUrl}/`);

    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');

    assert.ok(overflow <= 0, `${overflow} px wider than the screen`);
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-phone.png'), fullPage: true });
  });
});
