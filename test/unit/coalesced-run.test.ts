import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coalescedRun } from '#adapters/storage/coalesced-run.ts';

/** A run that waits until the test settles it, counting starts. */
function controlledRun() {
  const runs: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  const run = () => new Promise<void>((resolve, reject) => runs.push({ resolve, reject }));
  return { runs, run };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('coalescedRun', () => {
  it('starts a run at once when none is going', async () => {
    const { runs, run } = controlledRun();
    const shared = coalescedRun(run);
    const call = shared();
    assert.equal(runs.length, 1);
    runs[0]!.resolve();
    await call;
  });

  it('covers callers that arrive during a run with one later run, started after the first ended', async () => {
    const { runs, run } = controlledRun();
    const shared = coalescedRun(run);
    const first = shared();
    let laterDone = 0;
    const later = [shared(), shared(), shared()].map((call) => call.then(() => (laterDone += 1)));
    assert.equal(runs.length, 1);
    runs[0]!.resolve();
    await first;
    await tick();
    assert.equal(runs.length, 2);
    assert.equal(laterDone, 0);
    runs[1]!.resolve();
    await Promise.all(later);
    assert.equal(laterDone, 3);
  });

  it('rejects every caller of a failed run, and runs again for the next caller', async () => {
    const { runs, run } = controlledRun();
    const shared = coalescedRun(run);
    const first = shared();
    const later = [shared(), shared()];
    runs[0]!.reject(new Error('EIO'));
    await assert.rejects(first, /EIO/);
    await tick();
    runs[1]!.reject(new Error('ENOSPC'));
    for (const call of later) await assert.rejects(call, /ENOSPC/);
    const again = shared();
    assert.equal(runs.length, 3);
    runs[2]!.resolve();
    await again;
  });
});
