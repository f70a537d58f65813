// The real Lambda entry: dist/lambda.mjs imported in its own process and invoked
// as the Lambda runtime would (test/support/lambda-runtime.mjs), on the real
// Postgres and RabbitMQ, with API Gateway REST (v1) and HTTP API (v2) events.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { deriveJobId } from '#functions/job.ts';
import { httpApiEvent, restApiEvent, type RequestSpec } from '#test/support/api-gateway-events.ts';
import { taskBody } from '#test/support/http-app-harness.ts';
import { startLambdaProcess, type LambdaProcess } from '#test/support/lambda-process.ts';
import { OtlpSpanKind, startOtlpReceiver, type OtlpReceiver } from '#test/support/otlp-receiver.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/pg-database.ts';
import { createTestVhost, type TestVhost } from '#test/support/rabbit-vhost.ts';
import { createTcpProxy, type TcpProxy } from '#test/support/tcp-proxy.ts';

const BUNDLE = 'dist/lambda.mjs';
const QUEUE = 'images.q';
// An hour: spans could only leave between invocations through the per-invocation flush.
const BATCH_DELAY_MS = '3600000';

const payloads: Array<{ name: string; slug: string; event: (spec: RequestSpec) => Record<string, unknown> }> = [
  { name: 'REST API (v1)', slug: 'v1', event: restApiEvent },
  { name: 'HTTP API (v2)', slug: 'v2', event: httpApiEvent },
];

interface QueuedJob {
  id: string;
  url: string;
  ops: string[];
}

/** Takes every message waiting in the queue, oldest first. */
async function takeQueued(channel: Channel): Promise<QueuedJob[]> {
  const jobs: QueuedJob[] = [];
  for (let message = await channel.get(QUEUE, { noAck: true }); message; message = await channel.get(QUEUE, { noAck: true })) {
    jobs.push(JSON.parse(message.content.toString('utf8')) as QueuedJob);
  }
  return jobs;
}

function json(body: string): Record<string, unknown> {
  return JSON.parse(body) as Record<string, unknown>;
}

describe('dist/lambda.mjs in its own process, on Postgres and RabbitMQ', () => {
  let database: TestDatabase;
  let vhost: TestVhost;
  let receiver: OtlpReceiver;
  let lambda: LambdaProcess;
  let broker: ChannelModel;
  let channel: Channel;

  before(async () => {
    database = await createTestDatabase();
    vhost = await createTestVhost();
    receiver = await startOtlpReceiver();
    lambda = startLambdaProcess(BUNDLE, {
      DATABASE_URL: database.url,
      RABBIT_URL: vhost.url,
      OTEL_SDK_DISABLED: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.baseUrl,
      OTEL_BSP_SCHEDULE_DELAY: BATCH_DELAY_MS,
    });
    broker = await amqp.connect(vhost.url);
    channel = await broker.createChannel();
  });

  after(async () => {
    await broker?.close();
    await lambda?.stop();
    await receiver?.close();
    await database?.drop();
    await vhost?.delete();
  });

  for (const payload of payloads) {
    it(`${payload.name}: GET /healthz answers 200 with the database and the broker up`, async () => {
      const response = await lambda.invoke(payload.event({ method: 'GET', path: '/healthz' }));

      assert.equal(response.statusCode, 200);
      assert.deepEqual(json(response.body), { ok: true, checks: { database: 'up', broker: 'up' } });
    });

    it(`${payload.name}: POST /tasks answers 202 with the job id, and the job waits in ${QUEUE}`, async () => {
      const body = taskBody({ url: `https://images.test/lambda/${payload.slug}.jpg` });

      const response = await lambda.invoke(payload.event({ method: 'POST', path: '/tasks', body }));

      const id = deriveJobId(body.url as string, ['thumbnail']);
      assert.equal(response.statusCode, 202);
      assert.deepEqual(json(response.body), { id });
      assert.deepEqual(await takeQueued(channel), [{ id, url: body.url, ops: ['thumbnail'] }]);
    });

    it(`${payload.name}: POST /enqueue?limit=3 queues three pending rows and marks them enqueued`, async () => {
      const response = await lambda.invoke(payload.event({ method: 'POST', path: '/enqueue', query: { limit: '3' } }));

      const queued = await takeQueued(channel);
      const marked = await database.query<{ url: string }>(
        `SELECT url FROM images WHERE enqueued_at > now() - interval '1 hour' AND url = ANY($1::text[])`,
        [queued.map((job) => job.url)],
      );
      assert.equal(response.statusCode, 200);
      assert.deepEqual(json(response.body), { enqueued: 3 });
      assert.equal(queued.length, 3);
      assert.equal(new Set(queued.map((job) => job.id)).size, 3, 'three distinct jobs');
      assert.deepEqual(marked.map((row) => row.url).sort(), queued.map((job) => job.url).sort());
    });
  }

  it('has exported the spans of an invocation by the time it returns, with an hour-long batch delay', async () => {
    const body = taskBody({ url: 'https://images.test/lambda/traced.jpg' });
    const before = receiver.spans.length;

    const response = await lambda.invoke(httpApiEvent({ method: 'POST', path: '/tasks', body }));

    // No waiting: the handler resolves only after the flush reached the receiver.
    const arrived = receiver.spans.slice(before);
    const server = arrived.find((span) => span.kind === OtlpSpanKind.SERVER && span.name === 'POST /tasks');
    const producer = arrived.find((span) => span.kind === OtlpSpanKind.PRODUCER);
    assert.equal(response.statusCode, 202);
    assert.ok(server, `a server span for POST /tasks; arrived: ${arrived.map((span) => span.name).join(', ') || 'none'}`);
    assert.ok(producer, 'a producer span for the publish');
    assert.equal(server.serviceName, 'api');
    assert.equal(producer.traceId, server.traceId, 'the publish belongs to the request trace');
    await takeQueued(channel);
  });
});

