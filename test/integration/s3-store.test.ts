import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { loadConfig } from '#adapters/config.ts';
import { makeStore } from '#adapters/storage/make-store.ts';
import { S3Store, type S3StoreOptions } from '#adapters/storage/s3-store.ts';
import { PermanentError, TransientError } from '#functions/errors.ts';
import { aKey, aPayload, describeImageStore, type StoredImage } from '#test/conformance/describe-image-store.ts';
import { MemoryLogger } from '#test/fakes/support.ts';
import { startS3Server, type S3Server } from '#test/support/s3-server.ts';

const SECRET = 'S3RVER';

function s3Options(server: Pick<S3Server, 'endpoint'>, overrides: Partial<S3StoreOptions> = {}): S3StoreOptions {
  return {
    endpoint: server.endpoint,
    region: 'us-east-1',
    bucket: aBucketName(),
    accessKeyId: 'S3RVER',
    secretAccessKey: SECRET,
    forcePathStyle: true,
    ...overrides,
  };
}

function aBucketName(): string {
  return `imgpipe-test-${randomBytes(6).toString('hex')}`;
}

/** Reads an object back with a client of its own, as any other consumer of the bucket would. */
async function readObject(options: S3StoreOptions, key: string): Promise<StoredImage | undefined> {
  const client = new S3Client({
    endpoint: options.endpoint,
    region: options.region,
    forcePathStyle: true,
    credentials: { accessKeyId: options.accessKeyId!, secretAccessKey: options.secretAccessKey! },
  });
  try {
    const object = await client.send(new GetObjectCommand({ Bucket: options.bucket, Key: key }));
    return { data: await object.Body!.transformToByteArray(), contentType: object.ContentType };
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  } finally {
    client.destroy();
  }
}

describe('S3Store on s3rver', () => {
  let server: S3Server;
  let options: S3StoreOptions;

  before(async () => {
    server = await startS3Server();
    options = s3Options(server);
    const setup = new S3Store(options, new MemoryLogger());
    await setup.ensureBucket();
    await setup.close();
  });
  after(async () => {
    await server.close();
  });

  // s3rver ignores If-None-Match on PUT, so racing writers may all say `written`.
  describeImageStore(
    'S3Store (s3rver)',
    async () => {
      const store = new S3Store(options, new MemoryLogger());
      return { store, read: (key) => readObject(options, key), cleanup: () => store.close() };
    },
    { conditionalWrites: false, keepsContentType: true },
  );

  it('creates a missing bucket on ensureBucket and says so, once', async () => {
    const log = new MemoryLogger();
    const bucketOptions = s3Options(server);
    const store = new S3Store(bucketOptions, log);

    await store.ensureBucket();
    await store.ensureBucket();
    const outcome = await store.putIfAbsent('1.jpg', aPayload(1), 'image/jpeg');

    await store.close();
    assert.equal(outcome, 'written');
    const created = log.lines.filter((line) => line.message === 'created bucket');
    assert.deepEqual(created.map((line) => line.context), [{ bucket: bucketOptions.bucket }]);
  });

  it('stores a real JPEG whole, as image/jpeg, at s3://bucket/key', async () => {
    const store = new S3Store(options, new MemoryLogger());
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c83' } }).jpeg().toBuffer();
    const key = aKey();

    await store.putIfAbsent(key, jpeg, 'image/jpeg');

    await store.close();
    const stored = await readObject(options, key);
    assert.equal(stored?.contentType, 'image/jpeg');
    assert.deepEqual(Buffer.from(stored!.data), jpeg);
    const metadata = await sharp(stored!.data).metadata();
    assert.deepEqual([metadata.format, metadata.width, metadata.height], ['jpeg', 64, 48]);
    assert.equal(store.locate(key), `s3://${options.bucket}/${key}`);
  });

  it('is what makeStore returns for STORAGE=minio, with its bucket made', async () => {
    const bucket = aBucketName();
    const config = loadConfig(
      {
        STORAGE: 's3',
        S3_ENDPOINT: server.endpoint,
        S3_BUCKET: bucket,
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: SECRET,
        S3_FORCE_PATH_STYLE: 'true',
      },
      'worker',
    );

    const store = await makeStore(config, new MemoryLogger());

    const outcome = await store.putIfAbsent('2.jpg', aPayload(2), 'image/jpeg');
    await store.close();
    assert.ok(store instanceof S3Store);
    assert.equal(outcome, 'written');
    assert.equal((await readObject({ ...options, bucket }, '2.jpg'))?.contentType, 'image/jpeg');
  });

  it('refuses wrong credentials as S3_ACCESS_DENIED, without the secret in the message', async () => {
    const wrongSecret = `wrong-${randomBytes(8).toString('hex')}`;
    const store = new S3Store({ ...options, accessKeyId: 'NOBODY', secretAccessKey: wrongSecret }, new MemoryLogger());

    const failure = await store.exists(aKey()).then(
      () => assert.fail('exists should fail'),
      (error: unknown) => error,
    );

    await store.close();
    assert.ok(failure instanceof TransientError, String(failure));
    assert.equal(failure.code, 'S3_ACCESS_DENIED');
    assert.ok(!failure.message.includes(wrongSecret));
  });
});

