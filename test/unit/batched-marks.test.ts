import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchedMarks } from '#adapters/db/batched-marks.ts';

/** A write that waits until the test settles it, recording each batch. */
function controlledWrite() {
  const batches: Array<{ ids: number[]; urls: string[]; resolve: () => void; reject: (error: Error) => void }> = [];
  const write = (ids: number[], urls: string[]) => new Promise<void>((resolve, reject) => batches.push({ ids, urls, resolve, reject }));
  return { batches, write };
}

const settled = (promise: Promise<void>) => promise.then(() => 'resolved', () => 'rejected');

describe('BatchedMarks', () => {
  it('writes a lone mark at once and the marks that arrive meanwhile together in the next write', async () => {
    const { batches, write } = controlledWrite();
    const marks = new BatchedMarks(write);
    const first = marks.mark(1, 'u1');
    assert.deepEqual(batches.map((batch) => batch.ids), [[1]]);
    const later = [marks.mark(2, 'u2'), marks.mark(3, 'u3')];
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
    const marks = new BatchedMarks(write);
    const first = settled(marks.mark(1, 'u1'));
    const second = settled(marks.mark(2, 'u2'));
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
    const marks = new BatchedMarks(write);
    const first = marks.mark(1, 'u1');
    const batched = [marks.mark(2, 'u2'), marks.mark(3, 'u3')];
    batches[0]!.resolve();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    batches[1]!.reject(new Error('database: connection lost'));
    for (const mark of batched) await assert.rejects(mark, /connection lost/);
    const next = marks.mark(4, 'u4');
    assert.deepEqual(batches[2]!.ids, [4]);
    batches[2]!.resolve();
    await next;
  });

  it('splits a backlog into writes of at most maxBatch rows', async () => {
    const { batches, write } = controlledWrite();
    const marks = new BatchedMarks(write, 2);
    const all = [1, 2, 3, 4, 5].map((id) => marks.mark(id, `u${id}`));
    for (let index = 0; index < 3; index += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      batches[index]!.resolve();
    }
    await Promise.all(all);
    assert.deepEqual(batches.map((batch) => batch.ids), [[1], [2, 3], [4, 5]]);
  });
});
