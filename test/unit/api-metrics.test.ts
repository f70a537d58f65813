import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ApiMetrics } from '#adapters/http/api-metrics.ts';
import { buildHttpApp } from '#adapters/http/build-http-app.ts';
import type { QueueStats } from '#functions/ports.ts';
import { MemoryImagesRepo } from '#test/fakes/memory-images-repo.ts';
import { MemoryPublisher } from '#test/fakes/memory-publisher.ts';
import { seedRows, taskBody } from '#test/support/http-app-harness.ts';
import { parsePrometheusText, valueOf, type Sample } from '#test/support/prometheus-text.ts';

describe('GET /metrics on the api', () => {
  let app: ReturnType<typeof buildHttpApp> | undefined;

  afterEach(async () => {
    await app?.close();
  });

  function appWithMetrics(queue: () => Promise<QueueStats>) {
    let asked = 0;
    const metrics = new ApiMetrics({
      queueMonitor: {
        stats: () => {
          asked += 1;
          return queue();
        },
      },
      queues: { queue: 'images.q', dlq: 'images.dlx.q' },
    });
    const images = new MemoryImagesRepo(seedRows(7));
    const publisher = metrics.countPublished(new MemoryPublisher());
    app = buildHttpApp({ enqueue: { images, publisher }, task: { publisher, jobs: images }, healthz: { dependencies: [] }, jobs: images, metrics });
    return { app, asked: () => asked };
  }

  async function scrape(): Promise<Sample[]> {
    const response = await app!.inject({ method: 'GET', url: '/metrics' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(response.body);
  }

  it('parses as Prometheus text and counts a known run: requests by route and status, jobs published, batch sizes, depths', async () => {
    const { app } = appWithMetrics(async () => ({ queued: 12, deadLettered: 3, deadByCode: { HTTP_404: 3 } }));
    await app.inject({ method: 'POST', url: '/enqueue?limit=5' });
    await app.inject({ method: 'POST', url: '/enqueue?limit=5' });
    await app.inject({ method: 'POST', url: '/tasks', payload: taskBody({ id: 'a' }) });
    await app.inject({ method: 'POST', url: '/tasks', payload: taskBody({ id: 'b' }) });
    await app.inject({ method: 'POST', url: '/tasks', payload: taskBody({ url: 'ftp://x' }) });
    await app.inject({ method: 'GET', url: '/jobs/secret-job-42' });
    await app.inject({ method: 'GET', url: '/no/such/route/123' });

    const samples = await scrape();

    const requests = (labels: Record<string, string>) => valueOf(samples, 'imgpipe_http_requests_total', labels);
    assert.equal(requests({ method: 'POST', route: '/enqueue', status: '200' }), 2);
    assert.equal(requests({ method: 'POST', route: '/tasks', status: '202' }), 2);
    assert.equal(requests({ method: 'POST', route: '/tasks', status: '400' }), 1);
    assert.equal(requests({ method: 'GET', route: '/jobs/:id', status: '404' }), 1);
    assert.equal(requests({ method: 'GET', route: 'unmatched', status: '404' }), 1);
    assert.equal(valueOf(samples, 'imgpipe_jobs_published_total'), 5 + 2 + 2);
    assert.equal(valueOf(samples, 'imgpipe_enqueue_batch_size_count'), 2);
    assert.equal(valueOf(samples, 'imgpipe_enqueue_batch_size_sum'), 7);
    assert.equal(valueOf(samples, 'imgpipe_enqueue_batch_size_bucket', { le: '1' }), 0);
    assert.equal(valueOf(samples, 'imgpipe_enqueue_batch_size_bucket', { le: '10' }), 2);
    assert.equal(valueOf(samples, 'imgpipe_queue_messages', { queue: 'images.q' }), 12);
    assert.equal(valueOf(samples, 'imgpipe_queue_messages', { queue: 'images.dlx.q' }), 3);
    assert.ok(valueOf(samples, 'process_cpu_user_seconds_total')! >= 0, 'default process metrics');
    assert.ok(valueOf(samples, 'nodejs_heap_size_used_bytes')! > 0);
    const labelValues = samples.flatMap((sample) => Object.values(sample.labels));
    assert.ok(!labelValues.some((value) => /secret-job-42|no\/such|ftp/.test(value)), 'no id or URL becomes a label value');
  });

  it('drops the depth series when the broker does not answer, and keeps the rest', async () => {
    appWithMetrics(async () => {
      throw new Error('broker down');
    });

    const samples = await scrape();

    assert.equal(valueOf(samples, 'imgpipe_queue_messages', { queue: 'images.q' }), undefined);
    assert.equal(valueOf(samples, 'imgpipe_jobs_published_total'), 0);
  });

  it('asks the queue monitor once per scrape, never per request', async () => {
    const { app, asked } = appWithMetrics(async () => ({ queued: 0, deadLettered: 0, deadByCode: {} }));
    for (let n = 0; n < 5; n += 1) await app.inject({ method: 'POST', url: '/enqueue?limit=1' });

    await scrape();

    assert.equal(asked(), 1);
  });
});

describe('the Prometheus text parser of these tests', () => {
  it('refuses a line that is not Prometheus text, and a sample with no TYPE', () => {
    assert.throws(() => parsePrometheusText('# TYPE a counter\na{x="1"} one\n'), /not a number|not Prometheus/);
    assert.throws(() => parsePrometheusText('b 1\n'), /no TYPE/);
    assert.deepEqual(parsePrometheusText('# HELP a help\n# TYPE a counter\na{x="q\\"1"} 2\n'), [{ name: 'a', labels: { x: 'q"1' }, value: 2 }]);
  });
});