describe('S3Store on an unreachable endpoint', () => {
  it('fails start with an error naming the bucket and the endpoint', async () => {
    const endpoint = `http://127.0.0.1:${await aClosedPort()}`;
    const config = loadConfig(
      { STORAGE: 'minio', S3_ENDPOINT: endpoint, S3_BUCKET: 'thumbs-unreachable', S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: SECRET },
      'worker',
    );

    await assert.rejects(
      () => makeStore(config, new MemoryLogger()),
      (error) =>
        error instanceof TransientError &&
        error.code === 'S3_UNREACHABLE' &&
        error.message.includes('"thumbs-unreachable"') &&
        error.message.includes(endpoint) &&
        !error.message.includes(SECRET),
    );
  });
});

/**
 * A loopback HTTP server answering as an S3 server with conditional writes
 * would (s3rver has none): HEAD says 404, PUT answers what the case scripts.
 */
describe('S3Store against conditional-write answers', () => {
  let server: Server;
  let endpoint: string;
  const puts: IncomingHttpHeaders[] = [];
  let putAnswer: { status: number; code: string } = { status: 200, code: '' };

  before(async () => {
    server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        if (request.method === 'HEAD') {
          response.writeHead(404).end();
          return;
        }
        puts.push(request.headers);
        if (putAnswer.status === 200) {
          response.writeHead(200, { etag: '"0"' }).end();
          return;
        }
        response
          .writeHead(putAnswer.status, { 'content-type': 'application/xml' })
          .end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${putAnswer.code}</Code><Message>scripted</Message></Error>`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const putWith = async (status: number, code: string) => {
    putAnswer = { status, code };
    const store = new S3Store(s3Options({ endpoint }), new MemoryLogger());
    try {
      return await store.putIfAbsent(aKey(), aPayload(1), 'image/jpeg');
    } finally {
      await store.close();
    }
  };

  it('sends If-None-Match: * and the content type with every PUT', async () => {
    puts.length = 0;

    const outcome = await putWith(200, '');

    assert.equal(outcome, 'written');
    assert.equal(puts.length, 1);
    assert.equal(puts[0]?.['if-none-match'], '*');
    assert.equal(puts[0]?.['content-type'], 'image/jpeg');
  });

  it('answers exists when the server says 412 PreconditionFailed', async () => {
    assert.equal(await putWith(412, 'PreconditionFailed'), 'exists');
  });

  it('answers exists when the server says 409 ConditionalRequestConflict', async () => {
    assert.equal(await putWith(409, 'ConditionalRequestConflict'), 'exists');
  });

  it('reports a 5xx as a TransientError and another 4xx as a PermanentError', async () => {
    await assert.rejects(() => putWith(503, 'ServiceUnavailable'), (error) => error instanceof TransientError && error.code === 'S3_HTTP_503');
    await assert.rejects(() => putWith(400, 'EntityTooLarge'), (error) => error instanceof PermanentError && error.code === 'S3_HTTP_400');
  });
});

/** A port nothing listens on: bound, read, and released. */
async function aClosedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
