import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProcessImageDeps } from '#functions/process-image.ts';
import { runJob, type Delivery, type RunJobOptions } from '#adapters/jobs/run-job.ts';
import { MemoryFetcher } from '#test/fakes/memory-fetcher.ts';
import { MemoryImagesRepo } from '#test/fakes/memory-images-repo.ts';
import { MemoryStore } from '#test/fakes/memory-store.ts';
import { FakeClock, MemoryLogger } from '#test/fakes/support.ts';
import { jobOf, jpegOf } from '#test/support/image-factory.ts';

const MAX_DELIVERIES = 5;

async function run(deliveryCount: number | undefined, { maxDeliveries }: { maxDeliveries?: number } = { maxDeliveries: MAX_DELIVERIES }) {
  const job = jobOf();
  const fetcher = new MemoryFetcher();
  fetcher.serve(job.url, await jpegOf(80, 60));
  const store = new MemoryStore();
  const deps: ProcessImageDeps = {
    fetcher,
    store,
    images: new MemoryImagesRepo([{ id: job.id, url: job.url }]),
    clock: new FakeClock(),
    thumbnail: { size: 400, maxInputPixels: 100_000_000 },
  };
  const log = new MemoryLogger();
  const options: RunJobOptions = {
    maxAttempts: 5,
    retryBaseMs: 1000,
    retryMaxMs: 60_000,
    destination: { exchange: 'images', routingKey: 'process_image' },
    signal: new AbortController().signal,
    log,
    maxDeliveries,
  };
  const delivery: Delivery = { body: JSON.stringify(job), headers: {}, messageId: job.id, attempt: 2, deliveryCount };
  const settlement = await runJob(delivery, deps, options);
  return { settlement, fetcher, store, log };
}

describe('runJob: poison messages', () => {
  it('dead-letters a message delivered MAX_DELIVERIES times without a settlement, without running it', async () => {
    const { settlement, fetcher, store, log } = await run(MAX_DELIVERIES);

    assert.equal(settlement.outcome, 'dead-lettered');
    assert.ok(settlement.outcome === 'dead-lettered');
    assert.equal(settlement.jobId, '42');
    assert.equal(settlement.headers['x-error-code'], 'POISON_MESSAGE');
    assert.match(settlement.headers['x-error-message'], /delivered 5 times before without being settled/);
    assert.equal(settlement.headers['x-attempts'], 2);
    assert.deepEqual(fetcher.requested, []);
    assert.equal(store.objects.size, 0);
    assert.ok(log.lines.some((line) => line.level === 'error' && (line.context as { code?: string }).code === 'POISON_MESSAGE'));
  });

  it('runs a message with fewer unsettled deliveries', async () => {
    const { settlement, store } = await run(MAX_DELIVERIES - 1);

    assert.equal(settlement.outcome, 'written');
    assert.ok(store.objects.has('42.jpg'));
  });

  it('runs a message whose queue does not count deliveries, or when no limit is set', async () => {
    assert.equal((await run(undefined)).settlement.outcome, 'written');
    assert.equal((await run(99, {})).settlement.outcome, 'written');
  });
});
