import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { pino } from 'pino';
import { loadConfig } from '#adapters/config.ts';
import { AmqpPublisher } from '#adapters/amqp/amqp-publisher.ts';
import { PgImagesRepo } from '#adapters/db/pg-images-repo.ts';
import { DEFAULT_OPS } from '#functions/ops.ts';
import { runCli } from '#test/support/cli-process.ts';
import { countVhostConnections } from '#test/support/rabbit-admin.ts';
import { freePort } from '#test/support/free-port.ts';
import { startImageSource, type ImageSource } from '#test/support/image-source.ts';
import { startNodeProcess, type RunningProcess } from '#test/support/node-process.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/pg-database.ts';
import { createTestVhost, type TestVhost } from '#test/support/rabbit-vhost.ts';
import { waitUntil } from '#test/support/wait-until.ts';

const JOBS = 50;
const CRASH_AFTER = 20;
const config = loadConfig({}, 'worker');

describe('imgpipe dlq replay, killed midway, then run again', () => {
  let vhost: TestVhost;
  let database: TestDatabase;
  let source: ImageSource;
  let dataDir: string;
  let connection: ChannelModel;
  let channel: Channel;
  let worker: RunningProcess | undefined;
  let env: Record<string, string>;

  const depth = async (queue: string) => (await channel.checkQueue(queue)).messageCount;

  before(async () => {
    vhost = await createTestVhost();
    database = await createTestDatabase();
    source = await startImageSource();
    dataDir = await mkdtemp(join(tmpdir(), 'imgpipe-dlq-'));
    await database.query(`UPDATE images SET url = $1 || '/images/' || id || '.jpg'`, [source.origin]);
    env = { RABBIT_URL: vhost.url, DATABASE_URL: database.url, DATA_DIR: dataDir, HOST: '127.0.0.1' };
    connection = await amqp.connect(vhost.url);
    channel = await connection.createChannel();
  });

  after(async () => {
    await worker?.stop();
    await connection?.close();
    await source?.close();
    await database?.drop();
    await vhost?.delete();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function startWorker(extra: Record<string, string>): Promise<RunningProcess> {
    const metricsPort = await freePort();
    const started = startNodeProcess('dist/worker.mjs', { ...env, METRICS_PORT: String(metricsPort), ...extra });
    await waitUntil('the worker to consume', async () => (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).ok);
    return started;
  }

  it('dead-letters 50 jobs whose source the worker may not reach', async () => {
    // No URL_ALLOW_HOSTS: the loopback source is refused, permanently.
    worker = await startWorker({});
    const images = await PgImagesRepo.connect(database.url);
    const publisher = new AmqpPublisher({ url: vhost.url, config, log: pino({ level: 'silent' }) });
    try {
      const enqueued = await images.enqueuePending(JOBS, (rows) =>
        publisher.publish(rows.map((row) => ({ ...row, ops: DEFAULT_OPS }))),
      );
      assert.equal(enqueued, JOBS);
    } finally {
      await publisher.close();
      await images.close();
    }

    await waitUntil('50 dead letters', async () => (await depth(config.dlq)) === JOBS, 60_000, 100);
    await worker.stop();
    worker = undefined;
    const [failed] = await database.query<{ count: number }>(`SELECT count(*)::int AS count FROM jobs WHERE state = 'failed' AND error_code = 'URL_REFUSED'`);
    assert.equal(failed?.count, JOBS);
  });

  it('lists them by code', async () => {
    const run = await runCli(['dlq', 'list', '--json', '--newest', '3'], env);

    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout);
    assert.equal(summary.total, JOBS);
    assert.deepEqual(summary.byCode, { URL_REFUSED: JOBS });
    assert.equal(summary.newest.length, 3);
    assert.equal(await depth(config.dlq), JOBS, 'listing leaves every dead letter in place');
  });

  it('loses nothing when the replayer is killed after 20 confirms', async () => {
    const run = await runCli(['dlq', 'replay'], { ...env, IMGPIPE_TEST_CRASH_AFTER_CONFIRMS: String(CRASH_AFTER) });

    assert.equal(run.signal, 'SIGKILL', `the replayer was killed midway: ${run.stderr}`);
    assert.match(run.stderr, /^progress \d+\/50 \(\d+%\) dead letters handled$/m, 'progress lines without a terminal');
    // The broker hands the killed reader's unacked dead letters back once it has closed its connection.
    await waitUntil('the broker to close the killed connection', async () => (await countVhostConnections(vhost.name)) === 1, 30_000, 200);
    const [dead, queued] = [await depth(config.dlq), await depth(config.queue)];
    assert.ok(dead + queued >= JOBS, `no job lost: ${dead} dead + ${queued} queued`);
    assert.ok(queued >= CRASH_AFTER, `${queued} copies queued`);
    // At most the 19 dead letters confirmed before the 20th were acked: the 20th never was.
    assert.ok(dead >= JOBS - (CRASH_AFTER - 1), `${dead} dead letters left`);
  });

  it('replays the rest on a second run, leaving the dead-letter queue empty', async () => {
    const left = await depth(config.dlq);

    const run = await runCli(['dlq', 'replay', '--json'], env);

    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { examined: left, matched: left, replayed: left, failed: 0, dryRun: false });
    assert.match(run.stderr, new RegExp(`^progress ${left}/${left} \\(100%\\) dead letters handled$`, 'm'));
    assert.equal(await depth(config.dlq), 0);
    const [states] = await database.query<{ failed: number }>(`SELECT count(*) FILTER (WHERE state = 'failed')::int AS failed FROM jobs`);
    assert.equal(states?.failed, 0, 'every failed mark is cleared');
  });

  it('ends, once a worker may reach the source, with 50 written and nothing dead-lettered', async () => {
    worker = await startWorker({ URL_ALLOW_HOSTS: source.hostPort });

    await waitUntil('the queue to drain', async () => (await depth(config.queue)) === 0 && (await readdir(dataDir)).filter((name) => name.endsWith('.jpg')).length === JOBS, 120_000, 200);
    await waitUntil('every row processed', async () => {
      const [row] = await database.query<{ count: number }>('SELECT count(*)::int AS count FROM images WHERE processed');
      return row?.count === JOBS;
    });
    const files = (await readdir(dataDir)).filter((name) => name.endsWith('.jpg')).sort();
    assert.deepEqual(files, Array.from({ length: JOBS }, (_, index) => `${index + 1}.jpg`).sort());
    assert.equal(await depth(config.dlq), 0);
    const [states] = await database.query<{ ended: number; failed: number }>(
      `SELECT count(*) FILTER (WHERE state IN ('written', 'skipped'))::int AS ended, count(*) FILTER (WHERE state = 'failed')::int AS failed FROM jobs`,
    );
    assert.deepEqual(states, { ended: JOBS, failed: 0 });
  });
});
