/**
 * The local function host (`dist/host.mjs`): the HTTP app and a worker in one
 * process, with embedded defaults so it runs on a laptop with nothing else:
 *
 * - no `DATABASE_URL` → an in-memory PGlite loaded from `db/init.sql`;
 * - no `RABBIT_URL` → an in-process queue with the broker's semantics;
 * - no `PICSUM_URL` → picsum URLs go to this host's own sample source
 *   (`/samples`), so the seed rows process offline;
 * - `HOST` defaults to 127.0.0.1 and `DATA_DIR` to `./data`.
 *
 * Given `DATABASE_URL` or `RABBIT_URL`, the real service is used instead
 * (its schema loaded beforehand, as compose and k8s do); the handlers cannot
 * tell. `PORT=0` picks a free port. Logs one `host ready` line with the actual
 * URL once listening and consuming.
 *
 * SIGTERM or SIGINT: stop the worker's intake and drain it (running jobs finish,
 * up to the drain timeout; the HTTP server stays up meanwhile, since they may be
 * downloading from its sample source), then close the HTTP server, the
 * publisher, the fetcher, the database, the store and telemetry, each step in
 * its own try/catch; exit 0.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { DependencyCheck, ImagesRepo, JobPublisher, JobsRepo } from '#functions/ports.ts';
import type { ProcessImageDeps } from '#functions/process-image.ts';
import { errorSummary } from '#functions/errors.ts';
import type { Config } from '#adapters/config.ts';
import { loadConfigOrExit } from '#adapters/load-config-or-exit.ts';
import { ShutdownSteps } from '#adapters/shutdown-steps.ts';
import { createLogger } from '#adapters/logger.ts';
import { startTelemetry } from '#adapters/telemetry/start-telemetry.ts';
import { buildHttpApp } from '#adapters/http/build-http-app.ts';
import { makeStore } from '#adapters/storage/make-store.ts';
import { HttpImageFetcher } from '#adapters/fetch/http-image-fetcher.ts';
import { localUrl } from '#adapters/http/local-url.ts';
import { processImageDeps } from '#adapters/jobs/process-image-deps.ts';
import { PgImagesRepo } from '#adapters/db/pg-images-repo.ts';
import { EmbeddedImagesRepo } from '#adapters/db/embedded-images-repo.ts';
import { AmqpConsumer } from '#adapters/amqp/amqp-consumer.ts';
import { AmqpPublisher } from '#adapters/amqp/amqp-publisher.ts';
import { describeBroker } from '#adapters/amqp/connect.ts';
import { InProcessQueue } from './in-process-queue.ts';

type Log = ReturnType<typeof createLogger>;

/** How long shutdown lets running jobs finish before handing them back, as the worker does. */
const DRAIN_TIMEOUT_MS = 25_000;

/** A worker's consumer, whichever queue feeds it. */
interface Consumer {
  start(deps: ProcessImageDeps): Promise<void>;
  /** Stops intake and lets running jobs finish (up to the drain timeout). */
  stop(): Promise<void>;
  /** After the HTTP server has closed: nothing publishes any more. */
  closePublisher(): Promise<void>;
  describe(): Record<string, unknown>;
}

async function main(): Promise<void> {
  const config = loadConfigOrExit('host');
  const log = createLogger(config);
  const closers = new ShutdownSteps('host', log);
  const close = (reason: string): Promise<boolean> => closers.close(reason);

  try {
    const telemetry = await startTelemetry(config.otel, log);
    closers.add('telemetry', () => telemetry.shutdown());

    const store = await makeStore(config, log);
    closers.add('store', () => store.close());

    const images = await openImagesRepo(config, log);
    closers.add('database', () => images.close());

    // Closed after the queue stops (closers run in reverse), so draining jobs can still download.
    let fetcher: HttpImageFetcher | undefined;
    closers.add('fetcher', async () => fetcher?.close());

    const { publisher, consumer } = await openQueue(config, log);
    closers.add('publisher', () => consumer.closePublisher());

    const dependencies: DependencyCheck[] = [
      { name: 'database', check: () => images.repo.ping() },
      { name: 'broker', check: () => publisher.ping() },
    ];
    const app: FastifyInstance = buildHttpApp({
      enqueue: { images: images.repo, publisher },
      task: { publisher, jobs: images.repo },
      healthz: { dependencies },
      jobs: images.repo,
      thumbnails: store,
      logger: log,
    }, { apiKey: config.apiKey });
    closers.add('http', () => app.close());
    // Drained before the HTTP server closes (closers run in reverse): running
    // jobs may be downloading from this host's own sample source.
    closers.add('worker', () => consumer.stop());
    await app.listen({ host: config.host, port: config.port });
    const { port } = app.server.address() as AddressInfo;
    const url = localUrl(config.host, port);

    // Built after listen: the sample source's port is known only now.
    const fetchOptions = config.picsumFromOwnSamples ? withOwnSampleSource(config.fetch, port) : config.fetch;
    await consumer.start(processImageDeps(config, { fetcher: (fetcher = new HttpImageFetcher(fetchOptions)), store, images: images.repo }));

    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        void close(signal).finally(() => process.exit(0));
      });
    }
    log.info(
      {
        url,
        dataDir: config.storage === 'fs' ? resolve(config.dataDir) : undefined,
        storage: config.storage,
        database: images.kind,
        ...consumer.describe(),
        picsumUrl: fetchOptions.picsumUrl,
        concurrency: config.concurrency,
        prefetch: config.prefetch,
      },
      'host ready',
    );
  } catch (error) {
    log.fatal({ err: errorSummary(error) }, 'host failed to start');
    await close('startup failed');
    process.exit(1);
  }
}

