import type { FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { errorSummary } from '#functions/errors.ts';
import type { DependencyCheck } from '#functions/ports.ts';
import { required, type Config } from '#adapters/config.ts';
import { AmqpPublisher } from '#adapters/amqp/amqp-publisher.ts';
import { PgImagesRepo } from '#adapters/db/pg-images-repo.ts';
import { startTelemetry } from '#adapters/telemetry/start-telemetry.ts';
import { ShutdownSteps } from '#adapters/shutdown-steps.ts';
import { buildHttpApp } from './build-http-app.ts';
import { sharedCheck } from './shared-dependency-check.ts';

/** Readiness answers from a success this recent without asking the database and broker again. */
const READINESS_FRESH_MS = 1000;

export interface ComposedApi {
  /** Built, not listening: the server entry listens, the Lambda entry injects. */
  readonly app: FastifyInstance;
  /**
   * Stops intake first (`app.close()`), then closes the publisher, the
   * database pool and telemetry, each in its own try/catch. Safe to call
   * twice; resolves to false when a step failed (and was logged).
   */
  close(reason?: string): Promise<boolean>;
  /** Exports the spans ended so far (the Lambda entry calls it after each invocation). */
  flushTelemetry(): Promise<void>;
}

/**
 * The composition root shared by the API's server and Lambda entries:
 * telemetry first, then the Postgres repo and the RabbitMQ publisher, then
 * the HTTP app over them. Neither connection is opened here: both open on
 * first use and reopen after an outage, so the API starts while Postgres or
 * RabbitMQ is down; readiness (`GET /healthz`) says which, and requests that
 * need it answer 503 until it is back.
 *
 * @example
 * const api = await composeApi(loadConfig(process.env, 'api'), log);
 * await api.app.listen({ host: config.host, port: config.port });
 * process.once('SIGTERM', () => api.close());
 */
export async function composeApi(config: Config, log: PinoLogger): Promise<ComposedApi> {
  const steps = new ShutdownSteps('api', log);
  const close = (reason = 'shutdown'): Promise<boolean> => steps.close(reason);

  let flushTelemetry = async (): Promise<void> => {};
  try {
    const telemetry = await startTelemetry(config.otel, log);
    flushTelemetry = () => telemetry.flush();
    steps.add('telemetry', () => telemetry.shutdown());

    const images = await PgImagesRepo.connect(required(config.databaseUrl, 'DATABASE_URL', 'api'));
    steps.add('database', () => images.close());

    const publisher = new AmqpPublisher({ url: required(config.rabbitUrl, 'RABBIT_URL', 'api'), config, log, connectionName: 'imgpipe api' });
    steps.add('broker', () => publisher.close());

    const dependencies: DependencyCheck[] = [
      sharedCheck({ name: 'database', check: () => images.ping() }, { freshMs: READINESS_FRESH_MS }),
      sharedCheck({ name: 'broker', check: () => publisher.ping() }, { freshMs: READINESS_FRESH_MS }),
    ];
    const app = buildHttpApp({
      enqueue: { images, publisher },
      task: { publisher },
      healthz: { dependencies },
      logger: log,
    });
    steps.add('http', () => app.close());

    // Open both connections now rather than on the first request; an outage
    // is only logged, never fatal.
    for (const dependency of dependencies) {
      dependency.check().catch((error: unknown) => {
        log.warn({ dependency: dependency.name, err: errorSummary(error) }, 'dependency not reachable yet; readiness reports it');
      });
    }
    return { app, close, flushTelemetry };
  } catch (error) {
    await close();
    throw error;
  }
}
