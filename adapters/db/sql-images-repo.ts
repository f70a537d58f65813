import { redactCredentials, TransientError } from '#functions/errors.ts';
import type { FailureReason, ImagesRepo, PendingImage } from '#functions/ports.ts';
import { BatchedMarks } from './batched-marks.ts';
import { IMAGES_SQL } from './images-sql.ts';

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

/**
 * {@link ImagesRepo} over any {@link SqlDatabase} (the `pg` pool, the embedded
 * database), running the statements of `images-sql.ts` against the schema of
 * `db/init.sql`. `markProcessed` calls that arrive while one is being written
 * are written together in the next statement ({@link BatchedMarks}); each
 * still resolves only once its row is committed. Rows are locked with
 * `FOR UPDATE SKIP LOCKED` while `publish` runs, so concurrent callers never
 * pick the same row. Database failures are
 * `TransientError('DATABASE_UNAVAILABLE')`; what `publish` throws is rethrown as it is.
 *
 * @example
 * const repo = new SqlImagesRepo(db);
 * await repo.enqueuePending(200, (rows) => publisher.publish(rows.map(toJob))); // → 200
 */
export class SqlImagesRepo implements ImagesRepo {
  readonly #processed: BatchedMarks;

  constructor(private readonly db: SqlDatabase) {
    this.#processed = new BatchedMarks((ids, urls) => this.run(IMAGES_SQL.markProcessedMany, [ids, urls]));
  }

  async enqueuePending(limit: number, publish: (rows: readonly PendingImage[]) => Promise<void>): Promise<number> {
    let publishError: { error: unknown } | undefined;
    try {
      return await this.db.transaction(async (tx) => {
        const { rows } = await tx.query<{ id: string; url: string }>(IMAGES_SQL.selectPending, [limit]);
        const pending = rows.map((row) => ({ id: String(row.id), url: row.url }));
        try {
          await publish(pending);
        } catch (error) {
          publishError = { error };
          throw error;
        }
        if (pending.length > 0) {
          await tx.query(IMAGES_SQL.markEnqueued, [pending.map((row) => Number(row.id))]);
        }
        return pending.length;
      });
    } catch (error) {
      if (publishError && publishError.error === error) throw error;
      throw databaseError(error);
    }
  }

  async markProcessed(job: PendingImage): Promise<void> {
    const id = rowId(job.id);
    if (id === undefined) return;
    await this.#processed.mark(id, job.url);
  }

  async markFailed(job: PendingImage, reason: FailureReason): Promise<void> {
    const id = rowId(job.id);
    if (id === undefined) return;
    await this.run(IMAGES_SQL.markFailed, [id, job.url, reason.code, reason.message]);
  }

  async ping(): Promise<void> {
    await this.run(IMAGES_SQL.ping, []);
  }

  private async run(text: string, params: unknown[]): Promise<void> {
    try {
      await this.db.query(text, params);
    } catch (error) {
      throw databaseError(error);
    }
  }
}

/**
 * The row id a job id names, or undefined when it cannot name a row (`t-…`
 * task ids, `042`, out of range): such a job matches nothing, as in the fake.
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
