import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retryAfterHeaderMs } from '#adapters/fetch/retry-after.ts';
import { retryDelay } from '#adapters/jobs/retry-delay.ts';
import { PermanentError, retryAfterMs, TransientError } from '#functions/errors.ts';

describe('retryDelay', () => {
  it('backs off exponentially from the base, capped at the maximum', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => retryDelay(attempt, 1000, 60_000)), [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
  });

  it('waits as long as Retry-After asks when that is longer than the backoff', () => {
    assert.equal(retryDelay(1, 1000, 60_000, 7000), 7000);
  });

  it('keeps the backoff when Retry-After asks for less', () => {
    assert.equal(retryDelay(4, 1000, 60_000, 2000), 8000);
    assert.equal(retryDelay(1, 1000, 60_000, 0), 1000);
  });

  it('never waits longer than the maximum, whatever Retry-After asks', () => {
    assert.equal(retryDelay(1, 1000, 60_000, 3_600_000), 60_000);
  });

  it('rounds a requested wait up to whole seconds, so delays (and retry queues) stay few', () => {
    assert.equal(retryDelay(1, 1000, 60_000, 4001), 5000);
    assert.equal(retryDelay(1, 100, 60_000, 250), 1000);
  });
});

describe('retryAfterMs', () => {
  it('is what a transient error carries, and nothing for others', () => {
    assert.equal(retryAfterMs(new TransientError('HTTP_429', 'busy', { retryAfterMs: 3000 })), 3000);
    assert.equal(retryAfterMs(new TransientError('HTTP_500', 'broken')), undefined);
    assert.equal(retryAfterMs(new PermanentError('HTTP_404', 'gone')), undefined);
    assert.equal(retryAfterMs(new Error('boom')), undefined);
  });
});

describe('retryAfterHeaderMs', () => {
  const now = Date.parse('2026-11-29T12:00:00Z');

  it('reads delay-seconds', () => {
    assert.equal(retryAfterHeaderMs('120', now), 120_000);
    assert.equal(retryAfterHeaderMs(' 0 ', now), 0);
  });

  it('reads an HTTP date as the time left until then, and a past date as no wait', () => {
    assert.equal(retryAfterHeaderMs('Sun, 29 Nov 2026 12:00:30 GMT', now), 30_000);
    assert.equal(retryAfterHeaderMs('Sun, 29 Nov 2026 11:00:00 GMT', now), 0);
  });

  it('ignores a missing or unreadable header', () => {
    assert.equal(retryAfterHeaderMs(null, now), undefined);
    assert.equal(retryAfterHeaderMs('', now), undefined);
    assert.equal(retryAfterHeaderMs('soon', now), undefined);
  });
});
