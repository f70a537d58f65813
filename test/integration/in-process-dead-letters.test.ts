import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PermanentError } from '#functions/errors.ts';
import { InProcessDeadLetters } from '#adapters/host/in-process-dead-letters.ts';
import { InProcessQueue } from '#adapters/host/in-process-queue.ts';
import { MemoryFetcher } from '#test/fakes/memory-fetcher.ts';
import { MemoryImagesRepo } from '#test/fakes/memory-images-repo.ts';
import { MemoryStore } from '#test/fakes/memory-store.ts';
import { FakeClock, MemoryLogger } from '#test/fakes/support.ts';
import { jobOf, jpegOf } from '#test/support/image-factory.ts';

/** The local host's queue with three jobs dead-lettered: two 404s and one 410. */
async function hostWithDeadLetters() {
  const jobs = [jobOf({ id: '1' }), jobOf({ id: '2' }), jobOf({ id: '3' })];
  const fetcher = new MemoryFetcher().fail(jobs[2]!.url, new PermanentError('HTTP_410', 'gone for good'));
  const images = new MemoryImagesRepo(jobs.map(({ id, url }) => ({ id, url })));
  const store = new MemoryStore();
  const queue = new InProcessQueue({
    destination: { exchange: 'images', routingKey: 'process_image' },
    prefetch: 4,
    concurrency: 2,
    maxAttempts: 3,
    retryBaseMs: 1,
    retryMaxMs: 1,
    log: new MemoryLogger(),
  });
  queue.consume({ fetcher, store, images, clock: new FakeClock(), thumbnail: { size: 32, maxInputPixels: 1e8 } });
  await queue.publish(jobs);
  await queue.idle();
  return { jobs, fetcher, images, store, queue, deadLetters: new InProcessDeadLetters(queue, images) };
}

describe('InProcessDeadLetters (the local host’s dead-letter queue)', () => {
  it('lists the dead letters by error code, the newest first, and reports the depths', async () => {
    const { deadLetters } = await hostWithDeadLetters();

    const listed = await deadLetters.list(2);
    const stats = await deadLetters.stats();

    assert.deepEqual({ total: listed.total, byCode: listed.byCode }, { total: 3, byCode: { HTTP_404: 2, HTTP_410: 1 } });
    assert.equal(listed.newest.length, 2);
    assert.ok(listed.newest.every((letter) => letter.attempts === 1 && letter.message.length > 0));
    assert.deepEqual(stats, { queued: 0, deadLettered: 3, deadByCode: { HTTP_404: 2, HTTP_410: 1 } });
  });

  it('replays only the matching dead letters, with their attempts afresh and their failed marks cleared, once the cause is fixed', async () => {
    const { jobs, fetcher, images, store, queue, deadLetters } = await hostWithDeadLetters();
    const jpeg = await jpegOf(64, 48);
    for (const job of jobs) fetcher.serve(job.url, jpeg);

    const dry = await deadLetters.replay({ code: 'HTTP_404', dryRun: true });
    const replayed = await deadLetters.replay({ code: 'HTTP_404' });
    await queue.idle();

    assert.deepEqual(dry, { examined: 3, matched: 2, replayed: 0, failed: 0, dryRun: true });
    assert.deepEqual(replayed, { examined: 3, matched: 2, replayed: 2, failed: 0, dryRun: false });
    assert.deepEqual([...store.objects.keys()].sort(), ['1.jpg', '2.jpg']);
    assert.deepEqual(
      queue.deadLetters.map((letter) => letter.headers['x-error-code']),
      ['HTTP_410'],
      'the one that did not match stays',
    );
    assert.deepEqual(
      jobs.map((job) => images.rows.get(job.id)?.processed),
      [true, true, false],
    );
    assert.equal(images.rows.get('3')?.failure?.code, 'HTTP_410');
  });
});
