import { InvalidInputError } from '#functions/errors.ts';
import { isOutputKey } from '#functions/output-keys.ts';

/**
 * Validates a storage key before it becomes a file name or an object key:
 * `<id>.jpg`, or `<id>/<name>.<jpg|webp|avif|png|json>` with id and name under
 * the job id rules; throws `InvalidInputError` on field `key`.
 *
 * @example
 * assertOutputKey('42.jpg');        // → '42.jpg'
 * assertOutputKey('42/w640.webp');  // → '42/w640.webp'
 * assertOutputKey('../x.jpg');      // throws InvalidInputError('key', …)
 */
export function assertOutputKey(key: unknown): string {
  if (!isOutputKey(key)) {
    throw new InvalidInputError('key', 'must be <id>.jpg or <id>/<name>.<jpg|webp|avif|png|json>, id and name of A-Z, a-z, 0-9, "_" or "-"');
  }
  return key;
}
