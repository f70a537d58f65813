import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { BatchedWrites } from '#adapters/db/batched-writes.ts';

interface Mark {
  readonly id: number;
  readonly url: string;
}

/** A write that waits until the test settles it, recording each batch. */
function controlledWrite() {
  const batches: Array<{ ids: number[]; urls: string[]; resolve: () => void; reject: (error: Error) => void }> = [];
  const write = (items: Mark[]) =>
    new Promise<void>((resolve, reject) => batches.push({ ids: items.map((item) => item.id), urls: items.map((item) => item.url), resolve, reject }));
  return { batches, write };
}

const settled = (promise: Promise<void>) => promise.then(() => 'resolved', () => 'rejected');

describe('BatchedWrites', () => {
  it('writes a lone mark at once and the marks that arrive meanwhile together in the next write', async () => {
    const { batches, write } = controlledWrite();
    const marks = new BatchedWrites(write);
    const first = marks.write({ id: 1, url: 'u1' });
    assert.deepEqual(batches.map((batch) => batch.ids), [[1]]);
    const later = [marks.write({ id: 2, url: 'u2' }), marks.write({ id: 3, url: 'u3' })];
    assert.equal(batches.length, 1);

    batches[0]!.resolve();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(batches[1]!.ids, [2, 3]);
    assert.deepEqual(batches[1]!.urls, ['u2', 'u3']);
    batches[1]!.resolve();
    await Promise.all(later);
  });

  it('resolves a mark only once its own write has finished', async () => {
    const { batches, write } = controlledWrite();
    const marks = new BatchedWrites(write);
    const first = settled(marks.write({ id: 1, url: 'u1' }));
    const second = settled(marks.write({ id: 2, url: 'u2' }));
    batches[0]!.resolve();
    assert.equal(await first, 'resolved');
    let secondDone = false;
    void second.then(() => (secondDone = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(secondDone, false);
    batches[1]!.resolve();
    assert.equal(await second, 'resolved');
  });

  it('rejects every mark of a failed write with its error, and keeps writing later marks', async () => {
    const { batches, write } = controlledWrite();
    const marks = new BatchedWrites(write);
    const first = marks.write({ id: 1, url: 'u1' });
    const batched = [marks.write({ id: 2, url: 'u2' }), marks.write({ id: 3, url: 'u3' })];
    batches[0]!.resolve();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    batches[1]!.reject(new Error('database: connection lost'));
    for (const mark of batched) await assert.rejects(mark, /connection lost/);
    const next = marks.write({ id: 4, url: 'u4' });
    assert.deepEqual(batches[2]!.ids, [4]);
    batches[2]!.resolve();
    await next;
  });

  it('splits a backlog into writes of at most maxBatch rows', async () => {
    const { batches, write } = controlledWrite();
    const marks = new BatchedWrites(write, { maxBatch: 2 });
    const all = [1, 2, 3, 4, 5].map((id) => marks.write({ id: id, url: `u${id}` }));
    for (let index = 0; index < 3; index += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      batches[index]!.resolve();
    }
    await Promise.all(all);
    assert.deepEqual(batches.map((batch) => batch.ids), [[1], [2, 3], [4, 5]]);
  });

  it('with gatherMs, holds a batch open that long so marks asked in later turns share its write', async (t) => {
    mock.timers.enable({ apis: ['setTimeout'] });
    t.after(() => mock.timers.reset());
    const { batches, write } = controlledWrite();
    const marks = new BatchedWrites(write, { gatherMs: 10 });
    const first = marks.write({ id: 1, url: 'u1' });
    await new Promise((resolve) => setImmediate(resolve));
    const second = marks.write({ id: 2, url: 'u2' });
    mock.timers.tick(9);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(batches.length, 0);
    mock.timers.tick(1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(batches.map((batch) => batch.ids), [[1, 2]]);
    batches[0]!.resolve();
    await Promise.all([first, second]);
  });
});
