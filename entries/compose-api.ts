import type { FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { errorSummary } from '#functions/errors.ts';
import type { DependencyCheck } from '#functions/ports.ts';
import type { ApiConfig } from '#adapters/config.ts';
import { AmqpDeadLetters } from '#adapters/amqp/amqp-dead-letters.ts';
import { AmqpPublisher } from '#adapters/amqp/amqp-publisher.ts';
import { CachedQueueMonitor } from '#adapters/amqp/cached-queue-monitor.ts';
import { PgImagesRepo } from '#adapters/db/pg-images-repo.ts';
import { ApiMetrics } from '#adapters/http/api-metrics.ts';
import { buildHttpApp } from '#adapters/http/build-http-app.ts';
import { sharedCheck } from '#adapters/http/shared-dependency-check.ts';
import { makeReadOnlyStore } from '#adapters/storage/make-store.ts';
import { StoreOnFirstRead } from '#adapters/storage/store-on-first-read.ts';
import { startTelemetry } from '#adapters/telemetry/start-telemetry.ts';
import type { ShutdownPlan } from './shutdown-plan.ts';

/** Readiness answers from a success this recent without asking the database and broker again. */
const READINESS_FRESH_MS = 1000;

export interface ComposedApi {
  /** Built, not listening: the server entry listens, the Lambda entry injects. */
  readonly app: FastifyInstance;
  /** Exports the spans ended so far (the Lambda entry calls it after each invocation). */
  flushTelemetry(): Promise<void>;
}

/**
 * The composition root shared by the API's server and Lambda entries:
 * telemetry first, then the Postgres repo, the RabbitMQ publisher, the
 * dead-letter queue and its cached depths, the store thumbnails are read from
 * (opened on first read), then the HTTP app over them, each with its step in
 * `shutdown`: the app stops
 * intake, the publisher and the pool close with the resources, telemetry
 * flushes last. Neither connection is opened here: both open on first use and
 * reopen after an outage, so the API starts while Postgres or RabbitMQ is
 * down; readiness (`GET /healthz`) says which, and requests that need it
 * answer 503 until it is back.
 *
 * @example
 * const api = await composeApi(config, log, shutdown);
 * await api.app.listen({ host: config.host, port: config.port });
 */
export async function composeApi(config: ApiConfig, log: PinoLogger, shutdown: ShutdownPlan): Promise<ComposedApi> {
  const telemetry = await startTelemetry(config.otel, log);
  shutdown.add('flush telemetry', 'telemetry', () => telemetry.shutdown());

  const images = await PgImagesRepo.connect(config.databaseUrl);
  shutdown.add('close resources', 'database', () => images.close());

  const amqpPublisher = new AmqpPublisher({ url: config.rabbitUrl, config, log, connectionName: 'imgpipe api' });
  shutdown.add('close resources', 'broker', () => amqpPublisher.close());
  // Opens a connection per call: nothing to close.
  const deadLetters = new AmqpDeadLetters({ url: config.rabbitUrl, config, jobs: images, connectionName: 'imgpipe api dlq' });
  const queueMonitor = new CachedQueueMonitor(() => deadLetters.queueStats());
  const metrics = new ApiMetrics({ queueMonitor, queues: config });
  const publisher = metrics.countPublished(amqpPublisher);

  const thumbnails = new StoreOnFirstRead(() => makeReadOnlyStore(config, log));
  shutdown.add('close resources', 'store', () => thumbnails.close());

  const dependencies: DependencyCheck[] = [
    sharedCheck({ name: 'database', check: () => images.ping() }, { freshMs: READINESS_FRESH_MS }),
    sharedCheck({ name: 'broker', check: () => publisher.ping() }, { freshMs: READINESS_FRESH_MS }),
  ];
  const app = buildHttpApp(
    {
      enqueue: { images, publisher },
      task: { publisher, jobs: images },
      healthz: { dependencies },
      jobs: images,
      deadLetters,
      queueMonitor,
      thumbnails,
      metrics,
      logger: log,
    },
    { apiKey: config.apiKey },
  );
  shutdown.add('stop intake', 'http', () => app.close());

  // Open both connections now rather than on the first request; an outage
  // is only logged, never fatal.
  for (const dependency of dependencies) {
    dependency.check().catch((error: unknown) => {
      log.warn({ dependency: dependency.name, err: errorSummary(error) }, 'dependency not reachable yet; readiness reports it');
    });
  }
  return { app, flushTelemetry: () => telemetry.flush() };
}
