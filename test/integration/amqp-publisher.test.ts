import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { AmqpPublisher } from '#adapters/amqp/amqp-publisher.ts';
import { TransientError } from '#functions/errors.ts';
import type { Job } from '#functions/job.ts';
import { MemoryLogger } from '#test/fakes/support.ts';
import { freePort } from '#test/support/free-port.ts';
import { closeVhostConnections } from '#test/support/rabbit-admin.ts';
import { createTestVhost, type TestVhost } from '#test/support/rabbit-vhost.ts';
import { topologyConfig } from '#test/support/topology-config.ts';
import { waitUntil } from '#test/support/wait-until.ts';

const CONFIG = topologyConfig();

function jobFor(n: number): Job {
  return { id: String(n), url: `http://images.test/seed/${n}.jpg`, ops: ['thumbnail'] };
}

function jobs(count: number): Job[] {
  return Array.from({ length: count }, (_, index) => jobFor(index + 1));
}

describe('AmqpPublisher', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let vhost: TestVhost;
  let connection: ChannelModel | undefined;
  let channel: Channel;
  const publishers: AmqpPublisher[] = [];

  before(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
    vhost = await createTestVhost();
  });

  after(async () => {
    await connection?.close().catch(() => {});
    await vhost?.delete();
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  });

  afterEach(async () => {
    for (const publisher of publishers.splice(0)) await publisher.close();
    exporter.reset();
    // A fresh inspecting channel per test: some tests close connections on purpose.
    await connection?.close().catch(() => {});
    connection = undefined;
  });

  function makePublisher(url = vhost.url, log = new MemoryLogger()): AmqpPublisher {
    const publisher = new AmqpPublisher({ url, config: CONFIG, log });
    publishers.push(publisher);
    return publisher;
  }

  async function inspector(): Promise<Channel> {
    connection = await amqp.connect(vhost.url);
    channel = await connection.createChannel();
    channel.on('error', () => {});
    await channel.purgeQueue(CONFIG.queue).catch(() => {});
    return channel;
  }

  it('publishes 300 jobs, confirmed, and all 300 are in the queue', async () => {
    const publisher = makePublisher();
    await publisher.ping(); // connects and declares the topology, so the inspector finds the queue
    const inspect = await inspector();

    await publisher.publish(jobs(300));

    const { messageCount } = await inspect.checkQueue(CONFIG.queue);
    assert.equal(messageCount, 300);
  });

  it('sends persistent JSON messages with the job id as messageId and the trace context in the headers', async () => {
    const publisher = makePublisher();
    const inspect = await inspector();
    const parent = trace.getTracer('test').startSpan('POST /tasks');

    await context.with(trace.setSpan(context.active(), parent), () => publisher.publish([jobFor(42)]));
    parent.end();

    const message = await waitUntil('the message', async () => inspect.get(CONFIG.queue, { noAck: true }), 5_000, 20);
    assert.deepEqual(JSON.parse(message.content.toString()), jobFor(42));
    assert.equal(message.properties.messageId, '42');
    assert.equal(message.properties.contentType, 'application/json');
    assert.equal(message.properties.deliveryMode, 2);
    assert.equal(message.fields.exchange, 'images');
    assert.equal(message.fields.routingKey, 'process_image');
    const [producer] = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.PRODUCER);
    assert.ok(producer, 'a producer span');
    assert.equal(producer.spanContext().traceId, parent.spanContext().traceId);
    const traceparent = String(message.properties.headers?.traceparent);
    assert.equal(traceparent, `00-${producer.spanContext().traceId}-${producer.spanContext().spanId}-01`);
  });

  it('declares the topology as a second publisher would, without disturbing the first', async () => {
    const first = makePublisher();
    const second = makePublisher();
    const inspect = await inspector();

    await first.publish([jobFor(1)]);
    await second.publish([jobFor(2)]);
    await first.publish([jobFor(3)]);

    assert.equal((await inspect.checkQueue(CONFIG.queue)).messageCount, 3);
  });

  it('rejects with UNROUTABLE when no queue is bound, and ends the producer spans with an error', async () => {
    const publisher = makePublisher();
    await publisher.ping();
    const inspect = await inspector();
    await inspect.unbindQueue(CONFIG.queue, CONFIG.exchange, CONFIG.routingKey);

    try {
      await assert.rejects(publisher.publish(jobs(3)), (error: unknown) => {
        assert.ok(error instanceof TransientError);
        assert.equal(error.code, 'UNROUTABLE');
        return true;
      });
    } finally {
      await inspect.bindQueue(CONFIG.queue, CONFIG.exchange, CONFIG.routingKey);
    }
    const spans = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.PRODUCER);
    assert.equal(spans.length, 3);
    assert.ok(spans.every((span) => span.status.code === SpanStatusCode.ERROR));
  });

  it('rejects with PUBLISH_REFUSED when the broker nacks a message', async () => {
    const publisher = makePublisher();
    await publisher.ping();
    const inspect = await inspector();
    // A full queue that refuses publishes makes the broker nack whatever is routed to it.
    await inspect.assertQueue('full.q', { durable: false, arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });
    await inspect.bindQueue('full.q', CONFIG.exchange, CONFIG.routingKey);

    try {
      await assert.rejects(publisher.publish([jobFor(7)]), (error: unknown) => {
        assert.ok(error instanceof TransientError);
        assert.equal(error.code, 'PUBLISH_REFUSED');
        return true;
      });
    } finally {
      await inspect.deleteQueue('full.q');
    }
  });

  it('publishes a batch larger than the channel write buffer (1024 frames), every message confirmed once, every span ended', async () => {
    const publisher = makePublisher();
    await publisher.ping();
    const inspect = await inspector();

    await publisher.publish(jobs(3000));

    assert.equal((await inspect.checkQueue(CONFIG.queue)).messageCount, 3000);
    const spans = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.PRODUCER);
    assert.equal(spans.length, 3000);
    assert.equal(new Set(spans.map((span) => span.attributes['messaging.message.id'])).size, 3000);
    assert.ok(spans.every((span) => span.status.code === SpanStatusCode.UNSET));
  });

  it('rejects a batch when the broker nacks part of it, after every message settled, failing only the refused spans', async () => {
    const publisher = makePublisher();
    await publisher.ping();
    const inspect = await inspector();
    // Routed to both queues, a message is nacked once the small one is full: the first two pass.
    await inspect.assertQueue('two.q', { durable: false, arguments: { 'x-max-length': 2, 'x-overflow': 'reject-publish' } });
    await inspect.bindQueue('two.q', CONFIG.exchange, CONFIG.routingKey);

    try {
      await assert.rejects(publisher.publish(jobs(5)), (error: unknown) => error instanceof TransientError && error.code === 'PUBLISH_REFUSED');
    } finally {
      await inspect.deleteQueue('two.q');
    }
    const spans = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.PRODUCER);
    const statusById = Object.fromEntries(spans.map((span) => [span.attributes['messaging.message.id'], span.status.code]));
    assert.deepEqual(statusById, {
      1: SpanStatusCode.UNSET,
      2: SpanStatusCode.UNSET,
      3: SpanStatusCode.ERROR,
      4: SpanStatusCode.ERROR,
      5: SpanStatusCode.ERROR,
    });
  });

  it('reconnects on the next publish after the broker dropped its connection', async () => {
    const log = new MemoryLogger();
    const publisher = makePublisher(vhost.url, log);
    await publisher.publish([jobFor(1)]);

    await closeVhostConnections(vhost.name);
    await waitUntil('the dropped connection to be noticed', async () => {
      try {
        await publisher.publish([jobFor(2)]);
        return true;
      } catch {
        return false;
      }
    }, 10_000, 50);

    const inspect = await inspector();
    await publisher.publish([jobFor(3)]);
    assert.equal((await inspect.checkQueue(CONFIG.queue)).messageCount, 1);
    assert.ok(log.lines.some((line) => line.level === 'warn' && line.message?.includes('connection lost')));
  });

  it('pings while the broker answers', async () => {
    const publisher = makePublisher();

    await publisher.ping();
  });

  it('fails ping and publish when the broker is unreachable, naming the host but not the password', async () => {
    const port = await freePort();
    const publisher = makePublisher(`amqp://guest:s3cret@127.0.0.1:${port}/`);

    for (const attempt of [() => publisher.ping(), () => publisher.publish([jobFor(1)])]) {
      await assert.rejects(attempt(), (error: unknown) => {
        assert.ok(error instanceof TransientError);
        assert.equal(error.code, 'BROKER_UNAVAILABLE');
        assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
        assert.doesNotMatch(error.message, /s3cret/);
        return true;
      });
    }
  });

  it('can be closed twice, and refuses to publish once closed', async () => {
    const publisher = makePublisher();
    await publisher.ping();

    await publisher.close();
    await publisher.close();

    await assert.rejects(publisher.publish([jobFor(1)]), (error: unknown) => error instanceof TransientError && error.code === 'PUBLISHER_CLOSED');
  });

  it('publishes nothing and opens nothing for an empty batch', async () => {
    const port = await freePort();
    const publisher = makePublisher(`amqp://guest:guest@127.0.0.1:${port}/`);

    await publisher.publish([]);
  });
});
