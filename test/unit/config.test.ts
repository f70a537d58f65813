import { availableParallelism } from 'node:os';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, type Entry } from '#adapters/config.ts';

type Env = Record<string, string | undefined>;

function configOf(env: Env = {}, entry: Entry = 'worker') {
  return loadConfig(env, entry);
}

function configErrorOf(env: Env, entry: Entry = 'worker'): ConfigError {
  try {
    loadConfig(env, entry);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('loadConfig accepted the environment');
}

describe('loadConfig: OTLP traces endpoint', () => {
  it('appends /v1/traces to a base OTEL_EXPORTER_OTLP_ENDPOINT', () => {
    const config = configOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' });
    assert.equal(config.otel.tracesUrl, 'http://collector:4318/v1/traces');
  });

  it('uses an OTEL_EXPORTER_OTLP_ENDPOINT that already ends in /v1/traces as it is', () => {
    const config = configOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/v1/traces' });
    assert.equal(config.otel.tracesUrl, 'http://collector:4318/v1/traces');
  });

  it('does not double a slash before /v1/traces', () => {
    assert.equal(configOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).otel.tracesUrl, 'http://collector:4318/v1/traces');
    assert.equal(configOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/v1/traces/' }).otel.tracesUrl, 'http://collector:4318/v1/traces');
  });

  it('keeps a base path, appending /v1/traces after it', () => {
    const config = configOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example.test/tenant-a' });
    assert.equal(config.otel.tracesUrl, 'https://otel.example.test/tenant-a/v1/traces');
  });

  it('lets OTEL_EXPORTER_OTLP_TRACES_ENDPOINT win, used exactly as given', () => {
    const config = configOf({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces-only:9999/custom/path',
    });
    assert.equal(config.otel.tracesUrl, 'http://traces-only:9999/custom/path');
  });

  it('exports nowhere when neither variable is set, or both are blank', () => {
    assert.equal(configOf({}).otel.tracesUrl, undefined);
    assert.equal(configOf({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '' }).otel.tracesUrl, undefined);
  });

  it('refuses an endpoint that is not an http(s) URL, naming the variable', () => {
    assert.equal(configErrorOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }).variable, 'OTEL_EXPORTER_OTLP_ENDPOINT');
    assert.equal(configErrorOf({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://collector:4317' }).variable, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  });
});

describe('loadConfig: telemetry switches', () => {
  it('names the service after the entry unless OTEL_SERVICE_NAME says otherwise', () => {
    assert.equal(configOf({}, 'api').otel.serviceName, 'api');
    assert.equal(configOf({}, 'worker').otel.serviceName, 'worker');
    assert.equal(configOf({ OTEL_SERVICE_NAME: 'thumbs-worker' }, 'worker').otel.serviceName, 'thumbs-worker');
  });

  it('reads OTEL_SDK_DISABLED as a boolean, off by default', () => {
    assert.equal(configOf({}).otel.disabled, false);
    assert.equal(configOf({ OTEL_SDK_DISABLED: 'true' }).otel.disabled, true);
    assert.equal(configOf({ OTEL_SDK_DISABLED: 'FALSE' }).otel.disabled, false);
    assert.equal(configErrorOf({ OTEL_SDK_DISABLED: 'maybe' }).variable, 'OTEL_SDK_DISABLED');
  });
});

describe('loadConfig: other variables', () => {
  it('applies the original deployment defaults', () => {
    const config = configOf({}, 'worker');
    assert.equal(config.rabbitUrl, 'amqp://guest:guest@rabbitmq:5672/');
    assert.deepEqual(
      [config.exchange, config.queue, config.dlx, config.dlq, config.routingKey],
      ['images', 'images.q', 'images.dlx', 'images.dlx.q', 'process_image'],
    );
    assert.deepEqual([config.concurrency, config.prefetch, config.maxAttempts], [16, 32, 5]);
    assert.deepEqual([config.thumbnailSize, config.storage, config.dataDir], [400, 'fs', '/data']);
    assert.deepEqual([config.host, config.port, config.metricsPort], ['0.0.0.0', 8000, 9464]);
    assert.equal(config.fetch.allowPrivate, false);
    assert.equal(config.fetch.picsumUrl, 'https://picsum.photos');
  });

  it('lets one source host take half the worker by default, rounded up, or FETCH_MAX_PER_HOST', () => {
    assert.equal(configOf({}, 'worker').fetch.maxPerHost, 8);
    assert.equal(configOf({ CONCURRENCY: '5' }, 'worker').fetch.maxPerHost, 3);
    assert.equal(configOf({ CONCURRENCY: '1' }, 'worker').fetch.maxPerHost, 1);
    assert.equal(configOf({ CONCURRENCY: '8', FETCH_MAX_PER_HOST: '8' }, 'worker').fetch.maxPerHost, 8);
    assert.equal(configErrorOf({ FETCH_MAX_PER_HOST: '0' }).variable, 'FETCH_MAX_PER_HOST');
  });

  it('transforms twice as many images at once as there are cores by default, never more than CONCURRENCY', () => {
    const cores = availableParallelism();
    assert.equal(configOf({ CONCURRENCY: '1024' }, 'worker').transformConcurrency, 2 * cores);
    assert.equal(configOf({ CONCURRENCY: '1' }, 'worker').transformConcurrency, 1);
    assert.equal(configOf({ TRANSFORM_CONCURRENCY: '3' }, 'worker').transformConcurrency, 3);
    assert.equal(configOf({ CONCURRENCY: '2', TRANSFORM_CONCURRENCY: '8' }, 'worker').transformConcurrency, 2);
    assert.equal(configErrorOf({ TRANSFORM_CONCURRENCY: '0' }).variable, 'TRANSFORM_CONCURRENCY');
  });

  it('runs sharp with one libvips thread per image and no operation cache unless told otherwise', () => {
    assert.deepEqual([configOf({}, 'worker').sharpConcurrency, configOf({}, 'worker').sharpCacheMb], [1, 0]);
    const tuned = configOf({ SHARP_CONCURRENCY: '0', SHARP_CACHE_MB: '50' }, 'worker');
    assert.deepEqual([tuned.sharpConcurrency, tuned.sharpCacheMb], [0, 50]);
    assert.equal(configErrorOf({ SHARP_CACHE_MB: '-1' }).variable, 'SHARP_CACHE_MB');
  });

  it('leaves the broker and database unset for the local host, which embeds its own', () => {
    const config = configOf({}, 'host');
    assert.equal(config.rabbitUrl, undefined);
    assert.equal(config.databaseUrl, undefined);
  });

  it('gives the api and the worker a broker and a database URL, in their types as in their values', () => {
    const api: { rabbitUrl: string; databaseUrl: string } = loadConfig({ DATABASE_URL: 'postgres://db.test/x' }, 'api');
    const worker: { rabbitUrl: string; databaseUrl: string } = loadConfig({ RABBIT_URL: 'amqp://mq.test/' }, 'worker');
    // @ts-expect-error the local host may run without a database URL
    const host: { databaseUrl: string } = loadConfig({}, 'host');

    assert.deepEqual([api.rabbitUrl, api.databaseUrl], ['amqp://guest:guest@rabbitmq:5672/', 'postgres://db.test/x']);
    assert.deepEqual([worker.rabbitUrl, worker.databaseUrl], ['amqp://mq.test/', 'postgres://imgpipe:imgpipe@postgres:5432/imgpipe']);
    assert.equal(host.databaseUrl, undefined);
  });

  it('names the S3 store s3, and still accepts minio as its alias', () => {
    assert.equal(configOf({}).storage, 'fs');
    assert.equal(configOf({ STORAGE: 'fs' }).storage, 'fs');
    assert.equal(configOf({ STORAGE: 's3' }).storage, 's3');
    assert.equal(configOf({ STORAGE: 'minio' }).storage, 's3');
    const unknown = configErrorOf({ STORAGE: 'gcs' });
    assert.equal(unknown.variable, 'STORAGE');
    assert.match(unknown.message, /fs, s3, minio/);
  });

  it('names CONCURRENCY when it is not a whole number or out of range', () => {
    const notANumber = configErrorOf({ CONCURRENCY: 'eight' });
    assert.equal(notANumber.variable, 'CONCURRENCY');
    assert.match(notANumber.message, /^CONCURRENCY: /);
    assert.equal(configErrorOf({ CONCURRENCY: '0' }).variable, 'CONCURRENCY');
    assert.equal(configOf({ CONCURRENCY: ' 3 ' }).concurrency, 3);
  });

  it('does not echo a password from RABBIT_URL or DATABASE_URL in the error', () => {
    const rabbit = configErrorOf({ RABBIT_URL: 'http://user:s3cret-pass@rabbit:5672/' });
    assert.equal(rabbit.variable, 'RABBIT_URL');
    assert.doesNotMatch(rabbit.message, /s3cret-pass/);
    const database = configErrorOf({ DATABASE_URL: 'mysql://user:s3cret-pass@db/imgpipe' });
    assert.equal(database.variable, 'DATABASE_URL');
    assert.doesNotMatch(database.message, /s3cret-pass/);
  });

  it('does not echo an invalid URL that may carry credentials', () => {
    const error = configErrorOf({ DATABASE_URL: 'postgres://user:s3cret pass@db:notaport/x' });
    assert.equal(error.variable, 'DATABASE_URL');
    assert.doesNotMatch(error.message, /s3cret/);
  });

  it('reads API_KEY, unset (an open api) unless given', () => {
    assert.equal(configOf({}).apiKey, undefined);
    assert.equal(configOf({ API_KEY: '  ' }).apiKey, undefined);
    assert.equal(configOf({ API_KEY: 'k-123' }).apiKey, 'k-123');
  });

  it('returns a frozen object, nested parts included', () => {
    const config = configOf({});
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.otel));
    assert.ok(Object.isFrozen(config.fetch.allowHosts));
  });
});
