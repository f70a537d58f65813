import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import sharp from 'sharp';
import type { Job } from '#functions/job.ts';
import { freePort } from '#test/support/free-port.ts';
import { startGatedImageSource, type GatedImageSource } from '#test/support/gated-image-source.ts';
import { startNodeProcess, type RunningProcess } from '#test/support/node-process.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/pg-database.ts';
import { createTestVhost, type TestVhost } from '#test/support/rabbit-vhost.ts';
import { waitUntil } from '#test/support/wait-until.ts';

/** Fresh Postgres database, RabbitMQ vhost, image source and data directory for one fault test file. */
export interface FaultWorld {
  readonly vhost: TestVhost;
  readonly database: TestDatabase;
  readonly source: GatedImageSource;
  readonly dataDir: string;
  close(): Promise<void>;
}

export interface Worker extends RunningProcess {
  readonly metricsPort: number;
  healthz(): Promise<number>;
}

export async function startFaultWorld(): Promise<FaultWorld> {
  const [vhost, database, source, dataDir] = await Promise.all([
    createTestVhost('imgpipe-faults'),
    createTestDatabase(),
    startGatedImageSource(),
    mkdtemp(join(tmpdir(), 'imgpipe-faults-')),
  ]);
  return {
    vhost,
    database,
    source,
    dataDir,
    async close() {
      await Promise.all([source.close(), database.drop(), vhost.delete(), rm(dataDir, { recursive: true, force: true })]);
    },
  };
}

/** The environment of a worker in `world`, with short retries and no per-host download limit; `overrides` win. */
export function workerEnv(world: FaultWorld, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    RABBIT_URL: world.vhost.url,
    DATABASE_URL: world.database.url,
    DATA_DIR: world.dataDir,
    URL_ALLOW_HOSTS: world.source.hostPort,
    HOST: '127.0.0.1',
    RETRY_BASE_MS: '50',
    RETRY_MAX_MS: '500',
    // Every job downloads from the one local source: let it use every job slot.
    FETCH_MAX_PER_HOST: '64',
    ...overrides,
  };
}

