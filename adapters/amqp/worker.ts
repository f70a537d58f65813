/**
 * The worker (`dist/worker.mjs`): consumes `QUEUE` on RabbitMQ and runs
 * `processImage` for each job, with Postgres for the table and `STORAGE` for
 * the outputs. `GET /healthz` and `GET /metrics` on `METRICS_PORT`.
 *
 * SIGTERM or SIGINT: stop intake, let running jobs finish (up to the drain
 * timeout), then close the consumer's channels and connection, the probe
 * server, the downloader's connections, the database pool, the store and
 * telemetry, in that order; exit 0.
 */
import { errorSummary } from '#functions/errors.ts';
import { loadConfigOrExit } from '#adapters/load-config-or-exit.ts';
import { ShutdownSteps } from '#adapters/shutdown-steps.ts';
import { PgImagesRepo } from '#adapters/db/pg-images-repo.ts';
import { HttpImageFetcher } from '#adapters/fetch/http-image-fetcher.ts';
import { processImageDeps } from '#adapters/jobs/process-image-deps.ts';
import { createLogger } from '#adapters/logger.ts';
import { makeStore } from '#adapters/storage/make-store.ts';
import { startTelemetry } from '#adapters/telemetry/start-telemetry.ts';
import { AmqpConsumer } from './amqp-consumer.ts';
import { WorkerMetrics } from './worker-metrics.ts';
import { startWorkerProbeServer } from './worker-probe-server.ts';

/** Below Kubernetes' default 30 s grace period, so the broker sees clean requeues rather than a kill. */
const DRAIN_TIMEOUT_MS = 25_000;

async function main(): Promise<void> {
  const config = loadConfigOrExit('worker');
  const log = createLogger(config);
  const closers = new ShutdownSteps('worker', log);
  const close = (reason: string): Promise<boolean> => closers.close(reason);

  try {
    const telemetry = await startTelemetry(config.otel, log);
    closers.add('telemetry', () => telemetry.shutdown());

    const store = await makeStore(config, log);
    closers.add('store', () => store.close());

    const images = await PgImagesRepo.connect(config.databaseUrl);
    closers.add('database', () => images.close());

    const fetcher = new HttpImageFetcher(config.fetch);
    closers.add('fetcher', () => fetcher.close());

    const deps = processImageDeps(config, { fetcher, store, images });
    const metrics = new WorkerMetrics();
    const consumer = new AmqpConsumer({
      url: config.rabbitUrl,
      config,
      deps,
      log,
      drainTimeoutMs: DRAIN_TIMEOUT_MS,
      onSettled: (event) => metrics.record(event),
    });

    const probe = await startWorkerProbeServer({
      host: config.host,
      port: config.metricsPort,
      isReady: () => consumer.consuming,
      registry: metrics.registry,
      log,
    });
    closers.add('probe server', () => probe.close());
    closers.add('consumer', () => consumer.close());

    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        void close(signal).finally(() => process.exit(0));
      });
    }

    await consumer.start();
    if (!closers.closing) {
      log.info(
        {
          queue: config.queue,
          storage: config.storage,
          concurrency: config.concurrency,
          prefetch: config.prefetch,
          maxAttempts: config.maxAttempts,
          metricsPort: probe.port,
        },
        'worker ready',
      );
    }
  } catch (error) {
    log.fatal({ err: errorSummary(error) }, 'worker failed to start');
    await close('startup failed');
    process.exit(1);
  }
}

await main();
