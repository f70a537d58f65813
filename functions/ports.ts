/**
 * The ports the handlers need. Each contract lives here, beside its interface;
 * implementations live in `adapters/`, in-memory fakes in `test/fakes/`. The
 * two stateful ports, `ImageStore` and `ImagesRepo`, each have one conformance
 * suite (`test/conformance/`) that runs against every implementation and its
 * fake; the others are tested per implementation.
 */
import type { Job } from './job.ts';

/** Structured logging, pino-shaped: a context object first, then the message. */
export interface Logger {
  debug(context: object, message?: string): void;
  info(context: object, message?: string): void;
  warn(context: object, message?: string): void;
  error(context: object, message?: string): void;
}

/** Wall-clock milliseconds; a fake clock makes durations deterministic in tests. */
export interface Clock {
  now(): number;
}

export interface FetchedImage {
  readonly bytes: Uint8Array;
  /** The MIME type sniffed from the bytes (never trusted from the server), e.g. `image/jpeg`. */
  readonly contentType: string;
}

/**
 * Downloads one image.
 *
 * Contract: honours `signal`; enforces the outbound URL policy on the URL and on
 * every redirect; refuses bodies over the byte cap while streaming; returns only
 * bytes whose magic number is an image format. Failures are classified:
 * `PermanentError` (`HTTP_404`, `HTTP_4xx`, `NOT_AN_IMAGE`, `TOO_LARGE`,
 * `URL_REFUSED`, `TOO_MANY_REDIRECTS`) or `TransientError` (`TIMEOUT`, `HTTP_5xx`,
 * `NETWORK`).
 */
export interface ImageFetcher {
  fetch(url: string, signal: AbortSignal): Promise<FetchedImage>;
}

export type PutOutcome = 'written' | 'exists';

export interface StoredObject {
  readonly data: Uint8Array;
  /** Undefined for stores that keep no content type (a file). */
  readonly contentType: string | undefined;
}

/**
 * Where outputs go. Keys are `<id>.jpg` (the `thumbnail` op) or
 * `<id>/<name>.<jpg|webp|avif|png|json>` (named outputs and their manifest),
 * already validated by the caller, and every implementation validates them
 * again (`InvalidInputError`) before use.
 *
 * Contract:
 * - `exists` answers before any download happens, so a redelivered job costs
 *   one lookup per output and nothing else;
 * - `putIfAbsent` is atomic and create-if-absent: a reader sees the whole
 *   object or nothing, and when the key is already there it leaves it untouched
 *   and answers `exists` (two concurrent puts of one key: at most one `written`
 *   where the backend can tell, never a partial object); a store that keeps
 *   content types keeps the one given;
 * - `read` answers a whole object, or undefined when there is none;
 * - the store owns its connection and releases it in `close`.
 */
export interface ImageStore {
  exists(key: string): Promise<boolean>;
  putIfAbsent(key: string, data: Uint8Array, contentType: string): Promise<PutOutcome>;
  read(key: string): Promise<StoredObject | undefined>;
  /** Where `key` lives, for logs and summaries: a file path or `s3://bucket/key`. */
  locate(key: string): string;
  close(): Promise<void>;
}

export interface PendingImage {
  readonly id: string;
  readonly url: string;
}

export interface FailureReason {
  readonly code: string;
  readonly message: string;
}

/**
 * The `images` table.
 *
 * Contract:
 * - `enqueuePending(limit, publish)` picks up to `limit` rows that are neither
 *   processed, failed, nor already enqueued, in id order, hands them to
 *   `publish`, and marks them enqueued only if `publish` resolves, in one
 *   transaction: concurrent callers never pick the same row, and a publish that
 *   fails leaves the rows to be picked again and its error is rethrown as it is;
 * - `markProcessed` and `markFailed` touch only a row whose id and URL both match
 *   the job (a `/tasks` job whose id happens to equal a row id leaves it alone);
 *   `markProcessed` also clears an earlier failure (a replayed dead letter);
 * - `ping` fails when the database cannot be reached; so does every other call,
 *   with a `TransientError` (`DATABASE_UNAVAILABLE`), before `publish` is called.
 */
export interface ImagesRepo {
  enqueuePending(limit: number, publish: (rows: readonly PendingImage[]) => Promise<void>): Promise<number>;
  markProcessed(job: PendingImage): Promise<void>;
  markFailed(job: PendingImage, reason: FailureReason): Promise<void>;
  ping(): Promise<void>;
}

/**
 * Sends jobs to the workers.
 *
 * Contract: `publish` resolves only after the broker has confirmed every job
 * (persistent, `messageId` = job id, trace context in the headers) and rejects
 * with a `TransientError` if any was refused or could not be routed.
 */
export interface JobPublisher {
  publish(jobs: readonly Job[]): Promise<void>;
  ping(): Promise<void>;
}

/** A named dependency whose reachability decides readiness (`database`, `broker`). */
export interface DependencyCheck {
  readonly name: string;
  check(): Promise<void>;
}

/** What a handler is given besides its input and ports. */
export interface HandlerContext {
  /** Fires when the job must stop: shutdown, deadline. */
  readonly signal: AbortSignal;
  readonly log: Logger;
}

/** A worker's context: which delivery this is, so a handler knows when failing is final. */
export interface JobContext extends HandlerContext {
  /** 1 on first delivery. */
  readonly attempt: number;
  /** True when a transient failure now will be dead-lettered rather than retried. */
  readonly isLastAttempt: boolean;
}
