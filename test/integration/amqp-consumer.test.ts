import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import amqp, { type Channel, type ChannelModel, type GetMessage, type Options } from 'amqplib';
import sharp from 'sharp';
import { AmqpConsumer, type AmqpConsumerConfig } from '#adapters/amqp/amqp-consumer.ts';
import { attemptOf } from '#adapters/amqp/amqp-settler.ts';
import type { SettledJob } from '#adapters/jobs/dispatcher.ts';
import { AmqpPublisher } from '#adapters/amqp/amqp-publisher.ts';
import { TransientError } from '#functions/errors.ts';
import type { Job } from '#functions/job.ts';
import type { FetchedImage, ImageFetcher } from '#functions/ports.ts';
import type { ProcessImageDeps } from '#functions/process-image.ts';
import { MemoryFetcher } from '#test/fakes/memory-fetcher.ts';
import { MemoryImagesRepo } from '#test/fakes/memory-images-repo.ts';
import { MemoryStore } from '#test/fakes/memory-store.ts';
import { MemoryLogger } from '#test/fakes/support.ts';
import { closeVhostConnections } from '#test/support/rabbit-admin.ts';
import { createTestVhost, type TestVhost } from '#test/support/rabbit-vhost.ts';
import { topologyConfig } from '#test/support/topology-config.ts';
import { waitUntil } from '#test/support/wait-until.ts';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

let jpeg: Uint8Array;

function jobFor(n: number): Job {
  return { id: String(n), url: `http://images.test/seed/${n}.jpg`, ops: ['thumbnail'] };
}

function jobs(count: number): Job[] {
  return Array.from({ length: count }, (_, index) => jobFor(index + 1));
}

/** Fresh names per test, so no test sees another's messages. */
function consumerConfig(overrides: Partial<AmqpConsumerConfig> = {}): AmqpConsumerConfig {
  const prefix = `t${randomBytes(3).toString('hex')}`;
  return {
    ...topologyConfig({ exchange: prefix, queue: `${prefix}.q`, dlx: `${prefix}.dlx`, dlq: `${prefix}.dlx.q` }),
    prefetch: 16,
    concurrency: 8,
    ...overrides,
  };
}

/** A fetcher that holds every download until opened (honouring abort), and records how many ran at once. */
class BlockingFetcher implements ImageFetcher {
  active = 0;
  peak = 0;
  finished = 0;
  #open = false;
  readonly #gate = new Set<() => void>();

