import { errorKind, type InvalidInputError, type ErrorKind } from '#functions/errors.ts';
import { invalidInputOf, type SchemaIssue } from '#functions/schema-issue.ts';

/** What the HTTP adapter answers for a thrown value. */
export interface HttpErrorResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: { readonly error: string; readonly message: string; readonly field?: string };
}

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 5;

/** The part of the request each of Fastify's own client errors is about. */
const FASTIFY_ERROR_FIELDS: Readonly<Record<string, string>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'body',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'body',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'content-length',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'content-type',
};

const IMGPIPE_ERRORS = new Set(['InvalidInputError', 'PermanentError', 'TransientError']);

/**
 * The one error-mapping table of the HTTP adapter (docs/architecture.md, "Errors"):
 *
 * | thrown                                | status | body                                      |
 * | ------------------------------------- | ------ | ----------------------------------------- |
 * | `InvalidInputError`, schema violation | 400    | `{ error: 'INVALID_INPUT', field, message }` |
 * | `PermanentError`                      | 422    | `{ error: code, message }`                 |
 * | `TransientError`                      | 503    | `{ error: code, message }` + `retry-after`, message generic |
 * | Fastify's own 4xx (413, 415, bad JSON) | as is  | `{ error: code, field?, message }`         |
 * | anything else                         | 500    | `{ error: 'INTERNAL', message }`, message generic |
 *
 * Classified by error `name` ({@link errorKind}) and Fastify's `statusCode`,
 * never by message text. Messages are exposed only below 500.
 */
export function mapHttpError(error: unknown): HttpErrorResponse {
  const invalid = asInvalidInput(error);
  if (invalid) {
    return { status: 400, headers: {}, body: { error: invalid.code, field: invalid.field, message: invalid.message } };
  }
  if (error instanceof Error && IMGPIPE_ERRORS.has(error.name)) {
    return BY_KIND[errorKind(error)](error as Error & { code: string });
  }
  const fastifyStatus = clientStatus(error);
  if (fastifyStatus !== undefined) {
    const { code, message } = error as { code?: unknown; message: string };
    const field = typeof code === 'string' ? FASTIFY_ERROR_FIELDS[code] : undefined;
    return { status: fastifyStatus, headers: {}, body: { error: typeof code === 'string' ? code : 'BAD_REQUEST', ...(field && { field }), message } };
  }
  return { status: 500, headers: {}, body: { error: 'INTERNAL', message: 'internal error' } };
}

const BY_KIND: Record<ErrorKind, (error: Error & { code: string }) => HttpErrorResponse> = {
  invalid: (error) => ({ status: 400, headers: {}, body: { error: error.code, message: error.message } }),
  permanent: (error) => ({ status: 422, headers: {}, body: { error: error.code, message: error.message } }),
  transient: (error) => ({
    status: 503,
    headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
    body: { error: error.code, message: 'a dependency is unavailable; retry later' },
  }),
};

/** The error as an {@link InvalidInputError}: itself, or Fastify's schema violation translated. */
function asInvalidInput(error: unknown): InvalidInputError | undefined {
  if (error instanceof Error && error.name === 'InvalidInputError') return error as InvalidInputError;
  const validation = (error as { validation?: unknown } | null)?.validation;
  if (!Array.isArray(validation) || validation.length === 0) return undefined;
  const part = String((error as { validationContext?: unknown }).validationContext ?? 'request');
  return invalidInputOf(validation as SchemaIssue[], part, { cause: error });
}

/** Fastify's own client errors (body too large, unsupported media type, bad JSON) carry their status. */
function clientStatus(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}
