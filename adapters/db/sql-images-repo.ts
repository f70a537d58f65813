import { redactCredentials, TransientError } from '#functions/errors.ts';
import type { FailureReason, ImagesRepo, JobOutput, JobRecord, JobsRepo, JobsSummary, PendingImage } from '#functions/ports.ts';
import { BatchedWrites } from './batched-writes.ts';
import { IMAGES_SQL } from './images-sql.ts';
import { isoOrNull, toJobRecord, type JobRow } from './job-row.ts';

/** The least a Postgres connection must offer: a parameterised query that returns rows. */
export interface SqlQueryable {
  query<Row>(text: string, params?: unknown[]): Promise<{ rows: Row[] }>;
}

/** A Postgres database: queries, plus a transaction on one connection. */
export interface SqlDatabase extends SqlQueryable {
  /** Runs `fn` between BEGIN and COMMIT on one connection; rolls back and rethrows when `fn` throws. */
  transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T>;
}

/** `images.id` is an `integer`: the largest value it can hold. */
const MAX_ROW_ID = 2_147_483_647;
const MIN_ROW_ID = -2_147_483_648;

/**
 * Rows per statement of `enqueuePending`. Each batch is handed to `publish` as
 * soon as its statement answers, so the database takes the next batch while
 * the broker confirms this one; small enough that the first messages leave
 * early and that the statement stays on the primary key's index, large enough
 * that 10,000 rows take 20 round trips (docs/performance.md, "Enqueue").
 */
export const ENQUEUE_BATCH_ROWS = 500;

/**
 * {@link ImagesRepo} and {@link JobsRepo} over any {@link SqlDatabase} (the `pg` pool, the embedded
 * database), running the statements of `images-sql.ts` against the schema of
 * `db/init.sql`. `markProcessed` and `recordQueued` calls that arrive while
 * one is being written are written together in the next statement
 * ({@link BatchedWrites}); each still resolves only once its row is committed. `enqueuePending` takes rows
 * in batches of {@link ENQUEUE_BATCH_ROWS} inside one transaction, each locked
 * with `FOR UPDATE SKIP LOCKED` (so concurrent callers never pick the same row),
 * recorded and marked enqueued by one statement, and hands each batch to
 * `publish` without waiting for the previous one's confirms; it commits once
 * every publish resolved, and rolls everything back when one fails. Database
 * failures are `TransientError('DATABASE_UNAVAILABLE')`; what `publish` throws
 * is rethrown as it is.
 *
 * @example
 * const repo = new SqlImagesRepo(db);
 * await repo.enqueuePending(200, (rows) => publisher.publish(rows.map(toJob))); // → 200, in one batch
 */
export class SqlImagesRepo implements ImagesRepo, JobsRepo {
  readonly #processed: BatchedWrites<ProcessedMark>;
  /** `POST /tasks` records one job per request: concurrent requests share a statement and its commit. */
  readonly #queued: BatchedWrites<PendingImage>;

  /** `markGatherMs`: how long each batch of marks stays open ({@link BatchedWrites}'s `gatherMs`). */
  constructor(private readonly db: SqlDatabase, options: { readonly markGatherMs?: number } = {}) {
    this.#processed = new BatchedWrites((marks) => this.run(IMAGES_SQL.markProcessedMany, columnsOfMarks(marks)), { gatherMs: options.markGatherMs });
    this.#queued = new BatchedWrites((jobs) => this.run(IMAGES_SQL.recordQueued, columnsOf(lastPerId(jobs))));
  }

  async enqueuePending(limit: number, publish: (rows: readonly PendingImage[]) => Promise<void>): Promise<number> {
    let publishError: { error: unknown } | undefined;
    try {
      return await this.db.transaction(async (tx) => {
        const publishing: Promise<void>[] = [];
        let refused = false;
        let taken = 0;
        try {
          let from = MIN_ROW_ID;
          while (taken < limit && !refused) {
            const size = Math.min(ENQUEUE_BATCH_ROWS, limit - taken);
            const [batch] = (await tx.query<{ rows: PendingImage[] }>(IMAGES_SQL.takePending, [size, from])).rows;
            const rows = batch?.rows ?? [];
            if (rows.length === 0) break;
            // Not awaited: the next batch is taken while the broker confirms this one.
            // (Through then(), so that a publish that throws instead of rejecting counts as refused.)
            const published = Promise.resolve(rows).then(publish);
            published.catch(() => {
              refused = true;
            });
            publishing.push(published);
            taken += rows.length;
            const last = Number(rows[rows.length - 1]!.id);
            if (rows.length < size || last >= MAX_ROW_ID) break;
            from = last + 1;
          }
        } finally {
          // Even when a statement failed: every publish settles before the rollback.
          const failed = (await Promise.allSettled(publishing)).find((result) => result.status === 'rejected');
          if (failed) publishError = { error: failed.reason };
        }
        if (publishError) throw publishError.error;
        return taken;
      });
    } catch (error) {
      if (publishError && publishError.error === error) throw error;
      throw databaseError(error);
    }
  }

