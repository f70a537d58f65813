/**
 * The three kinds of failure every adapter maps (docs/architecture.md, "Errors"):
 *
 * | kind        | HTTP | worker                                   |
 * | ----------- | ---- | ---------------------------------------- |
 * | `invalid`   | 400  | dead-letter, never retried                |
 * | `permanent` | 422  | dead-letter, never retried                |
 * | `transient` | 503  | retried later, dead-lettered when spent   |
 *
 * Classify with {@link errorKind}, which looks at `name` (it survives bundling)
 * and never at message text. `code` is a stable, machine-readable string such as
 * `HTTP_404` or `NOT_AN_IMAGE`; `message` is one line and carries no secrets.
 */
export type ErrorKind = 'invalid' | 'permanent' | 'transient';

export abstract class ImgpipeError extends Error {
  abstract readonly kind: ErrorKind;
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Input that can never succeed as sent: a bad field, an unknown op. */
export class InvalidInputError extends ImgpipeError {
  override readonly name = 'InvalidInputError';
  readonly kind = 'invalid';
  /** The offending field, as the caller named it (`url`, `ops[1]`, `limit`). */
  readonly field: string;

  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super('INVALID_INPUT', `${field}: ${message}`, options);
    this.field = field;
  }
}

/** A failure that will repeat on every attempt: 404, not an image, too large, refused URL. */
export class PermanentError extends ImgpipeError {
  override readonly name = 'PermanentError';
  readonly kind = 'permanent';
}

/** A failure that may pass: timeout, connection reset, 5xx, broker or database down. */
export class TransientError extends ImgpipeError {
  override readonly name = 'TransientError';
  readonly kind = 'transient';
  /** How long the other side asked us to wait before trying again (an HTTP `Retry-After`), when it said. */
  readonly retryAfterMs: number | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(code, message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** The wait a transient failure asked for (`Retry-After`), or undefined. */
export function retryAfterMs(error: unknown): number | undefined {
  if (!(error instanceof Error) || error.name !== 'TransientError') return undefined;
  const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof value === 'number' ? value : undefined;
}

const KIND_BY_NAME: Record<string, ErrorKind> = {
  InvalidInputError: 'invalid',
  PermanentError: 'permanent',
  TransientError: 'transient',
};

/**
 * The kind of any thrown value. Errors we did not classify are treated as
 * transient: retrying an unknown failure a bounded number of times loses
 * nothing, while dead-lettering it at once could drop a job for a blip.
 */
export function errorKind(error: unknown): ErrorKind {
  if (error instanceof Error) {
    const kind = KIND_BY_NAME[error.name];
    if (kind) return kind;
  }
  return 'transient';
}

/** The stable code of any thrown value (`UNEXPECTED` for errors we did not make). */
export function errorCode(error: unknown): string {
  if (error instanceof Error && typeof (error as { code?: unknown }).code === 'string' && error.name in KIND_BY_NAME) {
    return (error as ImgpipeError).code;
  }
  return 'UNEXPECTED';
}

/** One line, bounded, safe to put in a message header or a database column. */
export function errorSummary(error: unknown, maxLength = 500): string {
  const text = error instanceof Error ? error.message : String(error);
  const oneLine = redactCredentials(text.replace(/\s+/g, ' ')).trim();
  return oneLine.length > maxLength ? `${oneLine.slice(0, maxLength - 1)}…` : oneLine;
}

/** `scheme://user:pass@host` → `scheme://***@host`, anywhere in `text`: logs and headers never carry credentials. */
export function redactCredentials(text: string): string {
  return text.replace(/\/\/[^/\s@]*@/g, '//***@');
}