  async fetch(_url: string, signal: AbortSignal): Promise<FetchedImage> {
    this.active += 1;
    this.peak = Math.max(this.peak, this.active);
    try {
      if (!this.#open) {
        await new Promise<void>((resolve, reject) => {
          const release = () => {
            this.#gate.delete(release);
            resolve();
          };
          this.#gate.add(release);
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      }
      this.finished += 1;
      return { bytes: jpeg, contentType: 'image/jpeg' };
    } finally {
      this.active -= 1;
    }
  }

  open(): void {
    this.#open = true;
    for (const release of [...this.#gate]) release();
  }
}

/** A fetcher that fails with a transient error a given number of times, then serves the image; notes when it was called. */
class FlakyFetcher implements ImageFetcher {
  readonly calls: number[] = [];
  constructor(private failures: number) {}

  async fetch(url: string): Promise<FetchedImage> {
    this.calls.push(Date.now());
    if (this.failures > 0) {
      this.failures -= 1;
      throw new TransientError('HTTP_503', `GET ${url} answered 503`);
    }
    return { bytes: jpeg, contentType: 'image/jpeg' };
  }
}

describe('AmqpConsumer', () => {
  let vhost: TestVhost;
  let connection: ChannelModel | undefined;
  let channel: Channel;
  const closers: Array<() => Promise<void>> = [];

  before(async () => {
    jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3080c0' } }).jpeg().toBuffer();
    vhost = await createTestVhost();
  });

  after(async () => {
    await vhost?.delete();
  });

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await connection?.close().catch(() => {});
    connection = undefined;
  });

  async function inspector(): Promise<Channel> {
    connection = await amqp.connect(vhost.url);
    channel = await connection.createChannel();
    channel.on('error', () => {});
    return channel;
  }

  interface Harness {
    readonly consumer: AmqpConsumer;
    readonly config: AmqpConsumerConfig;
    readonly store: MemoryStore;
    readonly images: MemoryImagesRepo;
    readonly settled: SettledJob[];
    readonly log: MemoryLogger;
    readonly publisher: AmqpPublisher;
    readonly inspect: Channel;
  }

  async function startConsumer(
    fetcher: ImageFetcher,
    options: { config?: Partial<AmqpConsumerConfig>; drainTimeoutMs?: number; rows?: readonly Job[] } = {},
  ): Promise<Harness> {
    const config = consumerConfig(options.config);
    const store = new MemoryStore();
    const images = new MemoryImagesRepo(options.rows ?? []);
    const settled: SettledJob[] = [];
    const log = new MemoryLogger();
    const deps: ProcessImageDeps = {
      fetcher,
      store,
      images,
      clock: { now: () => Date.now() },
      thumbnail: { size: 32, maxInputPixels: 100_000_000 },
    };
    const consumer = new AmqpConsumer({
      url: vhost.url,
      config,
      deps,
      log,
      drainTimeoutMs: options.drainTimeoutMs ?? 5_000,
      reconnectMaxDelayMs: 200,
      onSettled: (event) => settled.push(event),
    });
    closers.push(() => consumer.close());
    await consumer.start();
    const publisher = new AmqpPublisher({ url: vhost.url, config, log });
    closers.push(() => publisher.close());
    return { consumer, config, store, images, settled, log, publisher, inspect: await inspector() };
  }

  function publishRaw(harness: Harness, body: string, properties: Options.Publish = {}): void {
    harness.inspect.publish(harness.config.exchange, harness.config.routingKey, Buffer.from(body), {
      persistent: true,
      contentType: 'application/json',
      ...properties,
    });
  }

  function nextDeadLetter(harness: Harness): Promise<GetMessage> {
    return waitUntil('a dead-lettered message', async () => harness.inspect.get(harness.config.dlq, { noAck: true }), 10_000, 20);
  }

  async function readyCount(harness: Harness, queue = harness.config.queue): Promise<number> {
    return (await harness.inspect.checkQueue(queue)).messageCount;
  }

  it('consumes once started and acks the jobs it wrote', async () => {
    const fetcher = new MemoryFetcher();
    for (const job of jobs(5)) fetcher.serve(job.url, jpeg);
    const harness = await startConsumer(fetcher, { rows: jobs(5) });
    assert.equal(harness.consumer.consuming, true);

    await harness.publisher.publish(jobs(5));

    await waitUntil('5 thumbnails', async () => harness.settled.length === 5, 10_000, 20);
    assert.deepEqual([...harness.store.objects.keys()].sort(), ['1.jpg', '2.jpg', '3.jpg', '4.jpg', '5.jpg']);
    assert.ok(harness.settled.every((event) => event.settlement.outcome === 'written' && event.attempt === 1));
    assert.ok([...harness.images.rows.values()].every((row) => row.processed));
    await harness.consumer.close();
    assert.equal(await readyCount(harness), 0, 'nothing went back to the queue');
    assert.equal(await readyCount(harness, harness.config.dlq), 0);
  });

  it('acks a job whose output already exists without downloading it', async () => {
    const fetcher = new MemoryFetcher();
    const harness = await startConsumer(fetcher);
    await harness.store.putIfAbsent('9.jpg', jpeg, 'image/jpeg');

    await harness.publisher.publish([jobFor(9)]);

    await waitUntil('the job to settle', async () => harness.settled.length === 1, 10_000, 20);
    const [event] = harness.settled;
    assert.equal(event?.settlement.outcome, 'skipped');
    assert.deepEqual(fetcher.requested, []);
  });

  it('dead-letters a permanent failure once, with the reason in headers and the original body', async () => {
    const fetcher = new MemoryFetcher(); // serves nothing: every URL is a 404
    const harness = await startConsumer(fetcher, { rows: [jobFor(404)] });
    const body = JSON.stringify(jobFor(404));

    publishRaw(harness, body, { messageId: '404', headers: { traceparent: TRACEPARENT } });

    const dead = await nextDeadLetter(harness);
    assert.equal(dead.content.toString(), body);
    assert.equal(dead.properties.messageId, '404');
    assert.equal(dead.properties.contentType, 'application/json');
    assert.equal(dead.properties.deliveryMode, 2);
    assert.equal(dead.properties.headers?.['x-error-code'], 'HTTP_404');
    assert.match(String(dead.properties.headers?.['x-error-message']), /404/);
    assert.equal(dead.properties.headers?.['x-attempts'], 1);
    assert.equal(String(dead.properties.headers?.traceparent), TRACEPARENT);
    assert.deepEqual(fetcher.requested, [jobFor(404).url]);
    assert.equal(harness.images.rows.get('404')?.failure?.code, 'HTTP_404');
    await harness.consumer.close();
    assert.equal(await readyCount(harness), 0);
    assert.equal(await readyCount(harness, harness.config.dlq), 0, 'dead-lettered exactly once');
  });

  it('retries a transient failure after the delay with x-attempts growing, then dead-letters it after MAX_ATTEMPTS', async () => {
    const fetcher = new FlakyFetcher(Number.POSITIVE_INFINITY);
    const harness = await startConsumer(fetcher, { config: { maxAttempts: 3, retryBaseMs: 50 } });
    const body = JSON.stringify(jobFor(503));

    publishRaw(harness, body, { messageId: '503', headers: { traceparent: TRACEPARENT, 'x-origin': 'test' } });

    const dead = await nextDeadLetter(harness);
    // The copy is confirmed before the original is acked and the settlement reported.
    await waitUntil('the third settlement', async () => harness.settled.length === 3, 10_000, 10);
    assert.deepEqual(
      harness.settled.map((event) => [event.attempt, event.settlement.outcome]),
      [
        [1, 'retried'],
        [2, 'retried'],
        [3, 'dead-lettered'],
      ],
    );
    const [first, second, third] = fetcher.calls as [number, number, number];
    assert.ok(second - first >= 45, `second attempt ${second - first} ms after the first`);
    assert.ok(third - second >= 95, `third attempt ${third - second} ms after the second`);
    assert.equal(dead.content.toString(), body);
    assert.equal(dead.properties.messageId, '503');
    assert.equal(dead.properties.headers?.['x-error-code'], 'HTTP_503');
    assert.equal(dead.properties.headers?.['x-attempts'], 3);
    assert.equal(String(dead.properties.headers?.traceparent), TRACEPARENT);
    assert.equal(String(dead.properties.headers?.['x-origin']), 'test');
  });

  it('writes the thumbnail on a later attempt when an earlier one failed transiently', async () => {
    const fetcher = new FlakyFetcher(1);
    const harness = await startConsumer(fetcher, { rows: [jobFor(7)] });

    await harness.publisher.publish([jobFor(7)]);

    await waitUntil('the job to be written', async () => harness.store.objects.has('7.jpg'), 10_000, 20);
    assert.deepEqual(harness.settled.map((event) => [event.attempt, event.settlement.outcome]), [
      [1, 'retried'],
      [2, 'written'],
    ]);
    assert.equal(harness.images.rows.get('7')?.processed, true);
    await harness.consumer.close();
    assert.equal(await readyCount(harness, harness.config.dlq), 0);
  });

  it('dead-letters a body that is not JSON with INVALID_INPUT', async () => {
    const harness = await startConsumer(new MemoryFetcher());

    publishRaw(harness, '{not json', { messageId: 'broken' });

    const dead = await nextDeadLetter(harness);
    assert.equal(dead.content.toString(), '{not json');
    assert.equal(dead.properties.headers?.['x-error-code'], 'INVALID_INPUT');
    assert.match(String(dead.properties.headers?.['x-error-message']), /JSON/);
    assert.equal(dead.properties.headers?.['x-attempts'], 1);
    assert.equal(harness.settled.length, 1);
  });

  it('dead-letters a job with an unknown op without retrying it', async () => {
    const fetcher = new MemoryFetcher();
    const harness = await startConsumer(fetcher);

    publishRaw(harness, JSON.stringify({ id: '5', url: 'http://images.test/5.jpg', ops: ['sepia'] }), { messageId: '5' });

    const dead = await nextDeadLetter(harness);
    assert.equal(dead.properties.headers?.['x-error-code'], 'INVALID_INPUT');
    assert.deepEqual(fetcher.requested, []);
  });

  it('never runs more than CONCURRENCY jobs at once, and holds at most PREFETCH unacked', async () => {
    const fetcher = new BlockingFetcher();
    const harness = await startConsumer(fetcher, { config: { concurrency: 3, prefetch: 6 } });

    await harness.publisher.publish(jobs(30));
    await waitUntil('3 jobs running', async () => fetcher.active === 3, 10_000, 10);
    // Every prefetched message has left the broker: 6 held, 3 of them waiting for a slot.
    await waitUntil('the prefetch to fill', async () => (await readyCount(harness)) === 24, 10_000, 10);

    assert.equal(fetcher.peak, 3);
    assert.equal(harness.consumer.running, 3);
    assert.equal(await readyCount(harness), 24, 'prefetch 6: the other 24 wait on the broker');
    fetcher.open();
    await waitUntil('30 thumbnails', async () => harness.store.objects.size === 30, 20_000, 20);
    assert.equal(fetcher.peak, 3);
  });

  it('close() stops intake at once, waits for running jobs, and acks them', async () => {
    const fetcher = new BlockingFetcher();
    const harness = await startConsumer(fetcher, { config: { concurrency: 2, prefetch: 4 } });
    await harness.publisher.publish(jobs(6));
    await waitUntil('2 jobs running', async () => fetcher.active === 2, 10_000, 10);

    let closed = false;
    const closing = harness.consumer.close().then(() => {
      closed = true;
    });
    // Intake has stopped once the two messages not started are back on the broker.
    await waitUntil('the waiting messages handed back', async () => (await readyCount(harness)) === 4, 10_000, 10);
    assert.equal(harness.consumer.consuming, false);
    assert.equal(closed, false, 'close() waits for the running jobs');
    fetcher.open();
    await closing;

    assert.deepEqual([...harness.store.objects.keys()].sort(), ['1.jpg', '2.jpg']);
    assert.deepEqual(harness.settled.map((event) => event.settlement.outcome), ['written', 'written']);
    await waitUntil('the jobs not started back on the queue', async () => (await readyCount(harness)) === 4, 5_000, 20);
    await harness.consumer.close();
  });

  it('close() aborts jobs still running after the drain timeout and hands their messages back', async () => {
    const fetcher = new BlockingFetcher();
    const harness = await startConsumer(fetcher, { config: { concurrency: 2, prefetch: 2 }, drainTimeoutMs: 100 });
    await harness.publisher.publish(jobs(2));
    await waitUntil('2 jobs running', async () => fetcher.active === 2, 10_000, 10);

    await harness.consumer.close();

    assert.deepEqual(harness.settled.map((event) => event.settlement.outcome), ['released', 'released']);
    assert.equal(fetcher.finished, 0);
    // A quorum queue makes a requeued message ready once its log has it, a moment after the nack.
    await waitUntil('both messages back on the queue', async () => (await readyCount(harness)) === 2, 5_000, 20);
    assert.equal(await readyCount(harness, harness.config.dlq), 0);
  });

  it('reconnects and consumes again after the broker dropped its connection', async () => {
    const fetcher = new MemoryFetcher().serve(jobFor(1).url, jpeg);
    const harness = await startConsumer(fetcher);

    await closeVhostConnections(vhost.name);
    await waitUntil('the consumer to notice', async () => !harness.consumer.consuming, 10_000, 10);
    await waitUntil('the consumer to consume again', async () => harness.consumer.consuming, 10_000, 20);
    const inspect = await inspector();
    inspect.publish(harness.config.exchange, harness.config.routingKey, Buffer.from(JSON.stringify(jobFor(1))), { messageId: '1' });

    await waitUntil('the job after reconnecting', async () => harness.store.objects.has('1.jpg'), 10_000, 20);
  });

  it('moves a message that came back unsettled to the suspect queue and runs it from there', async () => {
    const fetcher = new BlockingFetcher();
    const harness = await startConsumer(fetcher, { config: { concurrency: 1, prefetch: 1 } });
    await harness.publisher.publish(jobs(1));
    await waitUntil('the job running', async () => fetcher.active === 1, 10_000, 10);

    await closeVhostConnections(vhost.name);
    await waitUntil('the message moved', async () => harness.log.lines.some((line) => line.message === 'came back unsettled: moved to the suspect queue'), 10_000, 20);
    fetcher.open();

    await waitUntil('both runs settled', async () => harness.settled.length === 2, 10_000, 20);
    assert.deepEqual(harness.settled.map((event) => event.settlement.outcome).sort(), ['skipped', 'written']);
    assert.ok(harness.store.objects.has('1.jpg'));
    const inspect = await inspector();
    for (const queue of [harness.config.queue, `${harness.config.queue}.suspect`, harness.config.dlq]) {
      assert.equal((await inspect.checkQueue(queue)).messageCount, 0, `messages left in ${queue}`);
    }
  });

  it('can be closed twice, and closed before it ever consumed', async () => {
    const harness = await startConsumer(new MemoryFetcher());

    await Promise.all([harness.consumer.close(), harness.consumer.close()]);
    await harness.consumer.close();

    assert.equal(harness.consumer.consuming, false);
    const never = new AmqpConsumer({ url: vhost.url, config: consumerConfig(), deps: {} as ProcessImageDeps, log: new MemoryLogger() });
    await never.close();
    assert.equal(never.consuming, false);
  });
});

describe('attemptOf', () => {
  it('is 1 for a fresh message', () => {
    assert.equal(attemptOf(undefined), 1);
    assert.equal(attemptOf({}), 1);
  });

  it('is one more than the failed attempts carried in x-attempts', () => {
    assert.equal(attemptOf({ 'x-attempts': 2 }), 3);
    assert.equal(attemptOf({ 'x-attempts': '4' }), 5);
  });

  it('ignores an x-attempts that is not a count', () => {
    assert.equal(attemptOf({ 'x-attempts': 'many' }), 1);
    assert.equal(attemptOf({ 'x-attempts': -3 }), 1);
  });
});