  async markProcessed(job: PendingImage, output?: JobOutput): Promise<void> {
    await this.#processed.write({
      id: job.id,
      url: job.url,
      state: output?.outcome ?? 'written',
      attempts: output?.attempt ?? 1,
      key: output?.key ?? null,
      location: output?.location ?? null,
      rowId: rowId(job.id) ?? null,
    });
  }

  async markFailed(job: PendingImage, reason: FailureReason, attempt = 1, final = true): Promise<void> {
    if (!final) {
      await this.run(IMAGES_SQL.markRetrying, [job.id, job.url, reason.code, reason.message, attempt]);
      return;
    }
    await this.run(IMAGES_SQL.markFailed, [job.id, job.url, reason.code, reason.message, attempt, rowId(job.id) ?? null]);
  }

  async recordQueued(jobs: readonly PendingImage[]): Promise<void> {
    await Promise.all(jobs.map((job) => this.#queued.write(job)));
  }

  async findJob(id: string): Promise<JobRecord | undefined> {
    const rows = await this.select<JobRow>(IMAGES_SQL.findJob, [id, rowId(id) ?? null]);
    return rows[0] && toJobRecord(rows[0]);
  }

  async clearFailed(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const rowIds = ids.map(rowId).filter((value) => value !== undefined);
    await this.run(IMAGES_SQL.clearFailed, [ids, rowIds]);
  }

  async summary(options: { failures: number; outputs: number }): Promise<JobsSummary> {
    const [[counts], failures, outputs] = await Promise.all([
      this.select<Record<string, number>>(IMAGES_SQL.summaryCounts, []),
      this.select<{ id: string; error_code: string | null; error_message: string | null; finished_at: Date | null }>(IMAGES_SQL.latestFailures, [options.failures]),
      this.select<{ id: string; output_key: string; finished_at: Date | null }>(IMAGES_SQL.newestOutputs, [options.outputs]),
    ]);
    const count = (name: string) => Number(counts?.[name] ?? 0);
    return {
      rows: {
        total: count('rows_total'),
        processed: count('rows_processed'),
        failed: count('rows_failed'),
        pending: count('rows_total') - count('rows_processed') - count('rows_failed'),
      },
      jobs: { queued: count('jobs_queued'), written: count('jobs_written'), skipped: count('jobs_skipped'), failed: count('jobs_failed') },
      endedLastMinute: count('ended_last_minute'),
      latestFailures: failures.map((row) => ({ id: row.id, code: row.error_code ?? 'UNKNOWN', message: row.error_message ?? '', at: isoOrNull(row.finished_at) })),
      newestOutputs: outputs.map((row) => ({ id: row.id, key: row.output_key, at: isoOrNull(row.finished_at) })),
    };
  }

  /**
   * Hands rows left enqueued back to pending; returns how many. Only for a
   * process whose queue lived in its own memory and died with it (the local
   * host's in-process queue): with a broker, those jobs are still queued.
   */
  async releaseEnqueued(): Promise<number> {
    try {
      const { rows } = await this.db.query<{ id: number }>(IMAGES_SQL.releaseEnqueued);
      return rows.length;
    } catch (error) {
      throw databaseError(error);
    }
  }

  async ping(): Promise<void> {
    await this.run(IMAGES_SQL.ping, []);
  }

  private async run(text: string, params: unknown[]): Promise<void> {
    await this.select(text, params);
  }

  private async select<Row>(text: string, params: unknown[]): Promise<Row[]> {
    try {
      return (await this.db.query<Row>(text, params)).rows;
    } catch (error) {
      throw databaseError(error);
    }
  }
}

/** One entry per job id, the last asked for: one statement's upsert may not touch a record twice. */
function lastPerId<T extends { readonly id: string }>(items: readonly T[]): T[] {
  return [...new Map(items.map((item) => [item.id, item])).values()];
}

/** `recordQueued`'s parameters: the ids and the urls, as two arrays. */
function columnsOf(jobs: readonly PendingImage[]): [string[], string[]] {
  return [jobs.map((job) => job.id), jobs.map((job) => job.url)];
}

/**
 * The row id a job id names, or undefined when it cannot name a row (`t-…`
 * task ids, `042`, out of range): such a job touches no row, only its record.
 */
function rowId(id: string): number | undefined {
  if (!/^[1-9]\d{0,9}$/.test(id)) return undefined;
  const value = Number(id);
  return value <= MAX_ROW_ID ? value : undefined;
}

/** Any database failure, as a transient error whose message carries no credentials. */
export function databaseError(error: unknown): TransientError {
  if (error instanceof TransientError && error.code === 'DATABASE_UNAVAILABLE') return error;
  return new TransientError('DATABASE_UNAVAILABLE', `database: ${describe(error)}`, { cause: error });
}

function describe(error: unknown): string {
  let text: string;
  if (error instanceof AggregateError && error.message === '') {
    // A refused connection to a name with several addresses: one error per address.
    text = error.errors.map(describe).join('; ');
  } else if (error instanceof Error) {
    text = error.message || String((error as { code?: unknown }).code ?? error.name);
  } else {
    text = String(error);
  }
  return redactCredentials(text);
}

/** One job's end, as `markProcessed` writes it. */
interface ProcessedMark {
  readonly id: string;
  readonly url: string;
  readonly state: string;
  readonly attempts: number;
  readonly key: string | null;
  readonly location: string | null;
  readonly rowId: number | null;
}

/**
 * The statement's arrays, one entry per job id: two ends of one id in a batch
 * (a duplicate delivery) would make its upsert touch the same record twice,
 * which Postgres refuses, so the later one wins.
 */
function columnsOfMarks(marks: readonly ProcessedMark[]): unknown[] {
  const unique = lastPerId(marks);
  return [
    unique.map((mark) => mark.id),
    unique.map((mark) => mark.url),
    unique.map((mark) => mark.state),
    unique.map((mark) => mark.attempts),
    unique.map((mark) => mark.key),
    unique.map((mark) => mark.location),
    unique.map((mark) => mark.rowId),
  ];
}
