import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import sharp from 'sharp';
import { freePort } from '#test/support/free-port.ts';
import { startImageSource, type ImageSource } from '#test/support/image-source.ts';
import { startNodeProcess, type RunningProcess } from '#test/support/node-process.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/pg-database.ts';
import { createTestVhost, type TestVhost } from '#test/support/rabbit-vhost.ts';
import { waitUntil } from '#test/support/wait-until.ts';

const ROWS = 300;

describe('dist/http.mjs and dist/worker.mjs against Postgres and RabbitMQ', () => {
  let vhost: TestVhost;
  let database: TestDatabase;
  let source: ImageSource;
  let dataDir: string;
  let api: RunningProcess;
  let worker: RunningProcess;
  let apiUrl: string;

  before(async () => {
    vhost = await createTestVhost();
    database = await createTestDatabase();
    source = await startImageSource();
    dataDir = await mkdtemp(join(tmpdir(), 'imgpipe-e2e-'));
    await database.query(`UPDATE images SET url = $1 || '/images/' || id || '.jpg'`, [source.origin]);

    const apiPort = await freePort();
    const metricsPort = await freePort();
    const shared = {
      RABBIT_URL: vhost.url,
      DATABASE_URL: database.url,
      DATA_DIR: dataDir,
      URL_ALLOW_HOSTS: source.hostPort,
      HOST: '127.0.0.1',
    };
    worker = startNodeProcess('dist/worker.mjs', { ...shared, METRICS_PORT: String(metricsPort) });
    api = startNodeProcess('dist/http.mjs', { ...shared, PORT: String(apiPort) });
    apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitUntil('the worker to consume', async () => (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).ok);
    await waitUntil('the api to be ready', async () => (await fetch(`${apiUrl}/healthz`)).ok);
  });

  after(async () => {
    await api?.stop();
    await worker?.stop();
    await source?.close();
    await database?.drop();
    await vhost?.delete();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('turns 300 table rows into 300 thumbnails and marks every row processed', async () => {
    const response = await fetch(`${apiUrl}/enqueue?limit=${ROWS}`, { method: 'POST' });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { enqueued: ROWS });

    const files = await waitUntil(
      'all thumbnails',
      async () => {
        const jpgs = (await readdir(dataDir)).filter((name) => name.endsWith('.jpg'));
        return jpgs.length === ROWS ? jpgs : undefined;
      },
      120_000,
      250,
    );
    const expected = Array.from({ length: ROWS }, (_, index) => `${index + 1}.jpg`).sort();
    assert.deepEqual(files.sort(), expected);
    for (const file of files) {
      const metadata = await sharp(join(dataDir, file)).metadata();
      assert.equal(metadata.format, 'jpeg');
      assert.ok(Math.max(metadata.width!, metadata.height!) <= 400, `${file} is ${metadata.width}x${metadata.height}`);
    }
    await waitUntil('all rows processed', async () => {
      const [row] = await database.query<{ processed: string }>('SELECT count(*) AS processed FROM images WHERE processed');
      return Number(row!.processed) === ROWS;
    });
  });

  it('finds nothing left to enqueue the second time', async () => {
    const response = await fetch(`${apiUrl}/enqueue?limit=${ROWS}`, { method: 'POST' });
    assert.deepEqual(await response.json(), { enqueued: 0 });
  });

  it('dead-letters a 404 and a non-image with their reasons, and keeps going', async () => {
    const missing = await postTask({ url: `${source.origin}/missing.jpg`, id: 'missing' });
    const notImage = await postTask({ url: `${source.origin}/page.html`, id: 'not-an-image' });
    assert.deepEqual([missing.status, notImage.status], [202, 202]);

    const dead = await drainDeadLetters(vhost.url, 2);
    const reasons = Object.fromEntries(dead.map((m) => [m.properties.messageId, m.properties.headers?.['x-error-code']]));
    assert.deepEqual(reasons, { missing: 'HTTP_404', 'not-an-image': 'NOT_AN_IMAGE' });
    for (const message of dead) {
      assert.ok(String(message.properties.headers?.['x-error-message']).length > 0);
      assert.equal(Number(message.properties.headers?.['x-attempts']), 1);
    }

    const good = await postTask({ url: source.imageUrl('after-failures'), id: 'after-failures' });
    assert.equal(good.status, 202);
    await waitUntil('the worker to process a job after the failures', async () =>
      (await readdir(dataDir)).includes('after-failures.jpg'),
    );
  });

  async function postTask(body: object): Promise<Response> {
    return fetch(`${apiUrl}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }
});

async function drainDeadLetters(url: string, count: number): Promise<amqp.GetMessage[]> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const messages: amqp.GetMessage[] = [];
    await waitUntil(
      `${count} dead letters`,
      async () => {
        const message = await channel.get('images.dlx.q', { noAck: true });
        if (message) messages.push(message);
        return messages.length >= count;
      },
      30_000,
      100,
    );
    return messages;
  } finally {
    await connection.close();
  }
}
