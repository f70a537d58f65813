import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '#test/support/free-port.ts';
import { startNodeProcess, type LogLine, type RunningProcess } from '#test/support/node-process.ts';
import { OtlpSpanKind, OtlpStatusCode, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '#test/support/otlp-receiver.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/pg-database.ts';
import { createTestVhost, type TestVhost } from '#test/support/rabbit-vhost.ts';
import { waitUntil } from '#test/support/wait-until.ts';

const BUNDLES = ['dist/http.mjs', 'dist/worker.mjs'];
const TABLE_JOBS = ['1', '2', '3'];
const GOOD_TASK = 'trace-good';
const MISSING_TASK = 'trace-missing';

/**
 * One trace per request, from the api's HTTP span through RabbitMQ to the
 * worker's steps, as the built bundles export it to an OTLP/HTTP collector.
 * Both processes batch spans for 60 s, so only the flush on SIGTERM can deliver them.
 */
describe('tracing across dist/http.mjs and dist/worker.mjs', { timeout: 180_000 }, () => {
  let receiver: OtlpReceiver;
  let vhost: TestVhost;
  let database: TestDatabase;
  let dataDir: string;
  let api: RunningProcess;
  let worker: RunningProcess;
  let apiUrl: string;
  let spans: ReceivedSpan[];
  let workerSpansBeforeStop: number;
  let exitCodes: { api: number | null; worker: number | null };

  before(async () => {
    for (const bundle of BUNDLES) {
      assert.ok(existsSync(bundle), `${bundle} is missing: run \`node build.mjs\` first (\`npm test\` does)`);
    }
    receiver = await startOtlpReceiver();
    vhost = await createTestVhost('imgpipe-tracing');
    database = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'imgpipe-tracing-'));

    const apiPort = await freePort();
    const metricsPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}`;
    const shared = {
      RABBIT_URL: vhost.url,
      DATABASE_URL: database.url,
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      // The seed rows are picsum URLs: send them to the api's own sample source.
      PICSUM_URL: `${apiUrl}/samples`,
      URL_ALLOW_HOSTS: `127.0.0.1:${apiPort}`,
      OTEL_SDK_DISABLED: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.baseUrl,
      OTEL_BSP_SCHEDULE_DELAY: '60000',
    };
    worker = startNodeProcess('dist/worker.mjs', { ...shared, METRICS_PORT: String(metricsPort) });
    api = startNodeProcess('dist/http.mjs', { ...shared, PORT: String(apiPort) });
    await waitUntil('the worker to consume', async () => (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).ok);
    await waitUntil('the api to be ready', async () => (await fetch(`${apiUrl}/healthz`)).ok);

    // Act: one enqueue of three rows, one good task, one task whose URL 404s.
    const enqueued = await fetch(`${apiUrl}/enqueue?limit=3`, { method: 'POST' });
    assert.equal(enqueued.status, 200);
    assert.deepEqual(await enqueued.json(), { enqueued: 3 });
    const good = await postTask({ id: GOOD_TASK, url: `${apiUrl}/samples/seed/${GOOD_TASK}/640/480` });
    const missing = await postTask({ id: MISSING_TASK, url: `${apiUrl}/samples/no-such-image.jpg` });
    assert.deepEqual([good.status, missing.status], [202, 202]);

    // The settlement is logged after the consumer span has ended.
    for (const jobId of [...TABLE_JOBS, GOOD_TASK]) {
      await worker.waitForLine(settled('job done', jobId), 60_000);
    }
    const deadLettered = await worker.waitForLine(settled('job dead-lettered', MISSING_TASK), 60_000);
    assert.equal(deadLettered.code, 'HTTP_404');

    workerSpansBeforeStop = receiver.spans.filter((span) => span.serviceName === 'worker').length;
    exitCodes = { worker: await worker.stop(), api: await api.stop() };
    spans = await receiver.waitForSpans((span) => span.serviceName === 'worker' && span.name === 'handle_task', 5_000, 5);
    spans = [...receiver.spans];
  });

  after(async () => {
    await api?.stop();
    await worker?.stop();
    await receiver?.close();
    await database?.drop();
    await vhost?.delete();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('delivers the batched spans only through the flush on SIGTERM, and both processes exit cleanly', () => {
    assert.equal(workerSpansBeforeStop, 0, 'no worker span arrived before shutdown');
    assert.deepEqual(exitCodes, { api: 0, worker: 0 });
    const services = new Set(spans.map((span) => span.serviceName));
    assert.ok(services.has('api') && services.has('worker'), `services: ${[...services].join(', ')}`);
  });

  it('traces POST /enqueue as one tree: server span → 3 producers → 3 handle_task consumers', () => {
    const server = only(spans, (span) => span.serviceName === 'api' && span.kind === OtlpSpanKind.SERVER && span.name === 'POST /enqueue');
    const trace = spans.filter((span) => span.traceId === server.traceId);
    assert.deepEqual(new Set(trace.map((span) => span.serviceName)), new Set(['api', 'worker']));
    assertConnected(trace, server);

    const producers = trace.filter((span) => span.kind === OtlpSpanKind.PRODUCER);
    assert.equal(producers.length, 3, describeSpans(trace));
    for (const producer of producers) {
      assert.equal(producer.serviceName, 'api');
      assert.equal(producer.parentSpanId, server.spanId, `${producer.name} is a child of the server span`);
    }
    assert.deepEqual(producers.map((p) => p.attributes['messaging.message.id']).sort(), TABLE_JOBS);

    const consumers = trace.filter((span) => span.kind === OtlpSpanKind.CONSUMER);
    assert.equal(consumers.length, 3, describeSpans(trace));
    for (const consumer of consumers) {
      assert.equal(consumer.name, 'handle_task');
      assert.equal(consumer.serviceName, 'worker');
      const producer = producers.find((p) => p.spanId === consumer.parentSpanId);
      assert.ok(producer, 'the consumer span continues a producer span from the message headers');
      assert.equal(consumer.attributes['imgpipe.job.id'], producer.attributes['messaging.message.id']);
      assert.equal(consumer.status.code, OtlpStatusCode.UNSET);
    }
  });

  it('puts download, transform and write under each handle_task, with bytes, dimensions and the job id', () => {
    const server = only(spans, (span) => span.name === 'POST /enqueue');
    const consumers = spans.filter((span) => span.traceId === server.traceId && span.name === 'handle_task');
    for (const consumer of consumers) {
      const jobId = consumer.attributes['imgpipe.job.id'];
      const step = (name: string) => only(spans, (span) => span.name === name && span.parentSpanId === consumer.spanId);
      const download = step('download');
      const transform = step('transform');
      const write = step('write');
      for (const span of [download, transform, write]) {
        assert.equal(span.traceId, consumer.traceId);
        assert.equal(span.serviceName, 'worker');
        assert.equal(span.attributes['imgpipe.job.id'], jobId);
      }
      assert.ok(Number(download.attributes['imgpipe.download.bytes']) > 1_000, `download bytes of job ${jobId}`);
      assert.equal(download.attributes['imgpipe.download.content_type'], 'image/jpeg');
      assert.deepEqual(
        [transform.attributes['imgpipe.input.width'], transform.attributes['imgpipe.input.height']],
        [1024, 768],
      );
      assert.deepEqual(
        [transform.attributes['imgpipe.output.width'], transform.attributes['imgpipe.output.height']],
        [400, 300],
      );
      assert.ok(Number(write.attributes['imgpipe.output.bytes']) > 0);
      assert.equal(write.attributes['imgpipe.output.key'], `${jobId}.jpg`);
    }
  });

  it('keeps every span of one job in the trace of the request that made it', () => {
    for (const jobId of [...TABLE_JOBS, GOOD_TASK, MISSING_TASK]) {
      const ofJob = spans.filter((span) => span.attributes['imgpipe.job.id'] === jobId || span.attributes['messaging.message.id'] === jobId);
      assert.ok(ofJob.length >= 2, `spans of job ${jobId}: ${describeSpans(ofJob)}`);
      assert.equal(new Set(ofJob.map((span) => span.traceId)).size, 1, `job ${jobId} spans one trace: ${describeSpans(ofJob)}`);
    }
  });

  it('traces a POST /tasks job from the request to the written thumbnail', () => {
    const consumer = only(spans, (span) => span.name === 'handle_task' && span.attributes['imgpipe.job.id'] === GOOD_TASK);
    const trace = spans.filter((span) => span.traceId === consumer.traceId);
    const server = only(trace, (span) => span.kind === OtlpSpanKind.SERVER && span.name === 'POST /tasks');
    assertConnected(trace, server);
    assert.ok(trace.some((span) => span.name === 'write' && span.parentSpanId === consumer.spanId));
  });

  it('marks the dead-lettered job as an error, with the exception and the error code', () => {
    const consumer = only(spans, (span) => span.name === 'handle_task' && span.attributes['imgpipe.job.id'] === MISSING_TASK);
    const trace = spans.filter((span) => span.traceId === consumer.traceId);
    const server = only(trace, (span) => span.kind === OtlpSpanKind.SERVER && span.name === 'POST /tasks');
    assertConnected(trace, server);

    assert.equal(consumer.status.code, OtlpStatusCode.ERROR);
    assert.ok(consumer.events.some((event) => event.name === 'exception'), 'handle_task records the exception');
    assert.equal(consumer.attributes['imgpipe.error.code'], 'HTTP_404');
    assert.equal(consumer.attributes['imgpipe.outcome'], 'dead-lettered');

    const download = only(trace, (span) => span.name === 'download' && span.parentSpanId === consumer.spanId);
    assert.equal(download.status.code, OtlpStatusCode.ERROR);
    const exception = download.events.find((event) => event.name === 'exception');
    assert.ok(exception, 'download records the exception');
    assert.match(String(exception.attributes['exception.message']), /404/);
    assert.ok(!trace.some((span) => span.name === 'transform' || span.name === 'write'), 'nothing ran after the failed download');
  });

  async function postTask(body: object): Promise<Response> {
    return fetch(`${apiUrl}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }
});

function settled(message: string, jobId: string): (line: LogLine) => boolean {
  return (line) => line.msg === message && line.jobId === jobId;
}

function only(spans: readonly ReceivedSpan[], predicate: (span: ReceivedSpan) => boolean): ReceivedSpan {
  const found = spans.filter(predicate);
  assert.equal(found.length, 1, `expected exactly one matching span among: ${describeSpans(spans)}`);
  return found[0]!;
}

/** Every span of the trace hangs, through its parents, from `root`. */
function assertConnected(trace: readonly ReceivedSpan[], root: ReceivedSpan): void {
  assert.equal(root.parentSpanId, undefined, `${root.name} is the root of its trace`);
  const ids = new Set(trace.map((span) => span.spanId));
  for (const span of trace) {
    if (span === root) continue;
    assert.ok(span.parentSpanId && ids.has(span.parentSpanId), `${span.serviceName}/${span.name} has its parent in the trace`);
  }
}

function describeSpans(spans: readonly ReceivedSpan[]): string {
  return spans.map((span) => `${span.serviceName}/${span.name}(kind ${span.kind}, ${span.traceId.slice(0, 8)})`).join(', ');
}
