/**
 * How long to wait before retrying the attempt that failed: exponential
 * backoff (base, 2×base, 4×base…; attempt 1 failed → `baseMs`), or longer when
 * the source asked for it (`Retry-After`), never more than `maxMs`. A
 * requested wait is rounded up to whole seconds, as `Retry-After` counts them:
 * every distinct delay is a retry queue of its own.
 */
export function retryDelay(failedAttempt: number, baseMs: number, maxMs: number, retryAfterMs?: number): number {
  const backoff = baseMs * 2 ** Math.max(0, failedAttempt - 1);
  const requested = retryAfterMs === undefined ? 0 : Math.ceil(retryAfterMs / 1000) * 1000;
  return Math.min(maxMs, Math.max(backoff, requested));
}
