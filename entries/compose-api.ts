import type { FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { errorSummary } from '#functions/errors.ts';
import type { DependencyCheck } from '#functions/ports.ts';
import type { ApiConfig } from '#adapters/config.ts';
import { AmqpPublisher } from '#adapters/amqp/amqp-publisher.ts';
import { PgImagesRepo } from '#adapters/db/pg-images-repo.ts';
import { buildHttpApp } from '#adapters/http/build-http-app.ts';
import { startTelemetry } from '#adapters/telemetry/start-telemetry.ts';
import type { ShutdownPlan } from './shutdown-plan.ts';

export interface ComposedApi {
  /** Built, not listening: the server entry listens, the Lambda entry injects. */
  readonly app: FastifyInstance;
  /** Exports the spans ended so far (the Lambda entry calls it after each invocation). */
  flushTelemetry(): Promise<void>;
}

/**
 * The composition root shared by the API's server and Lambda entries:
 * telemetry first, then the Postgres repo and the RabbitMQ publisher, then
 * the HTTP app over them, each with its step in `shutdown`: the app stops
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

  const publisher = new AmqpPublisher({ url: config.rabbitUrl, config, log, connectionName: 'imgpipe api' });
  shutdown.add('close resources', 'broker', () => publisher.close());

  const dependencies: DependencyCheck[] = [
    { name: 'database', check: () => images.ping() },
    { name: 'broker', check: () => publisher.ping() },
  ];
  const app = buildHttpApp({
    enqueue: { images, publisher },
    task: { publisher },
    healthz: { dependencies },
    logger: log,
  });
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
