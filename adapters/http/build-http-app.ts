import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { enqueue, type EnqueueDeps } from '#functions/enqueue.ts';
import { errorSummary } from '#functions/errors.ts';
import type { HealthzDeps } from '#functions/healthz.ts';
import { validateJob } from '#functions/job.ts';
import type { DeadLetterQueue, ImageStore, JobsRepo, QueueMonitor } from '#functions/ports.ts';
import { task, type TaskDeps } from '#functions/task.ts';
import { httpTracing } from '#adapters/telemetry/http-tracing.ts';
import { apiKeyAuth } from './api-key-auth.ts';
import type { ApiMetrics } from './api-metrics.ts';
import { discardRequestBody } from './discard-request-body.ts';
import { mapHttpError } from './error-mapping.ts';
import { registerOpenApi } from './openapi.ts';
import { dlqRoute } from './dlq-route.ts';
import { healthzRoute } from './healthz-route.ts';
import { jobsRoute } from './jobs-route.ts';
import { samplesRoute } from './samples-route.ts';
import { statusRoute } from './status-route.ts';
import { enqueueSchema, taskSchema, type EnqueueQuery } from './schemas.ts';
import { validatorCompiler } from './validator-compiler.ts';

/** The ports each handler needs, built once by the entry point; never config or env. */
export interface HttpAppDeps {
  readonly enqueue: EnqueueDeps;
  readonly task: TaskDeps;
  readonly healthz: HealthzDeps;
  /** The job records behind `GET /jobs/:id` and the status page (the routes exist only when given). */
  readonly jobs?: JobsRepo;
  /** The queue depths on the status page; without it the page says there is no broker. */
  readonly queueMonitor?: QueueMonitor;
  /** Where `GET /thumbnails/<id>.jpg` reads from (the route exists only when given). */
  readonly thumbnails?: Pick<ImageStore, 'read'>;
  /** The dead-letter queue behind `GET /dlq` and `POST /dlq/replay` (routes exist only when given). */
  readonly deadLetters?: DeadLetterQueue;
  /** Request counts, enqueue batch sizes and `GET /metrics` (none when absent). */
  readonly metrics?: ApiMetrics;
  /** Request logs go here (pino); none when absent. */
  readonly logger?: FastifyBaseLogger;
}

export interface HttpAppOptions {
  /** Largest accepted request body, in bytes (default 16 KiB: a task is well under 3 KiB). */
  readonly bodyLimit?: number;
  /** `API_KEY`: when set, every route but `/healthz` and `/samples` needs it. */
  readonly apiKey?: string | undefined;
}

export const DEFAULT_BODY_LIMIT = 16 * 1024;

// Probes and the sample source are hit constantly and would bury the traces that matter.
const UNTRACED = (route: string | undefined) => route === '/healthz' || route === '/metrics' || route?.startsWith('/samples/') === true;

/**
 * The HTTP adapter: translates requests into handler calls and handler
 * results and errors into responses (one table, `error-mapping.ts`). It never
 * listens: the server entry listens, the Lambda entry wraps it, tests use
 * `app.inject()`.
 *
 * - `POST /enqueue?limit=N` (1..10000, default 200) → 200 `{ enqueued }`
 * - `POST /tasks` `{ url, ops? | outputs?, id? }` → 202 `{ id }`
 * - `GET /healthz` → readiness: 200 or 503 with `checks` per dependency;
 *   `GET /healthz?probe=live` → 200 `{ ok: true }`, touching no dependency;
 *   a successful probe writes no log line (`healthz-route.ts`)
 * - `GET /` → the status page (HTML); `GET /status` → the same as JSON;
 *   `GET /thumbnails/<id>.jpg` → a job's thumbnail
 * - `GET /jobs/:id` → the job's record (state, attempts, error, output, timestamps), 404 when unknown
 * - `GET /dlq?newest=N` → dead letters by error code and the newest N; `POST /dlq/replay`
 *   `{ code?, id?, limit?, dryRun? }` → the replay's summary
 * - `GET /metrics` → Prometheus text (when given `metrics`)
 * - `GET /openapi.json` → this api as OpenAPI 3.1; `GET /docs` → Swagger UI
 * - `GET /samples/seed/<seed>/<w>/<h>` → the deterministic sample JPEG
 *
 * @example
 * const app = buildHttpApp({ enqueue: { images, publisher }, task: { publisher, jobs }, healthz: { dependencies } });
 * const response = await app.inject({ method: 'POST', url: '/enqueue?limit=5' });
 */
export function buildHttpApp(deps: HttpAppDeps, options: HttpAppOptions = {}): FastifyInstance {
  const app: FastifyInstance = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
  });
  app.setValidatorCompiler(validatorCompiler());

  // JSON only: anything else is a 415. An empty JSON body counts as no body, so
  // `POST /enqueue` works whether or not the client sends a content type.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text === '') done(null, undefined);
    else parseJson(request, text, done);
  });

  app.setErrorHandler(async (error, request, reply) => {
    await discardRequestBody(request.raw);
    const mapped = mapHttpError(error);
    // A dependency outage is expected and reported by readiness: one line, no stack.
    if (mapped.status === 503) request.log.warn({ err: errorSummary(error) }, 'dependency unavailable');
    else if (mapped.status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(mapped.status).headers(mapped.headers).send(mapped.body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'NOT_FOUND', message: `no route for ${request.method} ${request.url.split('?', 1)[0]}` }),
  );

  app.register(httpTracing, { skip: UNTRACED });
  if (options.apiKey) apiKeyAuth(app, options.apiKey);

  const metrics = deps.metrics;
  if (metrics) {
    app.addHook('onResponse', async (request, reply) => {
      metrics.recordRequest(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
    });
  }
  // Before the routes, so that it sees them all.
  registerOpenApi(app);

  app.register(async (routes) => {
    if (metrics) {
      routes.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
    }

    routes.post<{ Querystring: EnqueueQuery }>('/enqueue', { schema: enqueueSchema }, async (request) => {
      const result = await enqueue({ limit: request.query.limit }, deps.enqueue);
      metrics?.recordEnqueue(result.enqueued);
      return result;
    });

    // The route declares the job schema but validates with the job module, so HTTP,
    // messages and the CLI accept exactly the same bodies (no coercion, no defaults).
    routes.post('/tasks', { schema: taskSchema, validatorCompiler: () => validateTaskBody }, async (request, reply) => {
      const accepted = await task(request.body, deps.task);
      return reply.code(202).send(accepted);
    });
  });
  app.register(healthzRoute, deps.healthz);

  if (deps.jobs) {
    app.register(jobsRoute, { jobs: deps.jobs, store: deps.thumbnails });
    app.register(statusRoute, { jobs: deps.jobs, queue: deps.queueMonitor, clock: { now: () => Date.now() }, thumbnails: deps.thumbnails });
  }
  if (deps.deadLetters) app.register(dlqRoute, { deadLetters: deps.deadLetters });
  app.register(samplesRoute);
  return app;
}

function validateTaskBody(body: unknown): true | { error: Error } {
  try {
    validateJob(body);
    return true;
  } catch (error) {
    return { error: error as Error };
  }
}
