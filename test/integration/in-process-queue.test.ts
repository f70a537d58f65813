import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import sharp from 'sharp';
import { PermanentError, TransientError } from '#functions/errors.ts';
import type { Job } from '#functions/job.ts';
import type { FetchedImage, ImageFetcher } from '#functions/ports.ts';
import { InProcessQueue, type InProcessQueueOptions } from '#adapters/host/in-process-queue.ts';
import { startTelemetry } from '#adapters/telemetry/start-telemetry.ts';
import { MemoryFetcher } from '#test/fakes/memory-fetcher.ts';
import { MemoryImagesRepo } from '#test/fakes/memory-images-repo.ts';
import { MemoryStore } from '#test/fakes/memory-store.ts';
import { FakeClock, MemoryLogger } from '#test/fakes/support.ts';

let jpeg: Uint8Array;

before(async () => {
  jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3080c0' } }).jpeg().toBuffer();
});

function jobFor(n: number): Job {
  return { id: String(n), url: `http://images.test/seed/${n}.jpg`, ops: ['thumbnail'] };
}

function jobs(count: number): Job[] {
  return Array.from({ length: count }, (_, index) => jobFor(index + 1));
}

/** A fetcher that holds every download until opened, and records how many ran at once. */
class GatedFetcher implements ImageFetcher {
  active = 0;
  peak = 0;
  calls = 0;
  #open = false;
  readonly #gate: Array<() => void> = [];
  readonly #watchers = new Set<() => void>();

  constructor(private readonly bytes: () => Uint8Array) {}

