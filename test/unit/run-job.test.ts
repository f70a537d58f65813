import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PermanentError, TransientError } from '#functions/errors.ts';
import type { Job } from '#functions/job.ts';
import type { FetchedImage, ImageFetcher } from '#functions/ports.ts';
import type { ProcessImageDeps } from '#functions/process-image.ts';
import { retryDelay } from '#adapters/jobs/retry-delay.ts';
import { runJob, type Delivery, type RunJobOptions, type Settlement } from '#adapters/jobs/run-job.ts';
import { MemoryFetcher } from '#test/fakes/memory-fetcher.ts';
import { MemoryImagesRepo } from '#test/fakes/memory-images-repo.ts';
import { MemoryStore } from '#test/fakes/memory-store.ts';
import { FakeClock, MemoryLogger } from '#test/fakes/support.ts';
import { jobOf, jpegOf } from '#test/support/image-factory.ts';

const MAX_ATTEMPTS = 5;

function deliveryOf(job: Job | string, overrides: Partial<Delivery> = {}): Delivery {
  const body = typeof job === 'string' ? job : JSON.stringify(job);
  const messageId = typeof job === 'string' ? undefined : job.id;
  return { body: Buffer.from(body), headers: {}, messageId, attempt: 1, ...overrides };
}

function worldFor(job: Job, fetcher: ImageFetcher = new MemoryFetcher(), controller = new AbortController()) {
  const store = new MemoryStore();
  const images = new MemoryImagesRepo([{ id: job.id, url: job.url }]);
  const deps: ProcessImageDeps = {
    fetcher,
    store,
    images,
    clock: new FakeClock(),
    thumbnail: { size: 400, maxInputPixels: 100_000_000 },
  };
  const log = new MemoryLogger();
  const options: RunJobOptions = {
    maxAttempts: MAX_ATTEMPTS,
    retryBaseMs: 1000,
    retryMaxMs: 60_000,
    destination: { exchange: 'images', routingKey: 'process_image' },
    signal: controller.signal,
    log,
  };
  return { deps, store, images, controller, log, options };
}

function expectOutcome<O extends Settlement['outcome']>(settlement: Settlement, outcome: O): Settlement & { outcome: O } {
  assert.equal(settlement.outcome, outcome, `settled as ${JSON.stringify(settlement)}`);
  return settlement as Settlement & { outcome: O };
}

describe('runJob', () => {
  it('acks a job whose thumbnail was written', async () => {
    const job = jobOf();
    const fetcher = new MemoryFetcher();
    fetcher.serve(job.url, await jpegOf(800, 600));
    const world = worldFor(job, fetcher);

    const settlement = await runJob(deliveryOf(job), world.deps, world.options);

    const ack = expectOutcome(settlement, 'written');
    assert.equal(ack.jobId, '42');
    assert.equal(ack.result.outcome, 'written');
    assert.ok(world.store.objects.has('42.jpg'));
    assert.ok(world.log.lines.some((line) => line.level === 'info' && line.message === 'job done'));
  });

  it('acks a job whose thumbnail already exists', async () => {
    const job = jobOf();
    const world = worldFor(job);
    await world.store.putIfAbsent('42.jpg', await jpegOf(40, 30), 'image/jpeg');

    const settlement = await runJob(deliveryOf(job, { attempt: 3 }), world.deps, world.options);

    assert.equal(expectOutcome(settlement, 'skipped').result.outcome, 'skipped');
  });

  it('dead-letters a permanent failure with code, message and attempts', async () => {
    const job = jobOf();
    const world = worldFor(job);

    const settlement = await runJob(deliveryOf(job, { attempt: 2 }), world.deps, world.options);

    const deadLetter = expectOutcome(settlement, 'dead-lettered');
    assert.equal(deadLetter.jobId, '42');
    assert.deepEqual(deadLetter.headers, {
      'x-error-code': 'HTTP_404',
      'x-error-message': `GET ${job.url} answered 404`,
      'x-attempts': 2,
    });
    assert.equal(world.images.rows.get('42')?.failure?.code, 'HTTP_404');
  });

  it('retries a transient failure while attempts remain, with the backoff delay and the next attempt', async () => {
    const job = jobOf();
    const fetcher = new MemoryFetcher().fail(job.url, new TransientError('TIMEOUT', 'no answer within 30000 ms'));
    const world = worldFor(job, fetcher);

    const settlement = await runJob(deliveryOf(job, { attempt: 2 }), world.deps, world.options);

    const retry = expectOutcome(settlement, 'retried');
    assert.equal(retry.delayMs, 2000);
    assert.equal(retry.delayMs, retryDelay(2, 1000, 60_000));
    assert.equal(retry.nextAttempt, 3);
    assert.deepEqual(retry.headers, { 'x-error-code': 'TIMEOUT', 'x-error-message': 'no answer within 30000 ms', 'x-attempts': 2 });
    assert.equal(world.images.rows.get('42')?.failure, undefined);
  });

  it('dead-letters a transient failure at maxAttempts and marks the row failed', async () => {
    const job = jobOf();
    const fetcher = new MemoryFetcher().fail(job.url, new TransientError('HTTP_503', 'GET answered 503'));
    const world = worldFor(job, fetcher);

    const settlement = await runJob(deliveryOf(job, { attempt: MAX_ATTEMPTS }), world.deps, world.options);

    const deadLetter = expectOutcome(settlement, 'dead-lettered');
    assert.equal(deadLetter.headers['x-error-code'], 'HTTP_503');
    assert.equal(deadLetter.headers['x-attempts'], MAX_ATTEMPTS);
    assert.equal(world.images.rows.get('42')?.failure?.code, 'HTTP_503');
  });

  it('dead-letters a body that is not JSON as INVALID_INPUT', async () => {
    const world = worldFor(jobOf());

    const settlement = await runJob(deliveryOf('{"id": "42", "url":'), world.deps, world.options);

    const deadLetter = expectOutcome(settlement, 'dead-lettered');
    assert.equal(deadLetter.jobId, undefined);
    assert.equal(deadLetter.headers['x-error-code'], 'INVALID_INPUT');
    assert.match(deadLetter.headers['x-error-message'], /^body: /);
  });

  it('dead-letters an unknown op as INVALID_INPUT without downloading', async () => {
    const job = jobOf();
    const fetcher = new MemoryFetcher();
    const world = worldFor(job, fetcher);
    const body = JSON.stringify({ ...job, ops: ['thumbnail', 'sepia'] });

    const settlement = await runJob(deliveryOf(body), world.deps, world.options);

    const deadLetter = expectOutcome(settlement, 'dead-lettered');
    assert.equal(deadLetter.headers['x-error-code'], 'INVALID_INPUT');
    assert.match(deadLetter.headers['x-error-message'], /^ops\[1\]: /);
    assert.deepEqual(fetcher.requested, []);
  });

  it('releases the message when the signal aborts mid-job', async () => {
    const job = jobOf();
    const controller = new AbortController();
    const fetcher: ImageFetcher = {
      async fetch(_url: string, signal: AbortSignal): Promise<FetchedImage> {
        controller.abort(new Error('worker shutting down'));
        signal.throwIfAborted();
        throw new PermanentError('HTTP_404', 'the signal did not abort');
      },
    };
    const world = worldFor(job, fetcher, controller);

    const settlement = await runJob(deliveryOf(job, { attempt: MAX_ATTEMPTS }), world.deps, world.options);

    assert.deepEqual(settlement, { outcome: 'released', jobId: '42' });
    assert.equal(world.images.rows.get('42')?.failure, undefined);
  });
});
