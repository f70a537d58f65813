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
 *   and answers `exists` (two concurrent puts of one key: at most one
 *   `written`, never a partial object). An S3 server without conditional
 *   writes cannot tell: there a put replaces the object whole and answers
 *   `written`; a store that keeps content types keeps the one given;
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

/** Where a job stands: waiting or running, or how it ended. */
export type JobState = 'queued' | 'written' | 'skipped' | 'failed';

/** How a job ended well, for its record. */
export interface JobOutput {
  readonly outcome: 'written' | 'skipped';
  /** The output's storage key (`<id>.jpg`). */
  readonly key: string;
  /** Where it lives: a file path or `s3://bucket/key`. */
  readonly location: string;
  /** The delivery that ended the job: 1 on first delivery. */
  readonly attempt: number;
}

/** What `GET /jobs/:id` answers. Timestamps are ISO 8601; null when unknown or not yet. */
export interface JobRecord {
  readonly id: string;
  readonly url: string;
  readonly state: JobState;
  /** Deliveries that ran to an end, failed ones included (0 while queued the first time). */
  readonly attempts: number;
  /** Why it failed, or why its last attempt failed while it waits for a retry. */
  readonly error: FailureReason | null;
  /**
   * The output, once written or skipped. A job with several outputs adds its
   * manifest here, beside `key` and `location`.
   */
  readonly output: { readonly key: string; readonly location: string } | null;
  readonly createdAt: string | null;
  readonly updatedAt: string | null;
  readonly finishedAt: string | null;
}

/**
 * The `images` table.
 *
 * Contract:
 * - `enqueuePending(limit, publish)` picks up to `limit` rows that are neither
 *   processed, failed, nor already enqueued, in id order, writes a `queued`
 *   job record for each before handing it to `publish`, and marks them
 *   enqueued only if every `publish` resolves, in one transaction: concurrent
 *   callers never pick the same row, and a publish that fails leaves every row
 *   of the call to be picked again (and no record) and its error is rethrown
 *   as it is, once every publish has settled. The rows may be handed over in
 *   several batches, in id order, the next before the previous one's publish
 *   resolved;
 * - `markProcessed` and `markFailed` touch the row with the job's id, if there
 *   is one, and the job's record (created when missing), with the outcome,
 *   the attempt and the output or the reason; `markProcessed` also clears an
 *   earlier failure (a replayed dead letter); `markFailed` with `final` false
 *   (a failure that will be retried) only records the attempt and the error on
 *   the job's record, which stays `queued`, and touches no row;
 * - `ping` fails when the database cannot be reached; so does every other call,
 *   with a `TransientError` (`DATABASE_UNAVAILABLE`), before `publish` is called.
 */
export interface ImagesRepo {
  enqueuePending(limit: number, publish: (rows: readonly PendingImage[]) => Promise<void>): Promise<number>;
  /** Without `output` the job counts as written on its first attempt, with no known output. */
  markProcessed(job: PendingImage, output?: JobOutput): Promise<void>;
  /** `attempt` defaults to 1, `final` to true. */
  markFailed(job: PendingImage, reason: FailureReason, attempt?: number, final?: boolean): Promise<void>;
  ping(): Promise<void>;
}

/**
 * Job records (the `jobs` table), one per published job, keyed by job id.
 *
 * Contract:
 * - `recordQueued` writes each job's record as `queued` (resetting an earlier
 *   end, error and attempts); callers call it before publishing, so a worker
 *   never ends a job that has no record;
 * - `findJob` answers the record, or for a table row processed before records
 *   existed, one made from the row; undefined for an unknown id;
 * - `clearFailed` puts failed jobs (and their rows) back to `queued`, keeping
 *   rows out of `enqueuePending`: their message is on its way again;
 * - `summary` counts rows and jobs, and lists the latest failures and outputs.
 */
export interface JobsRepo {
  recordQueued(jobs: readonly PendingImage[]): Promise<void>;
  findJob(id: string): Promise<JobRecord | undefined>;
  clearFailed(ids: readonly string[]): Promise<void>;
  summary(options: { readonly failures: number; readonly outputs: number }): Promise<JobsSummary>;
}

