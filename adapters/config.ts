import { availableParallelism } from 'node:os';

/**
 * Every environment variable imgpipe reads, parsed once at an entry point.
 * A bad value stops the process with a message that names the variable.
 */
export type Entry = 'api' | 'worker' | 'host';

export interface Config {
  readonly entry: Entry;
  /** Undefined only for the local host, which then runs an in-process queue. */
  readonly rabbitUrl: string | undefined;
  readonly exchange: string;
  readonly queue: string;
  readonly dlx: string;
  readonly dlq: string;
  readonly routingKey: string;
  /** Undefined only for the local host, which then runs an embedded database. */
  readonly databaseUrl: string | undefined;
  readonly concurrency: number;
  readonly prefetch: number;
  readonly maxAttempts: number;
  /** Deliveries that ended unsettled (a crash, a cut connection, a release) before a message is dead-lettered as poison. */
  readonly maxDeliveries: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly thumbnailSize: number;
  readonly maxInputPixels: number;
  /** Images decoded and encoded at once (`TRANSFORM_CONCURRENCY`), at most `concurrency`. */
  readonly transformConcurrency: number;
  /** libvips threads per image; 0 leaves sharp's own default. */
  readonly sharpConcurrency: number;
  /** libvips operation cache, in MiB; 0 turns it off. */
  readonly sharpCacheMb: number;
  readonly storage: 'fs' | 's3';
  readonly dataDir: string;
  readonly s3: {
    readonly endpoint: string | undefined;
    readonly region: string;
    readonly bucket: string;
    readonly accessKeyId: string | undefined;
    readonly secretAccessKey: string | undefined;
    readonly forcePathStyle: boolean;
  };
  readonly otel: {
    /** The OTLP/HTTP traces URL, or undefined when tracing exports nowhere. */
    readonly tracesUrl: string | undefined;
    readonly serviceName: string;
    readonly disabled: boolean;
  };
  readonly host: string;
  readonly port: number;
  /** The key every api route but `/healthz` and `/samples` asks for; undefined leaves the api open. */
  readonly apiKey: string | undefined;
  readonly metricsPort: number;
  readonly fetch: {
    readonly timeoutMs: number;
    readonly maxBytes: number;
    readonly maxRedirects: number;
    /** Downloads from one source host at once, per worker (`FETCH_MAX_PER_HOST`). */
    readonly maxPerHost: number;
    readonly allowPrivate: boolean;
    readonly allowHosts: readonly string[];
    readonly picsumUrl: string;
  };
  /**
   * Local host only: no `PICSUM_URL` was given, so picsum URLs go to the host's
   * own sample source (whose port is known once it listens).
   */
  readonly picsumFromOwnSamples: boolean;
  readonly logLevel: string;
  /**
   * Test-only (`IMGPIPE_TEST_CRASH_ON_URL`): the worker process dies hard when
   * it is about to fetch exactly this URL, so tests can make a poison message.
   * Unset by default; no request can set it.
   */
  readonly testCrashOnUrl: string | undefined;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly variable: string, problem: string) {
    super(`${variable}: ${problem}`);
  }
}

/** The broker's own delivery limit on `QUEUE` (`x-delivery-limit`), a backstop above `MAX_DELIVERIES`. */
export const DELIVERY_LIMIT = 20;

/** The api and the worker cannot run without a broker and a database; both URLs have a default. */
interface ServiceConnections {
  readonly rabbitUrl: string;
  readonly databaseUrl: string;
}

/** One entry's config: the local host may embed its broker and database, the api and the worker never do. */
export type EntryConfig<E extends Entry> = Config & { readonly entry: E } & (E extends 'host' ? unknown : ServiceConnections);
export type ApiConfig = EntryConfig<'api'>;
export type WorkerConfig = EntryConfig<'worker'>;
export type HostConfig = EntryConfig<'host'>;

type Env = Readonly<Record<string, string | undefined>>;