async function openImagesRepo(config: Config, log: Log): Promise<{ repo: ImagesRepo & JobsRepo; kind: string; close(): Promise<void> }> {
  if (config.databaseUrl) {
    const repo = await PgImagesRepo.connect(config.databaseUrl);
    return { repo, kind: 'postgres', close: () => repo.close() };
  }
  const schemaPath = findUp(join('db', 'init.sql'));
  const started = Date.now();
  const repo = await EmbeddedImagesRepo.open(readFileSync(schemaPath, 'utf8'));
  log.info({ schema: schemaPath, ms: Date.now() - started }, 'embedded database loaded');
  return { repo, kind: 'embedded', close: () => repo.close() };
}

async function openQueue(config: Config, log: Log): Promise<{ publisher: JobPublisher; consumer: Consumer }> {
  if (config.rabbitUrl) return openRabbitQueue(config, log);
  const queue = new InProcessQueue({
    destination: { exchange: config.exchange, routingKey: config.routingKey },
    prefetch: config.prefetch,
    concurrency: config.concurrency,
    maxAttempts: config.maxAttempts,
    retryBaseMs: config.retryBaseMs,
    retryMaxMs: config.retryMaxMs,
    log,
  });
  const consumer: Consumer = {
    async start(deps) {
      queue.consume(deps);
    },
    async stop() {
      await queue.close({ graceMs: DRAIN_TIMEOUT_MS });
      const stats = queue.stats();
      log.info({ ...stats }, 'in-process queue closed');
      // In-memory messages end with the process. With the embedded database the
      // rows reload as pending on the next start; with Postgres they stay enqueued.
      if (stats.ready + stats.delayed > 0) {
        log.warn({ dropped: stats.ready + stats.delayed }, 'unfinished in-process jobs dropped at shutdown');
      }
    },
    // Closing the queue already refuses new jobs (HTTP 503 while the server drains).
    async closePublisher() {},
    describe: () => ({ queue: 'in-process' }),
  };
  return { publisher: queue, consumer };
}

async function openRabbitQueue(config: Config, log: Log): Promise<{ publisher: JobPublisher; consumer: Consumer }> {
  const url = config.rabbitUrl!;
  const publisher = new AmqpPublisher({ url, config, log, connectionName: 'imgpipe host publisher' });
  let amqpConsumer: AmqpConsumer | undefined;
  const consumer: Consumer = {
    async start(deps) {
      amqpConsumer = new AmqpConsumer({ url, config, deps, log, drainTimeoutMs: DRAIN_TIMEOUT_MS, connectionName: 'imgpipe host worker' });
      await amqpConsumer.start();
    },
    async stop() {
      await amqpConsumer?.close();
    },
    closePublisher: () => publisher.close(),
    describe: () => ({ queue: 'rabbitmq', broker: describeBroker(url) }),
  };
  return { publisher, consumer };
}

/** Picsum URLs go to this host's own `/samples`, which the downloader may reach although it is on loopback. */
function withOwnSampleSource(fetch: Config['fetch'], port: number): Config['fetch'] {
  const self = `127.0.0.1:${port}`;
  return {
    ...fetch,
    picsumUrl: `http://${self}/samples`,
    allowHosts: fetch.allowHosts.includes(self) ? fetch.allowHosts : [...fetch.allowHosts, self],
  };
}

/** `db/init.sql` beside the sources (`adapters/host/`) or the bundle (`dist/`). */
function findUp(relative: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${relative} not found above ${dirname(fileURLToPath(import.meta.url))}`);
    dir = parent;
  }
}

await main();
