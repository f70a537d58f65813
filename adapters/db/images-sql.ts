/**
 * The SQL behind {@link SqlImagesRepo}, in one place so that every database
 * that speaks Postgres (the `pg` pool, the embedded database) runs the same
 * statements. The schema they assume is `db/init.sql`.
 */
export const IMAGES_SQL = {
  /**
   * `$1` = limit. Matches the predicate of `images_pending_idx`. Orders by the
   * integer column, not the text alias (which would sort `10` before `2`).
   */
  selectPending: `
    SELECT images.id::text AS id, images.url
    FROM images
    WHERE NOT processed AND enqueued_at IS NULL AND failed_at IS NULL
    ORDER BY images.id
    LIMIT $1
    FOR UPDATE SKIP LOCKED`,
  /** `$1` = ids (int[]). */
  markEnqueued: `
    UPDATE images SET enqueued_at = now()
    WHERE id = ANY($1::int[])`,
  /** `$1` = ids (int[]), `$2` = their urls (text[]), pairwise: many jobs in one statement. */
  markProcessedMany: `
    UPDATE images
    SET processed = true, failed_at = NULL, error_code = NULL, error_message = NULL
    FROM unnest($1::int[], $2::text[]) AS done(id, url)
    WHERE images.id = done.id AND images.url = done.url`,
  /** `$1` = id, `$2` = url, `$3` = error code, `$4` = error message. */
  markFailed: `
    UPDATE images
    SET failed_at = now(), error_code = $3, error_message = $4
    WHERE id = $1 AND url = $2`,
  ping: 'SELECT 1',
} as const;