  async fetch(_url: string, signal: AbortSignal): Promise<FetchedImage> {
    this.calls += 1;
    this.active += 1;
    this.peak = Math.max(this.peak, this.active);
    for (const watch of this.#watchers) watch();
    try {
      if (!this.#open) {
        await new Promise<void>((resolve, reject) => {
          this.#gate.push(resolve);
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      }
      return { bytes: this.bytes(), contentType: 'image/jpeg' };
    } finally {
      this.active -= 1;
    }
  }

  open(): void {
    this.#open = true;
    for (const release of this.#gate.splice(0)) release();
  }

  /** Resolves once `count` downloads are waiting at the gate. */
  waitForActive(count: number): Promise<void> {
    return new Promise((resolve) => {
      const watch = () => {
        if (this.active < count) return;
        this.#watchers.delete(watch);
        // Let the queue finish its current turn before the test looks at it.
        setImmediate(resolve);
      };
      this.#watchers.add(watch);
      watch();
    });
  }
}

function makeQueue(fetcher: ImageFetcher, overrides: Partial<InProcessQueueOptions> = {}) {
  const store = new MemoryStore();
  const images = new MemoryImagesRepo(jobs(50).map(({ id, url }) => ({ id, url })));
  const log = new MemoryLogger();
  const queue = new InProcessQueue({
    destination: { exchange: 'images', routingKey: 'process_image' },
    prefetch: 16,
    concurrency: 8,
    maxAttempts: 5,
    retryBaseMs: 1,
    retryMaxMs: 10,
    log,
    ...overrides,
  });
  queue.consume({ fetcher, store, images, clock: new FakeClock(), thumbnail: { size: 32, maxInputPixels: 1e8 } });
  return { queue, store, images, log };
}

describe('InProcessQueue', () => {
  it('runs at most `concurrency` jobs at once and holds at most `prefetch` unsettled messages', async () => {
    // Prepare
    const fetcher = new GatedFetcher(() => jpeg);
    const { queue, store } = makeQueue(fetcher, { prefetch: 16, concurrency: 3 });

    // Act
    await queue.publish(jobs(40));
    await fetcher.waitForActive(3);
    const whileBlocked = queue.stats();
    fetcher.open();
    await queue.idle();

    // Assess
    assert.deepEqual(
      { running: whileBlocked.running, unacked: whileBlocked.unacked, ready: whileBlocked.ready },
      { running: 3, unacked: 16, ready: 24 },
    );
    assert.equal(fetcher.peak, 3);
    assert.equal(store.objects.size, 40);
    assert.equal(queue.stats().written, 40);
    await queue.close();
  });

  it('never runs more jobs than `prefetch` allows when prefetch is below concurrency', async () => {
    // Prepare
    const fetcher = new GatedFetcher(() => jpeg);
    const { queue } = makeQueue(fetcher, { prefetch: 2, concurrency: 8 });

    // Act
    await queue.publish(jobs(10));
    await fetcher.waitForActive(2);
    const whileBlocked = queue.stats();
    fetcher.open();
    await queue.idle();

    // Assess
    assert.deepEqual({ running: whileBlocked.running, unacked: whileBlocked.unacked }, { running: 2, unacked: 2 });
    assert.equal(fetcher.peak, 2);
    assert.equal(queue.stats().written, 10);
    await queue.close();
  });

  it('acks a job whose output exists without downloading it again', async () => {
    // Prepare
    const fetcher = new MemoryFetcher().serve(jobFor(1).url, jpeg);
    const { queue } = makeQueue(fetcher);
    await queue.publish([jobFor(1)]);
    await queue.idle();

    // Act
    await queue.publish([jobFor(1)]);
    await queue.idle();

    // Assess
    assert.deepEqual(fetcher.requested, [jobFor(1).url]);
    assert.deepEqual({ written: queue.stats().written, skipped: queue.stats().skipped }, { written: 1, skipped: 1 });
    await queue.close();
  });

  it('dead-letters a permanent failure at once, with its reason in the headers', async () => {
    // Prepare
    const job = jobFor(7);
    const fetcher = new MemoryFetcher().fail(job.url, new PermanentError('HTTP_404', `GET ${job.url} answered 404`));
    const { queue, images } = makeQueue(fetcher);

    // Act
    await queue.publish([job]);
    await queue.idle();

    // Assess
    assert.equal(fetcher.requested.length, 1);
    assert.equal(queue.deadLetters.length, 1);
    const [dead] = queue.deadLetters;
    assert.equal(dead?.messageId, '7');
    assert.equal(dead?.jobId, '7');
    assert.deepEqual(JSON.parse(dead!.body), job);
    assert.equal(dead?.headers['x-error-code'], 'HTTP_404');
    assert.match(dead!.headers['x-error-message'], /answered 404/);
    assert.equal(dead?.headers['x-attempts'], 1);
    assert.deepEqual(images.rows.get('7')?.failure, { code: 'HTTP_404', message: `GET ${job.url} answered 404` });
    assert.equal(queue.stats().retried, 0);
    await queue.close();
  });

  it('dead-letters a message that is not a valid job without retrying it', async () => {
    // Prepare
    const fetcher = new MemoryFetcher();
    const { queue } = makeQueue(fetcher);

    // Act
    await queue.publish([{ id: 'bad id!', url: 'http://images.test/a.jpg', ops: ['thumbnail'] }]);
    await queue.idle();

    // Assess
    assert.equal(queue.deadLetters[0]?.headers['x-error-code'], 'INVALID_INPUT');
    assert.equal(fetcher.requested.length, 0);
    await queue.close();
  });

  it('retries a transient failure with x-attempts growing, then dead-letters it at maxAttempts', async () => {
    // Prepare
    const job = jobFor(3);
    const fetcher = new MemoryFetcher().fail(job.url, new TransientError('TIMEOUT', 'the download took too long'));
    const { queue, log, images } = makeQueue(fetcher, { maxAttempts: 3 });

    // Act
    await queue.publish([job]);
    await queue.idle();

    // Assess
    assert.equal(fetcher.requested.length, 3);
    const attempts = log.lines
      .filter((line) => line.message === 'job failed, will retry' || line.message === 'job dead-lettered')
      .map((line) => [line.message, (line.context as { attempt: number }).attempt]);
    assert.deepEqual(attempts, [
      ['job failed, will retry', 1],
      ['job failed, will retry', 2],
      ['job dead-lettered', 3],
    ]);
    assert.equal(queue.deadLetters.length, 1);
    assert.equal(queue.deadLetters[0]?.headers['x-attempts'], 3);
    assert.equal(queue.deadLetters[0]?.headers['x-error-code'], 'TIMEOUT');
    assert.equal(queue.stats().retried, 2);
    assert.equal(images.rows.get('3')?.failure?.code, 'TIMEOUT');
    await queue.close();
  });

  it('writes a job whose first attempt failed transiently once a retry succeeds', async () => {
    // Prepare
    const job = jobFor(4);
    let calls = 0;
    const flaky: ImageFetcher = {
      async fetch() {
        calls += 1;
        if (calls === 1) throw new TransientError('HTTP_503', 'the source answered 503');
        return { bytes: jpeg, contentType: 'image/jpeg' };
      },
    };
    const { queue, store } = makeQueue(flaky);

    // Act
    await queue.publish([job]);
    await queue.idle();

    // Assess
    assert.equal(calls, 2);
    assert.ok(store.objects.has('4.jpg'));
    assert.deepEqual({ written: queue.stats().written, retried: queue.stats().retried, dead: queue.deadLetters.length }, { written: 1, retried: 1, dead: 0 });
    await queue.close();
  });

  it('close() waits for running jobs to finish, and is safe to call twice', async () => {
    // Prepare
    const fetcher = new GatedFetcher(() => jpeg);
    const { queue, store } = makeQueue(fetcher, { concurrency: 2 });
    await queue.publish(jobs(2));
    await fetcher.waitForActive(2);

    // Act
    let closed = false;
    const closing = queue.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const closedBeforeJobsEnded = closed;
    fetcher.open();
    await closing;
    await queue.close();

    // Assess
    assert.equal(closedBeforeJobsEnded, false);
    assert.equal(store.objects.size, 2);
    assert.equal(queue.stats().written, 2);
    assert.equal(queue.stats().released, 0);
  });

  it('after close(), refuses new jobs and leaves queued ones untouched', async () => {
    // Prepare
    const fetcher = new GatedFetcher(() => jpeg);
    const { queue } = makeQueue(fetcher, { prefetch: 4, concurrency: 1 });
    await queue.publish(jobs(5));
    await fetcher.waitForActive(1);

    // Act
    const closing = queue.close();
    fetcher.open();
    await closing;
    const publishAfterClose = queue.publish([jobFor(9)]);

    // Assess
    await assert.rejects(publishAfterClose, { name: 'TransientError', code: 'QUEUE_CLOSED' });
    assert.equal(fetcher.calls, 1);
    assert.deepEqual({ written: queue.stats().written, ready: queue.stats().ready }, { written: 1, ready: 4 });
  });

  it('keeps a job that fails transiently while close() drains in the queue, with no retry timer left behind', async () => {
    // Prepare
    const fetcher = new GatedFetcher(() => {
      throw new TransientError('HTTP_503', 'the source answered 503');
    });
    const { queue } = makeQueue(fetcher, { concurrency: 1, retryBaseMs: 60_000, retryMaxMs: 60_000 });
    await queue.publish([jobFor(8)]);
    await fetcher.waitForActive(1);

    // Act
    const closing = queue.close();
    fetcher.open();
    await closing;

    // Assess
    assert.deepEqual(
      { retried: queue.stats().retried, delayed: queue.stats().delayed, ready: queue.stats().ready },
      { retried: 1, delayed: 0, ready: 1 },
    );
  });

  it('hands a job back to the queue when the grace period ends before it does', async () => {
    // Prepare
    const fetcher = new GatedFetcher(() => jpeg);
    const { queue, images } = makeQueue(fetcher, { concurrency: 1 });
    await queue.publish([jobFor(5)]);
    await fetcher.waitForActive(1);

    // Act
    await queue.close({ graceMs: 10 });

    // Assess
    assert.deepEqual(
      { released: queue.stats().released, ready: queue.stats().ready, dead: queue.deadLetters.length },
      { released: 1, ready: 1, dead: 0 },
    );
    assert.equal(images.rows.get('5')?.failure, undefined);
  });

  it('carries the trace context of the publishing request in the message headers to the job', async () => {
    // Prepare: W3C propagation on, and a request span the job should belong to
    const telemetry = await startTelemetry({ tracesUrl: undefined, serviceName: 'test', disabled: false }, new MemoryLogger());
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const request = trace.setSpanContext(context.active(), { traceId, spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED, isRemote: true });
    const seen: string[] = [];
    const fetcher: ImageFetcher = {
      async fetch() {
        seen.push(trace.getActiveSpan()?.spanContext().traceId ?? 'none');
        throw new PermanentError('HTTP_404', 'answered 404');
      },
    };
    const { queue } = makeQueue(fetcher);

    try {
      // Act
      await context.with(request, () => queue.publish([jobFor(1)]));
      await queue.idle();

      // Assess
      assert.match(String(queue.deadLetters[0]?.headers.traceparent), new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      assert.deepEqual(seen, [traceId]);
    } finally {
      await queue.close();
      await telemetry.shutdown();
    }
  });
});