/** What the status page shows from the database. */
export interface JobsSummary {
  /** The `images` table: pending = neither processed nor failed (waiting or in flight). */
  readonly rows: { readonly total: number; readonly processed: number; readonly failed: number; readonly pending: number };
  /** Job records by state. */
  readonly jobs: Readonly<Record<JobState, number>>;
  /** Jobs written or skipped in the last 60 seconds. */
  readonly endedLastMinute: number;
  /** The latest failed jobs, newest first. */
  readonly latestFailures: readonly { readonly id: string; readonly code: string; readonly message: string; readonly at: string | null }[];
  /** The newest written outputs, newest first. */
  readonly newestOutputs: readonly { readonly id: string; readonly key: string; readonly at: string | null }[];
}

/** The broker's side of the status page: messages waiting and dead-lettered. */
export interface QueueStats {
  readonly queued: number;
  readonly deadLettered: number;
  readonly deadByCode: Readonly<Record<string, number>>;
}

/** Reads {@link QueueStats}; implementations cache, so a page refresh is not a broker call. */
export interface QueueMonitor {
  stats(): Promise<QueueStats>;
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
/**
 * Bounds how many images are decoded and encoded at once, apart from how many
 * jobs run: most of a job waits on the network, the disk and the database,
 * while a transform needs a core, and on N cores more than about 2N at once
 * only add memory (docs/performance.md). `acquire` resolves with the function
 * that frees the slot; it rejects with the signal's reason when the signal
 * fires first.
 */
export interface TransformSlots {
  acquire(signal: AbortSignal): Promise<() => void>;
}

export interface JobContext extends HandlerContext {
  /** 1 on first delivery. */
  readonly attempt: number;
  /** True when a transient failure now will be dead-lettered rather than retried. */
  readonly isLastAttempt: boolean;
}

/** One dead-lettered message, as `dlq list` shows it. */
export interface DeadLetter {
  /** The job id (`messageId`), when the message carries one. */
  readonly id: string | undefined;
  /** `x-error-code`, or the broker's own reason (`rejected`, `expired`, …) for a message it dead-lettered itself. */
  readonly code: string;
  readonly message: string;
  /** `x-attempts`: deliveries that ran before it was dead-lettered. */
  readonly attempts: number | undefined;
}

export interface DeadLetterSummary {
  /** Messages in the dead-letter queue. */
  readonly total: number;
  readonly byCode: Readonly<Record<string, number>>;
  /** The newest first. */
  readonly newest: readonly DeadLetter[];
}

export interface ReplayOptions {
  /** Only messages with this `x-error-code`. */
  readonly code?: string | undefined;
  /** Only the message of this job id. */
  readonly id?: string | undefined;
  /** At most this many messages. */
  readonly limit?: number | undefined;
  /** Count what would be replayed; change nothing. */
  readonly dryRun?: boolean | undefined;
  /**
   * Called as dead letters are handled: `handled` of `total` (the messages this
   * replay will look at) are left in place or replayed; `replayed` counts the
   * copies confirmed so far, and is reported before their dead letters are removed.
   */
  readonly onProgress?: (progress: { readonly handled: number; readonly total: number; readonly replayed: number }) => void;
}

export interface ReplaySummary {
  /** Messages looked at. */
  readonly examined: number;
  /** Messages that matched the filters (all of them on a dry run). */
  readonly matched: number;
  /** Republished, confirmed and removed from the dead-letter queue. */
  readonly replayed: number;
  /** Matched but refused by the broker: left in the dead-letter queue. */
  readonly failed: number;
  readonly dryRun: boolean;
}

/**
 * The dead-letter queue.
 *
 * Contract:
 * - `list(newest)` counts the messages by error code and describes the newest
 *   `newest`, leaving every message where it was;
 * - `replay(options)` republishes matching messages to the main exchange with
 *   confirms, without the failure headers (`x-attempts`, `x-error-*`,
 *   `x-death`), so each job gets its full attempts again; it clears the
 *   failed mark of their jobs before publishing and removes each dead letter
 *   only after its copy is confirmed: a crash midway leaves at most a
 *   duplicate, never a loss. Messages that do not match stay where they were.
 */
export interface DeadLetterQueue {
  list(newest: number): Promise<DeadLetterSummary>;
  replay(options: ReplayOptions): Promise<ReplaySummary>;
}
