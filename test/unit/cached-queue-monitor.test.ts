import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { QueueStats } from '#functions/ports.ts';
import { CachedQueueMonitor } from '#adapters/amqp/cached-queue-monitor.ts';

const stats = (queued: number): QueueStats => ({ queued, deadLettered: 0, deadByCode: {} });

describe('CachedQueueMonitor', () => {
  it('asks the broker at most once per max age, however often it is asked', async () => {
    let now = 0;
    let calls = 0;
    const monitor = new CachedQueueMonitor(async () => stats(++calls), 5_000, () => now);

    const first = await Promise.all([monitor.stats(), monitor.stats(), monitor.stats()]);
    now = 4_999;
    const cached = await monitor.stats();
    now = 5_000;
    const refreshed = await monitor.stats();

    assert.deepEqual(first.map((answer) => answer.queued), [1, 1, 1]);
    assert.equal(cached.queued, 1);
    assert.equal(refreshed.queued, 2);
    assert.equal(calls, 2);
    assert.equal(monitor.last?.queued, 2);
  });

  it('keeps no failure: the next caller asks again', async () => {
    let fail = true;
    const monitor = new CachedQueueMonitor(async () => {
      if (fail) throw new Error('broker down');
      return stats(3);
    });

    await assert.rejects(monitor.stats(), /broker down/);
    fail = false;

    assert.equal((await monitor.stats()).queued, 3);
  });
});
