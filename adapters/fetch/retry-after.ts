/**
 * A `Retry-After` header as milliseconds from `now`: delay-seconds (`120`) or
 * an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`; a past one is 0). Undefined
 * when absent or unreadable.
 *
 * @example
 * retryAfterHeaderMs('5'); // → 5000
 */
export function retryAfterHeaderMs(value: string | null, now = Date.now()): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
