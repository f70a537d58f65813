/**
 * Exponential backoff for the attempt that failed: base, 2×base, 4×base…,
 * capped at `maxMs`. Attempt 1 failed → wait `baseMs` before attempt 2.
 */
export function retryDelay(failedAttempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, failedAttempt - 1));
}
