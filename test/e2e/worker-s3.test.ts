import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { freePort } from '#test/support/free-port.ts';
import { startImageSource, type ImageSource } from '#test/support/image-source.ts';
import { publishJobs } from '#test/support/publish-jobs.ts';
import { startNodeProcess, type RunningProcess } from '#test/support/node-process.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/pg-database.ts';
import { createTestVhost, type TestVhost } from '#test/support/rabbit-vhost.ts';
import { startS3Server, type S3Server } from '#test/support/s3-server.ts';
import { waitUntil } from '#test/support/wait-until.ts';

const JOBS = 50;
const BUCKET = 'e2e-thumbnails';

describe('dist/worker.mjs with STORAGE=minio against a real S3 server', () => {
  let vhost: TestVhost;
  let database: TestDatabase;
  let source: ImageSource;
  let s3: S3Server;
  let client: S3Client;
  let worker: RunningProcess;
  const jobs = Array.from({ length: JOBS }, (_, index) => `s3-job-${index + 1}`);

  before(async () => {
    [vhost, database, source, s3] = await Promise.all([createTestVhost(), createTestDatabase(), startImageSource(), startS3Server()]);
    client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: s3.credentials,
    });
    const metricsPort = await freePort();
    worker = startNodeProcess('dist/worker.mjs', {
      RABBIT_URL: vhost.url,
      DATABASE_URL: database.url,
      URL_ALLOW_HOSTS: source.hostPort,
      HOST: '127.0.0.1',
      METRICS_PORT: String(metricsPort),
      STORAGE: 'minio',
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: BUCKET,
      S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
    });
    await waitUntil('the worker to consume', async () => (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).ok);
  });

  after(async () => {
    await worker?.stop();
    client?.destroy();
    await Promise.all([source?.close(), s3?.close(), database?.drop(), vhost?.delete()]);
  });

  it('creates the missing bucket on start and says so', () => {
    assert.ok(worker.lines.some((line) => line.msg === 'created bucket' && line.bucket === BUCKET));
  });

  it('writes one JPEG object per job', async () => {
    await publishJobs(vhost.url, jobs.map((id) => ({ id, url: source.imageUrl(id), ops: ['thumbnail'] })));

    const keys = await waitUntil('50 objects', async () => {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
      const found = (listed.Contents ?? []).map((object) => object.Key!);
      return found.length === JOBS ? found : undefined;
    }, 60_000, 250);
    assert.deepEqual(keys.sort(), jobs.map((id) => `${id}.jpg`).sort());
    for (const key of keys) {
      const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      assert.equal(object.ContentType, 'image/jpeg');
      const metadata = await sharp(await object.Body!.transformToByteArray()).metadata();
      assert.equal(metadata.format, 'jpeg');
      assert.ok(Math.max(metadata.width!, metadata.height!) <= 400);
    }
  });

  it('skips redelivered jobs without downloading again', async () => {
    const downloadsBefore = totalHits(source);
    await publishJobs(vhost.url, jobs.map((id) => ({ id, url: source.imageUrl(id), ops: ['thumbnail'] })));

    await waitUntil('50 skips', async () =>
      worker.lines.filter((line) => line.msg === 'job done' && line.outcome === 'skipped').length === JOBS,
    );
    assert.equal(totalHits(source), downloadsBefore);
    assert.equal(downloadsBefore, JOBS);
  });
});

function totalHits(source: ImageSource): number {
  return [...source.hits.values()].reduce((sum, hits) => sum + hits, 0);
}
