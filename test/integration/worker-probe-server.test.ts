import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { SettledJob } from '#adapters/jobs/dispatcher.ts';
import { WorkerMetrics } from '#adapters/amqp/worker-metrics.ts';
import { startWorkerProbeServer, type WorkerProbeServer } from '#adapters/amqp/worker-probe-server.ts';
import { MemoryLogger } from '#test/fakes/support.ts';

function written(durationMs: number): SettledJob {
  const output = { name: 'w640', key: '1/w640.webp', format: 'webp', width: 640, height: 480, bytes: 9000, outcome: 'written' } as const;
  return {
    settlement: { outcome: 'written', jobId: '1', result: { outcome: 'written', key: '1.jpg', location: 'memory://1.jpg', ms: durationMs, outputs: [output] } },
    attempt: 1,
    durationMs,
  };
}

function deadLettered(): SettledJob {
  return {
    settlement: { outcome: 'dead-lettered', jobId: '2', headers: { 'x-error-code': 'HTTP_404', 'x-error-message': 'gone', 'x-attempts': 1 } },
    attempt: 1,
    durationMs: 5,
  };
}

describe('worker probe server', () => {
  let server: WorkerProbeServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(isReady: () => boolean, metrics = new WorkerMetrics()): Promise<string> {
    server = await startWorkerProbeServer({ host: '127.0.0.1', port: 0, isReady, registry: metrics.registry, log: new MemoryLogger() });
    return `http://127.0.0.1:${server.port}`;
  }

  it('answers /healthz with 503 until the consumer consumes, then 200 {"ok":true}', async () => {
    let consuming = false;
    const base = await start(() => consuming);

    const before = await fetch(`${base}/healthz`);
    consuming = true;
    const after = await fetch(`${base}/healthz`);

    assert.equal(before.status, 503);
    assert.deepEqual(await before.json(), { ok: false });
    assert.equal(after.status, 200);
    assert.deepEqual(await after.json(), { ok: true });
  });

  it('serves job counters by outcome, a duration histogram and outputs by format on /metrics', async () => {
    const metrics = new WorkerMetrics();
    const base = await start(() => true, metrics);

    metrics.record(written(120));
    metrics.record(written(80));
    metrics.record(deadLettered());
    const response = await fetch(`${base}/metrics`);
    const text = await response.text();

    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(text, /^imgpipe_jobs_total\{outcome="written"\} 2$/m);
    assert.match(text, /^imgpipe_jobs_total\{outcome="dead-lettered"\} 1$/m);
    assert.match(text, /^imgpipe_jobs_total\{outcome="retried"\} 0$/m);
    assert.match(text, /^imgpipe_job_duration_seconds_count\{outcome="written"\} 2$/m);
    assert.match(text, /^imgpipe_job_duration_seconds_bucket\{le="0.1",outcome="written"\} 1$/m);
    assert.match(text, /^imgpipe_outputs_total\{format="webp"\} 2$/m);
    assert.match(text, /^imgpipe_outputs_total\{format="avif"\} 0$/m);
  });

  it('answers 404 elsewhere and can be closed twice', async () => {
    const base = await start(() => true);

    const response = await fetch(`${base}/nope`);

    assert.equal(response.status, 404);
    await server!.close();
    await server!.close();
  });
});