/** Starts `dist/worker.mjs` and resolves once its `/healthz` answers 200 (it consumes). */
export async function startWorker(env: Record<string, string>): Promise<Worker> {
  const metricsPort = await freePort();
  const process = startNodeProcess('dist/worker.mjs', { METRICS_PORT: String(metricsPort), ...env });
  const healthz = async () => (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status;
  await waitUntil('the worker to consume', async () => (await healthz()) === 200, 60_000);
  return Object.assign(process, { metricsPort, healthz });
}

/** Points rows 1..`count` of the seed table at the image source (`heldIds` at its gate) and returns their jobs. */
export async function tableJobs(world: FaultWorld, count: number, heldIds: ReadonlySet<string> = new Set()): Promise<Job[]> {
  const jobs = Array.from({ length: count }, (_, index): Job => {
    const id = String(index + 1);
    return { id, url: heldIds.has(id) ? world.source.heldUrl(id) : world.source.imageUrl(id), ops: ['thumbnail'] };
  });
  await world.database.query(
    `UPDATE images SET url = job.url
       FROM unnest($1::bigint[], $2::text[]) AS job(id, url) WHERE images.id = job.id`,
    [jobs.map((job) => job.id), jobs.map((job) => job.url)],
  );
  return jobs;
}

/** Where a worker's outputs land, as the checks read them. */
export interface Outputs {
  /** Output keys (`<id>.jpg`). */
  keys(): Promise<string[]>;
  read(key: string): Promise<Uint8Array>;
  /** Anything a writer left behind besides outputs (temp files), where a store has such things. */
  leftovers?(): Promise<string[]>;
}

/** The `<id>.jpg` outputs in the data directory. */
export async function outputsIn(dataDir: string): Promise<string[]> {
  return (await readdir(dataDir)).filter((name) => name.endsWith('.jpg'));
}

export function directoryOutputs(dataDir: string): Outputs {
  return {
    keys: () => outputsIn(dataDir),
    read: (key) => readFile(join(dataDir, key)),
    leftovers: async () => (await readdir(dataDir)).filter((name) => name.endsWith('.tmp')),
  };
}

export async function waitForOutputs(dataDir: string, count: number, timeoutMs = 120_000): Promise<void> {
  await waitForKeys(directoryOutputs(dataDir), count, timeoutMs);
}

async function waitForKeys(outputs: Outputs, count: number, timeoutMs = 120_000): Promise<void> {
  await waitUntil(`${count} outputs`, async () => (await outputs.keys()).length >= count, timeoutMs, 50);
}

/** Asserts that `image` decodes completely as a JPEG thumbnail. */
async function assertWholeThumbnail(image: Uint8Array, what: string): Promise<void> {
  const { info } = await sharp(image).raw().toBuffer({ resolveWithObject: true }).catch((error: unknown) => {
    throw new assert.AssertionError({ message: `${what} does not decode: ${String(error)}` });
  });
  assert.equal((await sharp(image).metadata()).format, 'jpeg', what);
  assert.ok(info.width > 0 && Math.max(info.width, info.height) <= 400, `${what} is ${info.width}x${info.height}`);
}

/** Takes every message off the dead-letter queue: message id → `x-error-code`. */
export async function drainDeadLetters(url: string): Promise<Map<string, string>> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const codes = new Map<string, string>();
    for (let message = await channel.get('images.dlx.q', { noAck: true }); message; message = await channel.get('images.dlx.q', { noAck: true })) {
      const headers = message.properties.headers ?? {};
      assert.ok(String(headers['x-error-message'] ?? '').length > 0, `dead letter ${message.properties.messageId} says why`);
      codes.set(String(message.properties.messageId), String(headers['x-error-code']));
    }
    return codes;
  } finally {
    await connection.close();
  }
}

/**
 * Waits until every job ended, then asserts how: each one written (a whole
 * JPEG, and a table job's row processed) or dead-lettered with the expected code, none lost,
 * no file left half-written or in a temp file, and nothing left in `images.q`.
 */
export async function expectEveryJobEnded(
  world: FaultWorld,
  jobs: readonly Job[],
  { deadLettered = new Map(), outputs = directoryOutputs(world.dataDir) }: { deadLettered?: ReadonlyMap<string, string>; outputs?: Outputs } = {},
): Promise<void> {
  await expectWritten(world, jobs.filter((job) => !deadLettered.has(job.id)), outputs);
  assert.deepEqual(await drainDeadLetters(world.vhost.url), deadLettered);
  await expectQueueEmpty(world.vhost.url);
}

/**
 * Waits until every job's output exists, then asserts that these are all the
 * outputs, each a whole JPEG, every table job's row processed, and no temp file left.
 */
export async function expectWritten(world: FaultWorld, jobs: readonly Job[], outputs = directoryOutputs(world.dataDir)): Promise<void> {
  const written = jobs.map((job) => job.id);
  await waitForKeys(outputs, written.length);
  const ids = written.filter((id) => /^\d+$/.test(id)).map(Number);
  await waitUntil('every written row processed', async () => {
    const [row] = await world.database.query<{ n: string }>('SELECT count(*) AS n FROM images WHERE processed AND id = ANY($1)', [ids]);
    return Number(row!.n) === ids.length;
  });

  if (outputs.leftovers) assert.deepEqual(await outputs.leftovers(), [], 'temp files left behind');
  assert.deepEqual((await outputs.keys()).sort(), written.map((id) => `${id}.jpg`).sort());
  for (const id of written) await assertWholeThumbnail(await outputs.read(`${id}.jpg`), `${id}.jpg`);
}

export async function expectQueueEmpty(url: string): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    assert.equal((await channel.checkQueue('images.q')).messageCount, 0, 'messages left in images.q');
  } finally {
    await connection.close();
  }
}
