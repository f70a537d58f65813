import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '#functions/errors.ts';
import { enqueue, type EnqueueDeps } from '#functions/enqueue.ts';
import type { PendingImage } from '#functions/ports.ts';
import { MemoryImagesRepo } from '#test/fakes/memory-images-repo.ts';
import { MemoryPublisher } from '#test/fakes/memory-publisher.ts';

/** `count` table rows with ids 1..count, shuffled so id order has to be chosen. */
function rowsOf(count: number): PendingImage[] {
  const rows = Array.from({ length: count }, (_, index) => ({
    id: String(index + 1),
    url: `https://images.test/seed/${index + 1}/1024/768`,
  }));
  return rows.reverse();
}

function depsWith(rows: readonly PendingImage[]): EnqueueDeps & { images: MemoryImagesRepo; publisher: MemoryPublisher } {
  return { images: new MemoryImagesRepo(rows), publisher: new MemoryPublisher() };
}

describe('enqueue: limit', () => {
  it('publishes 200 jobs when no limit is given', async () => {
    const deps = depsWith(rowsOf(250));

    const result = await enqueue({}, deps);

    assert.deepEqual(result, { enqueued: 200 });
    assert.equal(deps.publisher.published.length, 200);
  });

  for (const limit of [0, 10_001, 1.5, Number.NaN, -1]) {
    it(`refuses limit ${limit}, naming limit, before publishing`, async () => {
      const deps = depsWith(rowsOf(3));

      await assert.rejects(enqueue({ limit }, deps), (error: unknown) => {
        assert.ok(error instanceof InvalidInputError);
        assert.equal(error.field, 'limit');
        return true;
      });
      assert.equal(deps.publisher.published.length, 0);
    });
  }

  it('accepts limits 1 and 10000', async () => {
    const deps = depsWith(rowsOf(3));

    assert.deepEqual(await enqueue({ limit: 1 }, deps), { enqueued: 1 });
    assert.deepEqual(await enqueue({ limit: 10_000 }, deps), { enqueued: 2 });
  });
});

describe('enqueue: publishing', () => {
  it('publishes one thumbnail job per pending row, in id order, with ids as strings', async () => {
    const deps = depsWith(rowsOf(12));

    await enqueue({ limit: 5 }, deps);

    assert.deepEqual(
      deps.publisher.published,
      ['1', '2', '3', '4', '5'].map((id) => ({ id, url: `https://images.test/seed/${id}/1024/768`, ops: ['thumbnail'] })),
    );
    for (const job of deps.publisher.published) assert.equal(typeof job.id, 'string');
  });

  it('orders ids as numbers, not as text', async () => {
    const deps = depsWith(rowsOf(12));

    await enqueue({ limit: 12 }, deps);

    assert.deepEqual(deps.publisher.published.map((job) => job.id).slice(8), ['9', '10', '11', '12']);
  });

  it('never publishes a row twice when called twice', async () => {
    const deps = depsWith(rowsOf(3));

    const first = await enqueue({ limit: 10 }, deps);
    const second = await enqueue({ limit: 10 }, deps);

    assert.deepEqual([first, second], [{ enqueued: 3 }, { enqueued: 0 }]);
    assert.deepEqual(deps.publisher.published.map((job) => job.id), ['1', '2', '3']);
  });

  it('skips rows that are processed or failed', async () => {
    const deps = depsWith(rowsOf(3));
    await deps.images.markProcessed({ id: '1', url: 'https://images.test/seed/1/1024/768' });
    await deps.images.markFailed({ id: '2', url: 'https://images.test/seed/2/1024/768' }, { code: 'HTTP_404', message: 'gone' });

    const result = await enqueue({}, deps);

    assert.deepEqual(result, { enqueued: 1 });
    assert.deepEqual(deps.publisher.published.map((job) => job.id), ['3']);
  });

  it('leaves the rows pending when the broker refuses, and rethrows a TransientError', async () => {
    const deps = depsWith(rowsOf(3));
    deps.publisher.refuse = true;

    await assert.rejects(enqueue({ limit: 10 }, deps), { name: 'TransientError', code: 'PUBLISH_REFUSED' });
    assert.equal(deps.publisher.published.length, 0);

    deps.publisher.refuse = false;
    const retried = await enqueue({ limit: 10 }, deps);

    assert.deepEqual(retried, { enqueued: 3 });
    assert.deepEqual(deps.publisher.published.map((job) => job.id), ['1', '2', '3']);
  });
});
