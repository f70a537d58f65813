/**
 * The SQL behind {@link SqlImagesRepo}, in one place so that every database
 * that speaks Postgres (the `pg` pool, the embedded database) runs the same
 * statements. The schema they assume is `db/init.sql`.
 */
const JOB_COLUMNS = `
  id, url, state, attempts, error_code, error_message, output_key, output_location,
  created_at, updated_at, finished_at`;

export const IMAGES_SQL = {
  /**
   * One batch of `enqueuePending`: `$1` = how many rows at most, `$2` = the
   * least row id to take (the previous batch's last id + 1). Locks the pending
   * rows it takes (`FOR UPDATE SKIP LOCKED`, matching `images_pending_idx`),
   * writes their job records as `queued` and marks them enqueued, all inside
   * the caller's transaction: nothing is visible to others before its commit,
   * which comes only after the broker confirmed the messages, and a rollback
   * undoes all three. A worker's upsert of one of these records waits for that
   * transaction, so a record is never overtaken by its job's own end. Answers
   * one row whose `rows` is a JSON array of `{ id, url }` in id order (by the
   * integer, not the text, which would sort `10` before `2`): one message for
   * the client to parse, natively, instead of one per row.
   */
  takePending: `
    WITH picked AS (
      SELECT images.id, images.url
      FROM images
      WHERE NOT processed AND enqueued_at IS NULL AND failed_at IS NULL AND images.id >= $2
      ORDER BY images.id
      LIMIT $1
      FOR UPDATE SKIP LOCKED
    ), records AS (
      INSERT INTO jobs (id, url)
      SELECT picked.id::text, picked.url FROM picked
      ON CONFLICT (id) DO UPDATE SET
        url = EXCLUDED.url, state = 'queued', attempts = 0, error_code = NULL, error_message = NULL,
        output_key = NULL, output_location = NULL, updated_at = now(), finished_at = NULL
    ), marked AS (
      UPDATE images SET enqueued_at = now()
      FROM picked WHERE images.id = picked.id
    )
    SELECT coalesce(json_agg(json_build_object('id', picked.id::text, 'url', picked.url) ORDER BY picked.id), '[]') AS rows
    FROM picked`,
  /** `$1` = ids (text[]), `$2` = urls (text[]): records of jobs about to be published (`POST /tasks`). */
  recordQueued: `
    INSERT INTO jobs (id, url)
    SELECT * FROM unnest($1::text[], $2::text[])
    ON CONFLICT (id) DO UPDATE SET
      url = EXCLUDED.url, state = 'queued', attempts = 0, error_code = NULL, error_message = NULL,
      output_key = NULL, output_location = NULL, updated_at = now(), finished_at = NULL`,
  /**
   * Many jobs in one statement, pairwise over the arrays (one entry per job id):
   * `$1` = ids (text[]), `$2` = urls, `$3` = states, `$4` = attempts (int[]),
   * `$5` = output keys, `$6` = output locations, `$7` = row ids (int[], null
   * where the id names no row).
   */
  markProcessedMany: `
    WITH done AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::int[])
        AS done(id, url, state, attempts, output_key, output_location, row_id)
    ), records AS (
      INSERT INTO jobs (id, url, state, attempts, output_key, output_location, finished_at)
      SELECT id, url, state, attempts, output_key, output_location, now() FROM done
      ON CONFLICT (id) DO UPDATE SET
        state = EXCLUDED.state, attempts = EXCLUDED.attempts, error_code = NULL, error_message = NULL,
        output_key = EXCLUDED.output_key, output_location = EXCLUDED.output_location,
        updated_at = now(), finished_at = now()
    )
    UPDATE images
    SET processed = true, failed_at = NULL, error_code = NULL, error_message = NULL
    FROM done WHERE images.id = done.row_id`,
  /** `$1` = id, `$2` = url, `$3` = error code, `$4` = error message, `$5` = attempt, `$6` = row id (int or null). */
  markFailed: `
    WITH record AS (
      INSERT INTO jobs (id, url, state, attempts, error_code, error_message, finished_at)
      VALUES ($1, $2, 'failed', $5, $3, $4, now())
      ON CONFLICT (id) DO UPDATE SET
        state = 'failed', attempts = EXCLUDED.attempts, error_code = EXCLUDED.error_code,
        error_message = EXCLUDED.error_message, updated_at = now(), finished_at = now()
    )
    UPDATE images
    SET failed_at = now(), error_code = $3, error_message = $4
    WHERE id = $6::int`,
  /** `$1` = id, `$2` = url, `$3` = error code, `$4` = error message, `$5` = attempt. The job waits for a retry: no row is touched. */
  markRetrying: `
    INSERT INTO jobs (id, url, attempts, error_code, error_message)
    VALUES ($1, $2, $5, $3, $4)
    ON CONFLICT (id) DO UPDATE SET
      attempts = EXCLUDED.attempts, error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message, updated_at = now()`,
  /** `$1` = ids (text[]), `$2` = row ids (int[]). Rows keep `enqueued_at`: their message is on its way. */
  clearFailed: `
    WITH records AS (
      UPDATE jobs SET state = 'queued', error_code = NULL, error_message = NULL, updated_at = now(), finished_at = NULL
      WHERE id = ANY($1::text[]) AND state = 'failed'
    )
    UPDATE images SET failed_at = NULL, error_code = NULL, error_message = NULL
    WHERE id = ANY($2::int[]) AND failed_at IS NOT NULL`,
  /**
   * `$1` = id, `$2` = row id (int or null). The record, else, for a row that
   * ended or was enqueued before records existed, one made from the row.
   */
  findJob: `
    SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1
    UNION ALL
    SELECT id::text, url,
      CASE WHEN processed THEN 'written' WHEN failed_at IS NOT NULL THEN 'failed' ELSE 'queued' END,
      0, error_code, error_message, NULL, NULL, NULL, COALESCE(failed_at, enqueued_at), failed_at
    FROM images
    WHERE id = $2::int AND (processed OR failed_at IS NOT NULL OR enqueued_at IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM jobs WHERE id = $1)`,
  /** The status page's counts, in one row. */
  summaryCounts: `
    SELECT
      (SELECT count(*) FROM images)::int AS rows_total,
      (SELECT count(*) FROM images WHERE processed)::int AS rows_processed,
      (SELECT count(*) FROM images WHERE failed_at IS NOT NULL AND NOT processed)::int AS rows_failed,
      (SELECT count(*) FROM jobs WHERE state = 'queued')::int AS jobs_queued,
      (SELECT count(*) FROM jobs WHERE state = 'written')::int AS jobs_written,
      (SELECT count(*) FROM jobs WHERE state = 'skipped')::int AS jobs_skipped,
      (SELECT count(*) FROM jobs WHERE state = 'failed')::int AS jobs_failed,
      (SELECT count(*) FROM jobs
        WHERE finished_at > now() - interval '1 minute' AND state IN ('written', 'skipped'))::int AS ended_last_minute`,
  /** `$1` = how many. Newest first, through `jobs_failed_idx`. */
  latestFailures: `
    SELECT id, error_code, error_message, finished_at FROM jobs
    WHERE state = 'failed' ORDER BY updated_at DESC LIMIT $1`,
  /** `$1` = how many. Newest first. */
  newestOutputs: `
    SELECT id, output_key, finished_at FROM jobs
    WHERE finished_at IS NOT NULL AND state = 'written' AND output_key IS NOT NULL
    ORDER BY finished_at DESC LIMIT $1`,
  /** Rows enqueued and never finished, back to pending; returns their ids. */
  releaseEnqueued: `
    UPDATE images SET enqueued_at = NULL
    WHERE NOT processed AND failed_at IS NULL AND enqueued_at IS NOT NULL
    RETURNING id`,
  ping: 'SELECT 1',
} as const;
