import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { TransientError } from '#functions/errors.ts';
import type { QueueStats } from '#functions/ports.ts';
import { STATUS_REFRESH_SECONDS } from '#adapters/http/status-page.ts';
import { httpAppWithFakes, type HttpAppHarness } from '#test/support/http-app-harness.ts';

const QUEUE: QueueStats = { queued: 7, deadLettered: 3, deadByCode: { HTTP_404: 2, NOT_AN_IMAGE: 1 } };
const JPEG = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
const rowUrl = (n: number) => `https://picsum.photos/seed/${n}/1024/768`;

describe('the status page and its thumbnails', () => {
  let harness: HttpAppHarness;

  afterEach(async () => {
    await harness?.app.close();
  });

  /** 6 rows enqueued: 1-3 written, 4 failed (with markup in its reason), 5-6 still waiting. */
  async function aRun(queue: () => Promise<QueueStats> = async () => QUEUE): Promise<void> {
    harness = httpAppWithFakes({ rows: 6, queueMonitor: { stats: queue } });
    await harness.app.inject({ method: 'POST', url: '/enqueue?limit=6' });
    for (const n of [1, 2, 3]) {
      await harness.store.putIfAbsent(`${n}.jpg`, JPEG, 'image/jpeg');
      await harness.images.markProcessed({ id: String(n), url: rowUrl(n) }, { outcome: 'written', key: `${n}.jpg`, location: `memory://${n}.jpg`, attempt: 1 });
    }
    await harness.images.markFailed({ id: '4', url: rowUrl(4) }, { code: 'HTTP_404', message: 'GET <script>alert(1)</script> answered 404' });
  }

  it('renders the counts, the queue, the dead letters by code, the failures and the thumbnails as HTML', async () => {
    await aRun();

    const response = await harness.app.inject({ method: 'GET', url: '/' });

    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/html/);
    const html = response.body;
    assert.match(html, new RegExp(`<meta http-equiv="refresh" content="${STATUS_REFRESH_SECONDS}">`));
    assert.match(html, /<meta name="viewport"/);
    assert.doesNotMatch(html, /<script/, 'no script, and a reason is escaped');
    assert.match(html, /&#60;script&#62;alert\(1\)/);
    for (const [value, label] of [[6, 'rows'], [3, 'processed'], [1, 'failed'], [2, 'pending'], [7, 'queued'], [3, 'dead-lettered']] as const) {
      assert.match(html, new RegExp(`<span class="value">${value}</span><span class="label">${label}</span>`), label);
    }
    assert.match(html, /<code>HTTP_404<\/code><\/td><td class="num">2</);
    assert.deepEqual([...html.matchAll(/<img src="\/thumbnails\/(\d+)\.jpg"/g)].map((match) => match[1]).sort(), ['1', '2', '3']);
  });

  it('answers the same report as JSON at /status, with throughput over the last minute', async () => {
    await aRun();

    const status = (await harness.app.inject({ method: 'GET', url: '/status' })).json();

    assert.deepEqual(status.rows, { total: 6, processed: 3, failed: 1, pending: 2 });
    assert.deepEqual(status.jobs, { queued: 2, written: 3, skipped: 0, failed: 1 });
    assert.equal(status.endedLastMinute, 3);
    assert.equal(status.throughputPerSecond, 0.05);
    assert.deepEqual(status.queue, QUEUE);
    assert.deepEqual(status.latestFailures.map((failure: { id: string; code: string }) => [failure.id, failure.code]), [['4', 'HTTP_404']]);
  });

  it('still renders when the broker does not answer, and says so', async () => {
    await aRun(async () => {
      throw new TransientError('BROKER_UNAVAILABLE', 'cannot connect to RabbitMQ');
    });

    const response = await harness.app.inject({ method: 'GET', url: '/' });
    const status = (await harness.app.inject({ method: 'GET', url: '/status' })).json();

    assert.equal(response.statusCode, 200);
    assert.match(response.body, /cannot connect to RabbitMQ/);
    assert.equal(status.queue, null);
  });

  it('serves a thumbnail from the store, with its content type', async () => {
    await aRun();

    const response = await harness.app.inject({ method: 'GET', url: '/thumbnails/2.jpg' });

    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], 'image/jpeg');
    assert.deepEqual(new Uint8Array(response.rawPayload), JPEG);
  });

  it('answers 404 for a thumbnail not written, and 400 for a name outside the id rules', async () => {
    await aRun();

    const missing = await harness.app.inject({ method: 'GET', url: '/thumbnails/5.jpg' });
    const badNames = await Promise.all(
      ['/thumbnails/..%2F1.jpg', '/thumbnails/1.png', '/thumbnails/a.b.jpg', '/thumbnails/.jpg'].map((url) => harness.app.inject({ method: 'GET', url })),
    );

    assert.equal(missing.statusCode, 404);
    assert.deepEqual(badNames.map((response) => response.statusCode), [400, 400, 400, 400]);
    assert.deepEqual(badNames.map((response) => response.json().field), ['file', 'file', 'file', 'file']);
  });
});