const SERVICE_NAMES: Record<Entry, string> = { api: 'api', worker: 'worker', host: 'imgpipe-host' };

export function loadConfig<E extends Entry>(env: Env, entry: E): EntryConfig<E> {
  const read = reader(env);
  const isHost = entry === 'host';
  // `minio` is the S3 store's older name, kept as an alias: deployment files use it.
  const storage = read.oneOf('STORAGE', ['fs', 's3', 'minio'] as const, 'fs') === 'fs' ? 'fs' : 's3';
  const concurrency = read.int('CONCURRENCY', 16, 1, 1024);
  // The cast holds: only the host leaves the broker and database URLs unset, the other entries have defaults.
  return deepFreeze({
    entry,
    rabbitUrl: read.url('RABBIT_URL', isHost ? undefined : 'amqp://guest:guest@rabbitmq:5672/', ['amqp:', 'amqps:']),
    exchange: read.name('EXCHANGE', 'images'),
    queue: read.name('QUEUE', 'images.q'),
    dlx: read.name('DLX', 'images.dlx'),
    dlq: read.name('DLQ', 'images.dlx.q'),
    routingKey: read.name('ROUTING_KEY', 'process_image'),
    databaseUrl: read.url(
      'DATABASE_URL',
      isHost ? undefined : 'postgres://imgpipe:imgpipe@postgres:5432/imgpipe',
      ['postgres:', 'postgresql:'],
    ),
    concurrency,
    prefetch: read.int('PREFETCH', 32, 1, 65_535),
    maxAttempts: read.int('MAX_ATTEMPTS', 5, 1, 100),
    maxDeliveries: read.int('MAX_DELIVERIES', 5, 1, DELIVERY_LIMIT),
    retryBaseMs: read.int('RETRY_BASE_MS', 1000, 1, 86_400_000),
    retryMaxMs: read.int('RETRY_MAX_MS', 60_000, 1, 86_400_000),
    thumbnailSize: read.int('THUMBNAIL_SIZE', 400, 1, 10_000),
    maxInputPixels: read.int('MAX_INPUT_PIXELS', 100_000_000, 1, 2 ** 40),
    // Two per core: more run no faster and each holds its image's memory (docs/performance.md).
    transformConcurrency: Math.min(concurrency, read.int('TRANSFORM_CONCURRENCY', 2 * availableParallelism(), 1, 1024)),
    sharpConcurrency: read.int('SHARP_CONCURRENCY', 1, 0, 256),
    sharpCacheMb: read.int('SHARP_CACHE_MB', 0, 0, 65_536),
    storage,
    dataDir: read.string('DATA_DIR', isHost ? './data' : '/data'),
    s3: {
      endpoint: read.url('S3_ENDPOINT', undefined, ['http:', 'https:']),
      region: read.string('S3_REGION', 'us-east-1'),
      bucket: read.string('S3_BUCKET', 'thumbnails'),
      accessKeyId: read.optional('S3_ACCESS_KEY_ID'),
      secretAccessKey: read.optional('S3_SECRET_ACCESS_KEY'),
      forcePathStyle: read.bool('S3_FORCE_PATH_STYLE', true),
    },
    otel: {
      tracesUrl: tracesUrl(read),
      serviceName: read.string('OTEL_SERVICE_NAME', SERVICE_NAMES[entry]),
      disabled: read.bool('OTEL_SDK_DISABLED', false),
    },
    // A laptop's local host listens on loopback unless told otherwise.
    host: read.string('HOST', isHost ? '127.0.0.1' : '0.0.0.0'),
    port: read.int('PORT', 8000, 0, 65_535),
    apiKey: read.optional('API_KEY'),
    metricsPort: read.int('METRICS_PORT', 9464, 0, 65_535),
    fetch: {
      timeoutMs: read.int('FETCH_TIMEOUT_MS', 30_000, 1, 3_600_000),
      maxBytes: read.int('FETCH_MAX_BYTES', 26_214_400, 1, 2 ** 40),
      maxRedirects: read.int('FETCH_MAX_REDIRECTS', 5, 0, 50),
      // Half the worker, rounded up: one slow host cannot hold every job slot.
      maxPerHost: read.int('FETCH_MAX_PER_HOST', Math.ceil(concurrency / 2), 1, 1024),
      allowPrivate: read.bool('URL_ALLOW_PRIVATE', false),
      allowHosts: read.list('URL_ALLOW_HOSTS'),
      picsumUrl: stripTrailingSlash(read.url('PICSUM_URL', 'https://picsum.photos', ['http:', 'https:'])!),
    },
    picsumFromOwnSamples: isHost && read.optional('PICSUM_URL') === undefined,
    logLevel: read.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    testCrashOnUrl: read.optional('IMGPIPE_TEST_CRASH_ON_URL'),
  } satisfies Config) as EntryConfig<E>;
}

