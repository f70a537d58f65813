import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { Config } from '#adapters/config.ts';
import { PermanentError, TransientError } from '#functions/errors.ts';
import type { ImageStore, Logger, PutOutcome, StoredObject } from '#functions/ports.ts';
import { assertOutputKey } from './output-key.ts';

export type S3StoreOptions = Config['s3'];

/**
 * {@link ImageStore} over an S3 bucket: MinIO in compose, any S3 endpoint by
 * config (`forcePathStyle` for MinIO). An S3 PUT is whole or absent, so a reader
 * never sees a partial object.
 *
 * `putIfAbsent` is one PUT with `If-None-Match: *`: where the server honours
 * it (AWS S3, MinIO, R2, Ceph), an object already there, or a concurrent writer
 * that won the race, gets 412 (or 409 while another conditional write is in
 * flight) and answers `exists`. A server without conditional writes replaces
 * the object whole and answers `written`; the worker asks `exists` before it
 * downloads anything, so there that only happens when two writers race. (A
 * HeadObject first would cost every job a third request to cover that race
 * on such servers alone.)
 *
 * Errors: no answer (refused, reset, timeout) → `TransientError` `S3_UNREACHABLE`;
 * 5xx, 429 → `TransientError` `S3_HTTP_<status>`; 401/403 → `TransientError`
 * `S3_ACCESS_DENIED` and a missing bucket → `TransientError` `S3_NO_SUCH_BUCKET`,
 * because both are the deployment's fault, not the job's: the job may succeed
 * once credentials or the bucket are fixed, and dead-letters with its history if
 * they are not. Other 4xx → `PermanentError` `S3_HTTP_<status>`.
 *
 * @example
 * const store = new S3Store(config.s3, log);
 * await store.ensureBucket();
 * await store.putIfAbsent('42.jpg', bytes, 'image/jpeg'); // → 'written'; store.locate('42.jpg') → 's3://thumbnails/42.jpg'
 */
export class S3Store implements ImageStore {
  readonly bucket: string;
  private readonly endpoint: string;
  private readonly client: S3Client;
  private closed = false;

  constructor(options: S3StoreOptions, private readonly log: Logger) {
    if ((options.accessKeyId === undefined) !== (options.secretAccessKey === undefined)) {
      throw new PermanentError('S3_CREDENTIALS', 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together');
    }
    this.bucket = options.bucket;
    this.endpoint = options.endpoint ?? `the AWS S3 endpoint of ${options.region}`;
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      // Without explicit keys the SDK's default chain applies (environment, instance role).
      credentials:
        options.accessKeyId !== undefined && options.secretAccessKey !== undefined
          ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey }
          : undefined,
      // Checksums only where S3 requires them: many S3-compatible servers reject the newer defaults.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 },
    });
  }

  /**
   * Makes sure the bucket exists, creating it (and logging so) when it does not.
   * Fails with an error naming the bucket and the endpoint when it can neither
   * find nor create it.
   */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (error) {
      if (statusOf(error) !== 404) throw this.bucketError('cannot reach', error);
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
      this.log.info({ bucket: this.bucket }, 'created bucket');
    } catch (error) {
      // Another process may have created it between our two calls.
      if (nameOf(error) === 'BucketAlreadyOwnedByYou') return;
      throw this.bucketError('cannot create', error);
    }
  }

  async exists(key: string): Promise<boolean> {
    assertOutputKey(key);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (error) {
      if (statusOf(error) === 404 && nameOf(error) !== 'NoSuchBucket') return false;
      throw this.classify(`cannot check ${this.locate(key)} at ${this.endpoint}`, error);
    }
  }

  async putIfAbsent(key: string, data: Uint8Array, contentType: string): Promise<PutOutcome> {
    assertOutputKey(key);
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: data, ContentType: contentType, IfNoneMatch: '*' }),
      );
      return 'written';
    } catch (error) {
      // 409 ConditionalRequestConflict: a concurrent conditional write of this key is in flight; its
      // writer owns that outcome (and retries it if it fails), so this one has nothing left to do.
      if (statusOf(error) === 412 || nameOf(error) === 'ConditionalRequestConflict') return 'exists';
      throw this.classify(`cannot write ${this.locate(key)} at ${this.endpoint}`, error);
    }
  }

  async read(key: string): Promise<StoredObject | undefined> {
    assertOutputKey(key);
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const data = await object.Body?.transformToByteArray();
      return { data: data ?? new Uint8Array(), contentType: object.ContentType };
    } catch (error) {
      if (statusOf(error) === 404 && nameOf(error) !== 'NoSuchBucket') return undefined;
      throw this.classify(`cannot read ${this.locate(key)} at ${this.endpoint}`, error);
    }
  }

  locate(key: string): string {
    return `s3://${this.bucket}/${assertOutputKey(key)}`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
  }

  private bucketError(action: string, error: unknown): TransientError | PermanentError {
    return this.classify(`${action} bucket "${this.bucket}" at ${this.endpoint}`, error);
  }

  private classify(what: string, error: unknown): TransientError | PermanentError {
    const status = statusOf(error);
    const name = nameOf(error) ?? 'Error';
    const options = { cause: error };
    if (status === undefined) {
      return new TransientError('S3_UNREACHABLE', `${what}: no answer (${name})`, options);
    }
    const message = `${what}: HTTP ${status} ${name}`;
    if (status === 401 || status === 403) return new TransientError('S3_ACCESS_DENIED', message, options);
    if (name === 'NoSuchBucket') return new TransientError('S3_NO_SUCH_BUCKET', message, options);
    if (status >= 500 || status === 429) return new TransientError(`S3_HTTP_${status}`, message, options);
    return new PermanentError(`S3_HTTP_${status}`, message, options);
  }
}

/** The HTTP status of an SDK error; undefined when no response arrived (refused, reset, timeout). */
function statusOf(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode;
  const metadata = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata;
  return typeof metadata?.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined;
}

function nameOf(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}
