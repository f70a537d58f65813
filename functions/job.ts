import { createHash } from 'node:crypto';
import { InvalidInputError } from './errors.ts';
import { DEFAULT_OPS, isKnownOp, type Op } from './ops.ts';

/**
 * One unit of work, as it travels in a message body (docs/architecture.md, "The job message"):
 *
 * ```json
 * { "id": "42", "url": "https://picsum.photos/seed/42/1024/768", "ops": ["thumbnail"] }
 * ```
 */
export interface Job {
  readonly id: string;
  readonly url: string;
  readonly ops: readonly Op[];
}

export const JOB_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
export const MAX_URL_LENGTH = 2048;

/** The output key of the `thumbnail` op for a job: `<id>.jpg`. */
export function thumbnailKey(id: string): string {
  return `${assertJobId(id, 'id')}.jpg`;
}

/** Validates an id that becomes part of a file name or an object key. */
export function assertJobId(value: unknown, field = 'id'): string {
  if (typeof value !== 'string' || !JOB_ID_PATTERN.test(value)) {
    throw new InvalidInputError(field, 'must be 1 to 128 characters of A-Z, a-z, 0-9, "_" or "-"');
  }
  return value;
}

export function parseUrl(value: unknown, field = 'url'): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidInputError(field, 'must be a non-empty string');
  }
  if (value.length > MAX_URL_LENGTH) {
    throw new InvalidInputError(field, `must be at most ${MAX_URL_LENGTH} characters`);
  }
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new InvalidInputError(field, 'must be an absolute URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidInputError(field, 'must use http or https');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new InvalidInputError(field, 'must not carry credentials');
  }
  return value;
}

export function parseOps(value: unknown, field = 'ops'): readonly Op[] {
  if (value === undefined) return DEFAULT_OPS;
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidInputError(field, 'must be a non-empty list of operations');
  }
  const ops: Op[] = [];
  value.forEach((op, index) => {
    if (!isKnownOp(op)) throw new InvalidInputError(`${field}[${index}]`, `unknown operation ${JSON.stringify(op)}`);
    if (!ops.includes(op)) ops.push(op);
  });
  return ops;
}

/**
 * A stable id for a task given without one: the same URL and ops always map to
 * the same id, so the same task always maps to the same output.
 */
export function deriveJobId(url: string, ops: readonly Op[]): string {
  const canonical = JSON.stringify([url, [...ops].sort()]);
  return `t-${createHash('sha256').update(canonical).digest('base64url').slice(0, 32)}`;
}

/** Validates an untrusted value (a message body, a request body) into a {@link Job}. */
export function parseJob(value: unknown): Job {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInputError('body', 'must be a JSON object');
  }
  const record = value as Record<string, unknown>;
  const url = parseUrl(record.url);
  const ops = parseOps(record.ops);
  const id = record.id === undefined ? deriveJobId(url, ops) : assertJobId(record.id);
  return Object.freeze({ id, url, ops: Object.freeze([...ops]) });
}
