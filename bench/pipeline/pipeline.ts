import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '#test/support/free-port.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/pg-database.ts';
import { createTestVhost, type TestVhost } from '#test/support/rabbit-vhost.ts';
import { answers200, poll, startProcess, type BenchProcess } from './processes.ts';

export interface PipelineOptions {
  /** Rows in the fresh `images` table: `<urlBase><n>.jpg` for n = 1..rows. */
  readonly rows: number;
  readonly urlBase: string;
  readonly allowHosts: string;
  readonly workers: number;
  /** Environment under everything else for the api and the workers: the container image's. */
  readonly baseEnv?: Readonly<Record<string, string>>;
  /** Environment for the api and every worker (storage, tracing, …). */
  readonly env?: Readonly<Record<string, string>>;
  /** Environment for the workers only (concurrency, allocator, …). */
  readonly workerEnv?: Readonly<Record<string, string>>;
  readonly logDir: string;
  /** Node flags for the api and the workers (e.g. `--cpu-prof`). */
  readonly apiNodeArgs?: readonly string[];
  readonly workerNodeArgs?: readonly string[];
}

export interface Pipeline {
  readonly apiUrl: string;
  readonly database: TestDatabase;
  readonly vhost: TestVhost;
  readonly workers: readonly BenchProcess[];
  readonly api: BenchProcess;
  /** Rows that ended (processed or failed). */
  ended(): Promise<{ processed: number; failed: number }>;
  close(): Promise<void>;
}

/**
 * `dist/http.mjs` and N `dist/worker.mjs` as real processes on a fresh
 * database and vhost of the local Postgres and RabbitMQ, with a fresh data
 * directory; resolves once the api answers `/healthz` and every worker consumes.
 */
export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const vhost = await createTestVhost('imgpipe-bench');
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'imgpipe-bench-data-'));
  const started: BenchProcess[] = [];
  // One connection for every poll of a run: a connection per poll costs Postgres a backend start
  // each time, which on two cores took ~3 ms of CPU per image from the pipeline being measured.
  const poller = new pg.Client({ connectionString: database.url });
  const close = async () => {
    await poller.end().catch(() => {});
    await Promise.all(started.map((process) => process.stop()));
    await database.drop();
    await vhost.delete();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await poller.connect();
    await database.query('TRUNCATE images RESTART IDENTITY');
    await database.query(`INSERT INTO images (url) SELECT $1 || n || '.jpg' FROM generate_series(1, $2::int) AS n ORDER BY n`, [
      options.urlBase,
      options.rows,
    ]);
    const shared = {
      ...options.baseEnv,
      RABBIT_URL: vhost.url,
      DATABASE_URL: database.url,
      DATA_DIR: dataDir,
      URL_ALLOW_HOSTS: options.allowHosts,
      HOST: '127.0.0.1',
      ...options.env,
    };
    const apiPort = await freePort();
    const api = await startProcess('api', 'dist/http.mjs', { ...shared, PORT: String(apiPort) }, options.logDir, options.apiNodeArgs);
    started.push(api);
    const workers: BenchProcess[] = [];
    const probes: string[] = [];
    for (let index = 0; index < options.workers; index += 1) {
      const metricsPort = await freePort();
      const worker = await startProcess(`worker-${index + 1}`, 'dist/worker.mjs', { ...shared, METRICS_PORT: String(metricsPort), ...options.workerEnv }, options.logDir, options.workerNodeArgs);
      started.push(worker);
      workers.push(worker);
      probes.push(`http://127.0.0.1:${metricsPort}/healthz`);
    }
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await poll('the api', () => answers200(`${apiUrl}/healthz`), 60_000, 50);
    for (const probe of probes) await poll('a worker', () => answers200(probe), 60_000, 50);
    return {
      apiUrl,
      database,
      vhost,
      workers,
      api,
      async ended() {
        const { rows } = await poller.query<{ processed: number; failed: number }>(
          'SELECT count(*) FILTER (WHERE processed)::int AS processed, count(*) FILTER (WHERE failed_at IS NOT NULL)::int AS failed FROM images',
        );
        return rows[0]!;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** `POST /enqueue?limit=N`, checked: every row must be published. */
export async function enqueue(apiUrl: string, limit: number): Promise<void> {
  const response = await fetch(`${apiUrl}/enqueue?limit=${limit}`, { method: 'POST' });
  const body = (await response.json()) as { enqueued?: number };
  if (response.status !== 200 || body.enqueued !== limit) {
    throw new Error(`POST /enqueue?limit=${limit} answered ${response.status} ${JSON.stringify(body)}`);
  }
}

/** Enqueues every row and waits until all of them ended; throws if any failed. Returns seconds. */
export async function runAll(pipeline: Pipeline, rows: number, onProgress?: (done: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  await enqueue(pipeline.apiUrl, rows);
  const counts = await poll(
    `${rows} rows to end`,
    async () => {
      const ended = await pipeline.ended();
      await onProgress?.(ended.processed + ended.failed);
      return ended.processed + ended.failed >= rows ? ended : undefined;
    },
    30 * 60_000,
    25,
  );
  const seconds = (performance.now() - started) / 1000;
  if (counts.failed > 0) throw new Error(`${counts.failed} of ${rows} jobs failed: see ${pipeline.workers[0]?.logFile}`);
  return seconds;
}
