/**
 * The local function host (`dist/host.mjs`): the HTTP app and a worker in one
 * process, with embedded defaults so it runs on a laptop with nothing else:
 *
 * - no `DATABASE_URL` → an embedded PGlite database kept in
 *   `DATA_DIR/.embedded-db`, loaded from `db/init.sql`;
 * - no `RABBIT_URL` → an in-process queue with the broker's semantics; rows
 *   a previous run left enqueued go back to pending at start, since its
 *   queue died with it;
 * - no `PICSUM_URL` → picsum URLs go to this host's own sample source
 *   (`/samples`), so the seed rows process offline;
 * - `HOST` defaults to 127.0.0.1 and `DATA_DIR` to `./data`.
 *
 * Given `DATABASE_URL` or `RABBIT_URL`, the real service is used instead
 * (its schema loaded beforehand, as compose and k8s do); the handlers cannot
 * tell. `PORT=0` picks a free port. `GET /stats` reports the worker's
 * counters. Logs one `host ready` line with the actual URL once listening and
 * consuming.
 *
 * SIGTERM or SIGINT: stop the worker's intake, let its running jobs finish
 * (the HTTP server stays up meanwhile, since they may be downloading from its
 * sample source), then close the HTTP server; then the store, the database,
 * the publisher and the fetcher; flush telemetry last; exit 0.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { Logger as PinoLogger } from 'pino';
import type { DependencyCheck } from '#functions/ports.ts';
import type { Config } from '#adapters/config.ts';
import { EmbeddedImagesRepo } from '#adapters/db/embedded-images-repo.ts';
import { PgImagesRepo } from '#adapters/db/pg-images-repo.ts';
import { HttpImageFetcher } from '#adapters/fetch/http-image-fetcher.ts';
import { openHostWorker } from '#adapters/host/host-worker.ts';
import { findUp } from '#adapters/host/find-up.ts';
import { buildHttpApp } from '#adapters/http/build-http-app.ts';
import { localUrl } from '#adapters/http/local-url.ts';
import { registerStatsRoute } from '#adapters/http/stats-route.ts';
import { JobStats } from '#adapters/jobs/job-stats.ts';
import { processImageDeps } from '#adapters/jobs/process-image-deps.ts';
import { makeStore } from '#adapters/storage/make-store.ts';
import { startTelemetry } from '#adapters/telemetry/start-telemetry.ts';
import { DRAIN_TIMEOUT_MS } from './drain-timeout.ts';
import { runEntry } from './run-entry.ts';

await runEntry('host', async ({ config, log, shutdown }) => {
  const telemetry = await startTelemetry(config.otel, log);
  shutdown.add('flush telemetry', 'telemetry', () => telemetry.shutdown());

  const store = await makeStore(config, log);
  shutdown.add('close resources', 'store', () => store.close());

  const database = await openDatabase(config, log);
  shutdown.add('close resources', 'database', () => database.repo.close());

  const stats = new JobStats();
  const worker = openHostWorker({ config, log, drainTimeoutMs: DRAIN_TIMEOUT_MS, onSettled: (event) => stats.record(event) });
  shutdown.add('stop intake', 'worker intake', () => worker.stopIntake());
  shutdown.add('drain', 'running jobs', () => worker.drain());
  if (worker.queue === 'in-process') {
    const released = await database.repo.releaseEnqueued();
    if (released > 0) log.info({ released }, 'rows left enqueued by an earlier run are pending again');
  }

  const dependencies: DependencyCheck[] = [
    { name: 'database', check: () => database.repo.ping() },
    { name: 'broker', check: () => worker.publisher.ping() },
  ];
  const app = buildHttpApp({
    enqueue: { images: database.repo, publisher: worker.publisher },
    task: { publisher: worker.publisher },
    healthz: { dependencies },
    logger: log,
  });
  registerStatsRoute(app, () => ({ ...stats.snapshot(), queue: worker.depths() }));
  // Closed only after the running jobs: they may be downloading from this host's own sample source.
  shutdown.add('drain', 'http', () => app.close());
  shutdown.add('close resources', 'publisher', () => worker.closePublisher());
  await app.listen({ host: config.host, port: config.port });
  const { port } = app.server.address() as AddressInfo;

  // Built after listen: the sample source's port is known only now.
  const fetchOptions = config.picsumFromOwnSamples ? withOwnSampleSource(config.fetch, port) : config.fetch;
  const fetcher = new HttpImageFetcher(fetchOptions);
  shutdown.add('close resources', 'fetcher', () => fetcher.close());
  await worker.start(processImageDeps(config, { fetcher, store, images: database.repo }));

  return {
    url: localUrl(config.host, port),
    dataDir: config.storage === 'fs' ? resolve(config.dataDir) : undefined,
    storage: config.storage,
    database: database.kind,
    ...worker.describe(),
    picsumUrl: fetchOptions.picsumUrl,
    concurrency: config.concurrency,
    prefetch: config.prefetch,
  };
});

async function openDatabase(config: Config, log: PinoLogger): Promise<{ repo: PgImagesRepo | EmbeddedImagesRepo; kind: string }> {
  if (config.databaseUrl) return { repo: await PgImagesRepo.connect(config.databaseUrl), kind: 'postgres' };
  const schemaPath = findUp(join('db', 'init.sql'), import.meta.url);
  const dataDir = join(config.dataDir, '.embedded-db');
  const started = Date.now();
  const repo = await EmbeddedImagesRepo.open(readFileSync(schemaPath, 'utf8'), { dataDir });
  log.info({ schema: schemaPath, dataDir, ms: Date.now() - started }, 'embedded database open');
  return { repo, kind: 'embedded' };
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
