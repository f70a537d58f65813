import { assertJobId } from '#functions/job.ts';

/**
 * Validates a storage key (`<id>.jpg`, the id under the job id rules) before it
 * becomes a file name or an object key; throws `InvalidInputError` on field `key`.
 *
 * @example
 * assertOutputKey('42.jpg');    // → '42.jpg'
 * assertOutputKey('../x.jpg');  // throws InvalidInputError('key', …)
 */
export function assertOutputKey(key: unknown): string {
  const id = typeof key === 'string' && key.endsWith('.jpg') ? key.slice(0, -'.jpg'.length) : undefined;
  assertJobId(id, 'key');
  return key as string;
}
