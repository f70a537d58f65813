/*
 * What the OpenAPI document says about each route beyond its validation
 * schema (which stays in schemas.ts, the one source of truth for inputs): a
 * summary and an example answer, keyed by `METHOD /url` as Fastify registers it.
 */
const JSON_EXAMPLE = (description: string, example: unknown) => ({ description, type: 'object', example });
const BODY = (description: string, contentType: string) => ({ description, content: { [contentType]: { schema: { type: 'string' } } } });
const ERROR = (description: string, example: unknown) => ({ description, type: 'object', example });

const INVALID = ERROR('invalid input', { error: 'INVALID_INPUT', field: 'url', message: 'url: must use http or https' });
const UNAVAILABLE = ERROR('a dependency is down; retry after `Retry-After`', { error: 'BROKER_UNAVAILABLE', message: 'a dependency is unavailable; retry later' });

export interface RouteDoc {
  readonly summary: string;
  readonly description?: string;
  /** Open without the API key. */
  readonly open?: boolean;
  readonly response: Record<string, unknown>;
}

export const ROUTE_DOCS: Readonly<Record<string, RouteDoc>> = {
  'POST /enqueue': {
    summary: 'Publish one thumbnail job per pending row',
    description: 'Rows neither processed, failed nor already enqueued, in id order; a row is published once until it ends.',
    response: { 200: JSON_EXAMPLE('how many rows were published', { enqueued: 300 }), 400: INVALID, 503: UNAVAILABLE },
  },
  'POST /tasks': {
    summary: 'Publish one task',
    description: 'Without an id, one is derived from the url and ops: the same task always maps to the same output.',
    response: { 202: JSON_EXAMPLE('accepted: the job id', { id: 't-3q2Xk0m9bYy3yq0rL0mJq6n5M6H1o2fA' }), 400: INVALID, 503: UNAVAILABLE },
  },
  'GET /jobs/:id': {
    summary: "A job's record",
    response: {
      200: JSON_EXAMPLE('the record', {
        id: '42',
        url: 'https://picsum.photos/seed/42/1024/768',
        state: 'written',
        attempts: 1,
        error: null,
        output: { key: '42.jpg', location: '/data/42.jpg' },
        createdAt: '2026-01-01T12:00:00.000Z',
        updatedAt: '2026-01-01T12:00:01.250Z',
        finishedAt: '2026-01-01T12:00:01.250Z',
      }),
      404: ERROR('no job with this id', { error: 'NOT_FOUND', message: 'no job with id 42' }),
    },
  },
  'GET /dlq': {
    summary: 'Dead letters by error code, and the newest',
    response: {
      200: JSON_EXAMPLE('the dead-letter queue', {
        total: 3,
        byCode: { HTTP_404: 2, NOT_AN_IMAGE: 1 },
        newest: [{ id: 'cat', code: 'HTTP_404', message: 'GET images.example/cat.jpg answered 404', attempts: 1 }],
      }),
    },
  },
  'POST /dlq/replay': {
    summary: 'Send dead letters back to the queue',
    description: 'Republished with confirms and without the failure headers; each dead letter is removed only once its copy is confirmed.',
    response: { 200: JSON_EXAMPLE('what was replayed', { examined: 3, matched: 2, replayed: 2, failed: 0, dryRun: false }), 400: INVALID },
  },
  'GET /': { summary: 'The status page (HTML, refreshes itself)', response: { 200: BODY('the page', 'text/html') } },
  'GET /status': {
    summary: 'The status page as JSON',
    response: {
      200: JSON_EXAMPLE('rows, jobs, queue, throughput, failures, outputs', {
        rows: { total: 300, processed: 120, failed: 2, pending: 178 },
        jobs: { queued: 178, written: 118, skipped: 2, failed: 2 },
        endedLastMinute: 120,
        latestFailures: [{ id: '7', code: 'HTTP_404', message: 'GET … answered 404', at: '2026-01-01T12:00:00.000Z' }],
        newestOutputs: [{ id: '120', key: '120.jpg', at: '2026-01-01T12:00:00.000Z' }],
        queue: { queued: 178, deadLettered: 2, deadByCode: { HTTP_404: 2 } },
        throughputPerSecond: 2,
        generatedAt: '2026-01-01T12:00:05.000Z',
      }),
    },
  },
  'GET /thumbnails/:file': {
    summary: "A job's thumbnail (`<id>.jpg`)",
    response: { 200: BODY('the JPEG', 'image/jpeg'), 404: ERROR('not written (yet)', { error: 'NOT_FOUND', message: 'no thumbnail for job 42' }) },
  },
  'GET /healthz': {
    summary: 'Readiness (or liveness with ?probe=live)',
    open: true,
    response: {
      200: JSON_EXAMPLE('ready', { ok: true, checks: { database: 'up', broker: 'up' } }),
      503: JSON_EXAMPLE('a dependency is down', { ok: false, checks: { database: 'up', broker: 'down' } }),
    },
  },
  'GET /metrics': { summary: 'Prometheus metrics', response: { 200: BODY('Prometheus text format 0.0.4', 'text/plain') } },
  'GET /openapi.json': { summary: 'This document', response: { 200: JSON_EXAMPLE('OpenAPI 3', { openapi: '3.1.0' }) } },
  'GET /samples/seed/:seed/:width/:height': {
    summary: 'A deterministic sample JPEG (the offline picsum)',
    open: true,
    response: { 200: BODY('the JPEG', 'image/jpeg'), 304: { description: 'not modified' } },
  },
};
