import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sharedCheck } from '#adapters/http/shared-dependency-check.ts';

/** A dependency whose checks wait until settled by the test, and are counted. */
function controlledDependency() {
  const pending: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  return {
    pending,
    dependency: {
      name: 'database',
      check: () => new Promise<void>((resolve, reject) => pending.push({ resolve, reject })),
    },
  };
}

describe('sharedCheck', () => {
  it('lets concurrent calls share one running check', async () => {
    const { pending, dependency } = controlledDependency();
    const shared = sharedCheck(dependency, { freshMs: 1000, now: () => 0 });
    const calls = [shared.check(), shared.check(), shared.check()];
    assert.equal(pending.length, 1);
    pending[0]!.resolve();
    await Promise.all(calls);
  });

  it('reuses a success while it is fresh, then asks again', async () => {
    const { pending, dependency } = controlledDependency();
    let clock = 0;
    const shared = sharedCheck(dependency, { freshMs: 1000, now: () => clock });
    const first = shared.check();
    pending[0]!.resolve();
    await first;
    clock = 999;
    await shared.check();
    assert.equal(pending.length, 1);
    clock = 1000;
    const again = shared.check();
    assert.equal(pending.length, 2);
    pending[1]!.resolve();
    await again;
  });

  it('never reuses a failure: every caller of the failed check sees it, the next call asks again', async () => {
    const { pending, dependency } = controlledDependency();
    const shared = sharedCheck(dependency, { freshMs: 1000, now: () => 0 });
    const calls = [shared.check(), shared.check()];
    pending[0]!.reject(new Error('connection refused'));
    for (const call of calls) await assert.rejects(call, /connection refused/);
    const next = shared.check();
    assert.equal(pending.length, 2);
    pending[1]!.resolve();
    await next;
  });
});
