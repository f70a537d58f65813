import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import sharp from 'sharp';
import type { Manifest } from '#functions/manifest.ts';
import { freePort } from '#test/support/free-port.ts';
import { startImageSource, type ImageSource } from '#test/support/image-source.ts';
import { startNodeProcess, type RunningProcess } from '#test/support/node-process.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/pg-database.ts';
import { createTestVhost, type TestVhost } from '#test/support/rabbit-vhost.ts';
import { waitUntil } from '#test/support/wait-until.ts';

const ROWS = 300;

/** A task's named outputs: two WebP widths, a smart-cropped JPEG square, a small AVIF. */
const OUTPUTS = [
  { name: 'w320', width: 320, format: 'webp' },
  { name: 'w640', width: 640, format: 'webp' },
  { name: 'sq', width: 200, height: 200, fit: 'cover', position: 'attention', format: 'jpeg' },
  { name: 'tiny', height: 60, format: 'avif' },
];

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

  it('writes every named output of a task and its manifest under <id>/, from one download', async () => {
    const response = await postTask({ id: 'set-1', url: source.imageUrl('set-1'), outputs: OUTPUTS });
    assert.equal(response.status, 202);

    const manifest = await waitForManifest('set-1');

    assert.deepEqual((await readdir(join(dataDir, 'set-1'))).sort(), ['manifest.json', 'sq.jpg', 'tiny.avif', 'w320.webp', 'w640.webp']);
    const expected = { w320: ['webp', 320, 240], w640: ['webp', 640, 480], sq: ['jpeg', 200, 200], tiny: ['heif', 80, 60] };
    for (const entry of manifest.outputs) {
      const file = await readFile(join(dataDir, entry.key));
      const metadata = await sharp(file).metadata();
      assert.deepEqual([metadata.format, metadata.width, metadata.height], expected[entry.name as keyof typeof expected], entry.key);
      assert.deepEqual([entry.width, entry.height, entry.bytes], [metadata.width, metadata.height, file.byteLength]);
    }
    assert.equal(source.hits.get('/images/set-1.jpg'), 1);
  });

  it('downloads nothing when the same task with outputs comes again', async () => {
    const again = await postTask({ id: 'set-1', url: source.imageUrl('set-1'), outputs: OUTPUTS });
    assert.equal(again.status, 202);

    await worker.waitForLine((line) => line.jobId === 'set-1' && line.outcome === 'skipped', 60_000);

    assert.equal(source.hits.get('/images/set-1.jpg'), 1);
  });

  it('answers 400 naming the field for an output out of bounds', async () => {
    const response = await postTask({ url: source.imageUrl('bad'), outputs: [{ name: 'big', width: 9000, format: 'webp' }] });

    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { field: string }).field, 'outputs[0].width');
  });

  async function waitForManifest(id: string): Promise<Manifest> {
    const path = join(dataDir, id, 'manifest.json');
    return waitUntil(
      `the manifest of ${id}`,
      async () => {
        const text = await readFile(path, 'utf8').catch(() => undefined);
        return text === undefined ? undefined : (JSON.parse(text) as Manifest);
      },
      60_000,
      100,
    );
  }

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
