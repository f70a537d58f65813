-- imgpipe schema and seed. Run by compose, k8s and the embedded database alike,
-- on every start: every statement is idempotent, and the seed rows go in only
-- when the table is empty.
BEGIN;

-- Serialises concurrent runs (two processes starting at once).
SELECT pg_advisory_xact_lock(7266870501);

CREATE TABLE IF NOT EXISTS images (
  id SERIAL PRIMARY KEY,
  url TEXT NOT NULL,
  processed BOOLEAN NOT NULL DEFAULT FALSE
);

-- Beside the seed's three columns, so a table created with only those is upgraded.
ALTER TABLE images ADD COLUMN IF NOT EXISTS enqueued_at timestamptz;
ALTER TABLE images ADD COLUMN IF NOT EXISTS failed_at timestamptz;
ALTER TABLE images ADD COLUMN IF NOT EXISTS error_code text;
ALTER TABLE images ADD COLUMN IF NOT EXISTS error_message text;

-- The pending-row scan of /enqueue: its WHERE clause must match this predicate.
CREATE INDEX IF NOT EXISTS images_pending_idx ON images (id)
  WHERE NOT processed AND enqueued_at IS NULL AND failed_at IS NULL;

-- One record per published job, table rows and /tasks alike, keyed by the job
-- id. Added beside `images` (whose integer ids cannot hold task ids), so a
-- deployment made before it keeps its rows; a row processed before this table
-- existed is still answered from `images`.
CREATE TABLE IF NOT EXISTS jobs (
  id text PRIMARY KEY,
  url text NOT NULL,
  state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'written', 'skipped', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  error_code text,
  error_message text,
  output_key text,
  output_location text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);

-- The status page: throughput, newest outputs and latest failures.
CREATE INDEX IF NOT EXISTS jobs_finished_idx ON jobs (finished_at DESC) WHERE finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_failed_idx ON jobs (updated_at DESC) WHERE state = 'failed';

INSERT INTO images (url)
SELECT 'https://picsum.photos/seed/' || n || '/1024/768'
FROM generate_series(1, 300) AS n
WHERE NOT EXISTS (SELECT 1 FROM images)
ORDER BY n;

COMMIT;