/**
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as it is. A base
 * `OTEL_EXPORTER_OTLP_ENDPOINT` gets `/v1/traces` appended, as the spec says,
 * unless it already ends in `/v1/traces` (the original `.env` did), which is
 * used as it is rather than doubled.
 */
function tracesUrl(read: Reader): string | undefined {
  const signal = read.url('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', undefined, ['http:', 'https:']);
  if (signal) return signal;
  const base = read.url('OTEL_EXPORTER_OTLP_ENDPOINT', undefined, ['http:', 'https:']);
  if (!base) return undefined;
  const trimmed = stripTrailingSlash(base);
  return trimmed.endsWith('/v1/traces') ? trimmed : `${trimmed}/v1/traces`;
}

type Reader = ReturnType<typeof reader>;

function reader(env: Env) {
  const raw = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  return {
    optional: raw,
    string(name: string, fallback: string): string {
      return raw(name) ?? fallback;
    },
    name(name: string, fallback: string): string {
      const value = raw(name) ?? fallback;
      if (!/^[A-Za-z0-9_.:-]{1,255}$/.test(value)) throw new ConfigError(name, `"${value}" is not a valid name`);
      return value;
    },
    int(name: string, fallback: number, min: number, max: number): number {
      const value = raw(name);
      if (value === undefined) return fallback;
      if (!/^\d+$/.test(value)) throw new ConfigError(name, `"${value}" is not a whole number`);
      const parsed = Number(value);
      if (parsed < min || parsed > max) throw new ConfigError(name, `${parsed} is outside ${min}..${max}`);
      return parsed;
    },
    bool(name: string, fallback: boolean): boolean {
      const value = raw(name)?.toLowerCase();
      if (value === undefined) return fallback;
      if (['true', '1', 'yes'].includes(value)) return true;
      if (['false', '0', 'no'].includes(value)) return false;
      throw new ConfigError(name, `"${value}" is not true or false`);
    },
    oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
      const value = raw(name);
      if (value === undefined) return fallback;
      if (!(allowed as readonly string[]).includes(value)) {
        throw new ConfigError(name, `"${value}" is not one of ${allowed.join(', ')}`);
      }
      return value as T;
    },
    url(name: string, fallback: string | undefined, protocols: readonly string[]): string | undefined {
      const value = raw(name) ?? fallback;
      if (value === undefined) return undefined;
      let parsed: URL;
      try {
        parsed = new URL(value);
      } catch {
        throw new ConfigError(name, 'is not a valid URL');
      }
      if (!protocols.includes(parsed.protocol)) {
        throw new ConfigError(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
      }
      return value;
    },
    list(name: string): readonly string[] {
      return (raw(name) ?? '')
        .split(',')
        .map((item) => item.trim().toLowerCase())
        .filter((item) => item !== '');
    },
  };
}

function stripTrailingSlash(value: string): string {
  return value.replace(/\/+$/, '');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
