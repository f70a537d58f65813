/**
 * The worker (`dist/worker.mjs`): consumes `QUEUE` on RabbitMQ and runs
 * `processImage` for each job, with Postgres for the table and `STORAGE` for
 * the outputs. `GET /healthz` and `GET /metrics` on `METRICS_PORT`.
 *
 * SIGTERM or SIGINT: stop intake, let running jobs finish (up to the drain
 * timeout) and close the broker connection, then close the store, the
 * database pool, the downloader and the probe server, and flush telemetry;
 * exit 0.
 */
import { AmqpConsumer } from '#adapters/amqp/amqp-consumer.ts';
import { WorkerMetrics } from '#adapters/amqp/worker-metrics.ts';
import { startWorkerProbeServer } from '#adapters/amqp/worker-probe-server.ts';
import { PgImagesRepo } from '#adapters/db/pg-images-repo.ts';
import { HttpImageFetcher } from '#adapters/fetch/http-image-fetcher.ts';
import { processImageDeps } from '#adapters/jobs/process-image-deps.ts';
import { makeStore } from '#adapters/storage/make-store.ts';
import { startTelemetry } from '#adapters/telemetry/start-telemetry.ts';
import { DRAIN_TIMEOUT_MS } from './drain-timeout.ts';
import { runEntry } from './run-entry.ts';

await runEntry('worker', async ({ config, log, shutdown }) => {
  const telemetry = await startTelemetry(config.otel, log);
  shutdown.add('flush telemetry', 'telemetry', () => telemetry.shutdown());

  const store = await makeStore(config, log);
  shutdown.add('close resources', 'store', () => store.close());

  const images = await PgImagesRepo.connect(config.databaseUrl);
  shutdown.add('close resources', 'database', () => images.close());

  const fetcher = new HttpImageFetcher(config.fetch);
  shutdown.add('close resources', 'fetcher', () => fetcher.close());

  const metrics = new WorkerMetrics();
  const consumer = new AmqpConsumer({
    url: config.rabbitUrl,
    config,
    deps: processImageDeps(config, { fetcher, store, images }),
    log,
    drainTimeoutMs: DRAIN_TIMEOUT_MS,
    onSettled: (event) => metrics.record(event),
  });
  shutdown.add('stop intake', 'consumer', () => consumer.stopIntake());
  shutdown.add('drain', 'running jobs', () => consumer.close());

  const probe = await startWorkerProbeServer({
    host: config.host,
    port: config.metricsPort,
    isReady: () => consumer.consuming,
    registry: metrics.registry,
    log,
  });
  shutdown.add('close resources', 'probe server', () => probe.close());

  await consumer.start();
  return {
    queue: config.queue,
    storage: config.storage,
    concurrency: config.concurrency,
    prefetch: config.prefetch,
    maxAttempts: config.maxAttempts,
    metricsPort: probe.port,
  };
});