describe('dist/lambda.mjs first invoked while Postgres and RabbitMQ are unreachable', () => {
  let database: TestDatabase;
  let vhost: TestVhost;
  let postgresProxy: TcpProxy;
  let rabbitProxy: TcpProxy;
  let lambda: LambdaProcess;

  before(async () => {
    database = await createTestDatabase();
    vhost = await createTestVhost();
    postgresProxy = await createTcpProxy(5432);
    rabbitProxy = await createTcpProxy(5672);
    const databaseUrl = new URL(database.url);
    databaseUrl.port = String(postgresProxy.port);
    const rabbitUrl = new URL(vhost.url);
    rabbitUrl.port = String(rabbitProxy.port);
    lambda = startLambdaProcess(BUNDLE, { DATABASE_URL: databaseUrl.href, RABBIT_URL: rabbitUrl.href });
  });

  after(async () => {
    await lambda?.stop();
    await postgresProxy?.stop();
    await rabbitProxy?.stop();
    await database?.drop();
    await vhost?.delete();
  });

  it('answers 503 naming both, then serves from the same process once they answer', async () => {
    const body = taskBody({ url: 'https://images.test/lambda/after-outage.jpg' });

    const downHealth = await lambda.invoke(httpApiEvent({ method: 'GET', path: '/healthz' }));
    const downTask = await lambda.invoke(httpApiEvent({ method: 'POST', path: '/tasks', body }));
    await postgresProxy.start();
    await rabbitProxy.start();
    const upHealth = await lambda.invoke(httpApiEvent({ method: 'GET', path: '/healthz' }));
    const upTask = await lambda.invoke(restApiEvent({ method: 'POST', path: '/tasks', body }));

    const checks = json(downHealth.body).checks as Record<string, string>;
    assert.equal(downHealth.statusCode, 503);
    assert.match(checks.database ?? '', /^down/);
    assert.match(checks.broker ?? '', /^down/);
    assert.equal(downTask.statusCode, 503);
    assert.equal(json(downTask.body).error, 'BROKER_UNAVAILABLE');
    assert.equal(upHealth.statusCode, 200, upHealth.body);
    assert.equal(upTask.statusCode, 202, upTask.body);
    const broker = await amqp.connect(vhost.url);
    try {
      const queued = await takeQueued(await broker.createChannel());
      assert.deepEqual(queued.map((job) => job.url), [body.url]);
    } finally {
      await broker.close();
    }
    assert.equal(lambda.child.exitCode, null, 'the same process served throughout');
  });
});
