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

INSERT INTO images (url)
SELECT 'https://picsum.photos/seed/' || n || '/1024/768'
FROM generate_series(1, 300) AS n
WHERE NOT EXISTS (SELECT 1 FROM images)
ORDER BY n;

COMMIT;
