import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { PgImagesRepo } from '#adapters/db/pg-images-repo.ts';
import { ENQUEUE_BATCH_ROWS } from '#adapters/db/sql-images-repo.ts';
import { errorKind, TransientError } from '#functions/errors.ts';
import type { PendingImage } from '#functions/ports.ts';
import { describeImagesRepo } from '#test/conformance/describe-images-repo.ts';
import { freePort } from '#test/support/free-port.ts';
import { waitUntil } from '#test/support/wait-until.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/pg-database.ts';

const initSql = () => readFile(new URL('../../db/init.sql', import.meta.url), 'utf8');
const seedUrl = (n: number) => `https://picsum.photos/seed/${n}/1024/768`;
const rowOf = (n: number): PendingImage => ({ id: String(n), url: seedUrl(n) });

interface ImageRow {
  id: number;
  url: string;
  processed: boolean;
  enqueued_at: Date | null;
  failed_at: Date | null;
  error_code: string | null;
  error_message: string | null;
}

describe('PgImagesRepo on a fresh test database', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase();
  });

  after(async () => {
    await db?.drop();
  });

  describeImagesRepo('PgImagesRepo', async (seed) => {
    await db.query('TRUNCATE images, jobs RESTART IDENTITY');
    await db.query('INSERT INTO images (id, url) SELECT * FROM unnest($1::int[], $2::text[])', [
      seed.map((image) => Number(image.id)),
      seed.map((image) => image.url),
    ]);
    const opened: PgImagesRepo[] = [await PgImagesRepo.connect(db.url)];
    return {
      repo: opened[0]!,
      async row(id) {
        const [row] = await db.query<ImageRow>('SELECT * FROM images WHERE id = $1', [Number(id)]);
        if (!row) return undefined;
        const failure = row.failed_at ? { code: row.error_code!, message: row.error_message! } : undefined;
        return { url: row.url, processed: row.processed, enqueued: row.enqueued_at !== null, failure };
      },
      async unreachable() {
        const repo = await PgImagesRepo.connect(`postgres://postgres@127.0.0.1:${await freePort()}/imgpipe`);
        opened.push(repo);
        return repo;
      },
      async cleanup() {
        for (const repo of opened) await repo.close();
      },
    };
  });
});

describe('PgImagesRepo on a real Postgres, seeded by db/init.sql', () => {
  let db: TestDatabase;
  let repo: PgImagesRepo;
  const rowById = async (id: number) => (await db.query<ImageRow>('SELECT * FROM images WHERE id = $1', [id]))[0]!;

  before(async () => {
    db = await createTestDatabase();
    repo = await PgImagesRepo.connect(db.url);
  });

  after(async () => {
    await repo?.close();
    await db?.drop();
  });

  beforeEach(async () => {
    await db.query('TRUNCATE images, jobs RESTART IDENTITY');
    await db.query(await initSql());
  });

  it('seeds 300 picsum rows, in id order, with the three seed columns and the added ones', async () => {
    const rows = await db.query<ImageRow>('SELECT * FROM images ORDER BY id');
    const columns = await db.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'images' ORDER BY ordinal_position",
    );

    assert.equal(rows.length, 300);
    assert.deepEqual(rows[0], { id: 1, url: seedUrl(1), processed: false, enqueued_at: null, failed_at: null, error_code: null, error_message: null });
    assert.ok(rows.every((row, index) => row.id === index + 1 && row.url === seedUrl(index + 1) && !row.processed));
    assert.deepEqual(columns.map((c) => c.column_name), ['id', 'url', 'processed', 'enqueued_at', 'failed_at', 'error_code', 'error_message']);
  });

  it('lets two concurrent callers hold their batches at once (SKIP LOCKED), never the same row', async () => {
    const other = await PgImagesRepo.connect(db.url);
    try {
      // Each publish waits until the other caller is inside its publish too, or
      // until a backend of this database waits for a row lock: both transactions
      // must hold their rows at once, which only skipping locked rows allows.
      let arrived = 0;
      const seen: PendingImage[][] = [];
      const waits: string[] = [];
      const waitingForALock = async () => {
        const [row] = await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        );
        return row!.n > 0;
      };
      const publish = async (rows: readonly PendingImage[]) => {
        seen.push([...rows]);
        arrived += 1;
        waits.push(await waitUntil('the other caller, or a lock wait', async () => (arrived === 2 ? 'together' : (await waitingForALock()) && 'alone'), 30_000, 10));
      };

      const counts = await Promise.all([repo.enqueuePending(50, publish), other.enqueuePending(50, publish)]);

      const ids = seen.flat().map((row) => Number(row.id)).sort((a, b) => a - b);
      assert.deepEqual(waits, ['together', 'together']);
      assert.deepEqual(counts, [50, 50]);
      assert.deepEqual(ids, Array.from({ length: 100 }, (_, index) => index + 1));
    } finally {
      await other.close();
    }
  });

  it('writes a queued record for every enqueued row, in the enqueue transaction', async () => {
    await repo.enqueuePending(3, async () => {
      // Not yet committed: the record appears with the rows' enqueued mark.
      assert.deepEqual(await db.query('SELECT id FROM jobs'), []);
    });

    const record = await repo.findJob('2');
    assert.equal(record?.state, 'queued');
    assert.equal(record?.url, seedUrl(2));
    assert.equal(record?.attempts, 0);
    assert.ok(record?.createdAt);
  });

  it('takes many rows in several batches and commits them together, only after the last publish resolved', async () => {
    const many = 2 * ENQUEUE_BATCH_ROWS + 3;
    await db.query(`INSERT INTO images (url) SELECT 'https://images.test/' || n || '.jpg' FROM generate_series(301, $1::int) AS n`, [many]);
    const committedCounts = () =>
      db.query<{ marked: number; records: number }>(
        'SELECT (SELECT count(*)::int FROM images WHERE enqueued_at IS NOT NULL) AS marked, (SELECT count(*)::int FROM jobs) AS records',
      );
    const seenByOthers: { marked: number; records: number }[] = [];

    const enqueued = await repo.enqueuePending(many, async () => {
      seenByOthers.push(...(await committedCounts()));
    });

    assert.equal(enqueued, many);
    assert.equal(seenByOthers.length, 3);
    assert.deepEqual(seenByOthers, Array(3).fill({ marked: 0, records: 0 }));
    assert.deepEqual(await committedCounts(), [{ marked: many, records: many }]);
  });

  it('writes no record when the publish fails', async () => {
    await assert.rejects(
      repo.enqueuePending(3, async () => {
        throw new Error('refused');
      }),
    );

    assert.equal(await repo.findJob('1'), undefined);
  });

  it('answers a task job through its lifecycle: queued, failed, queued again, written', async () => {
    const job = { id: 't-lifecycle', url: 'https://images.test/cat.jpg' };
    await repo.recordQueued([job]);
    const queued = await repo.findJob(job.id);

    await repo.markFailed(job, { code: 'HTTP_404', message: 'gone' }, 1);
    const failed = await repo.findJob(job.id);
    await repo.clearFailed([job.id]);
    const cleared = await repo.findJob(job.id);
    await repo.markProcessed(job, { outcome: 'written', key: 't-lifecycle.jpg', location: '/data/t-lifecycle.jpg', attempt: 2 });
    const written = await repo.findJob(job.id);

    assert.deepEqual([queued?.state, queued?.attempts, queued?.finishedAt], ['queued', 0, null]);
    assert.deepEqual([failed?.state, failed?.attempts, failed?.error], ['failed', 1, { code: 'HTTP_404', message: 'gone' }]);
    assert.ok(failed?.finishedAt);
    assert.deepEqual([cleared?.state, cleared?.error, cleared?.finishedAt], ['queued', null, null]);
    assert.deepEqual(
      [written?.state, written?.attempts, written?.error, written?.output],
      ['written', 2, null, { key: 't-lifecycle.jpg', location: '/data/t-lifecycle.jpg' }],
    );
    assert.equal(written?.createdAt, queued?.createdAt);
  });

  it('records concurrent tasks, two of them with one id, each once queued', async () => {
    const jobs = ['t-a', 't-b', 't-a', 't-c'].map((id, index) => ({ id, url: `https://images.test/${index}.jpg` }));

    await Promise.all(jobs.map((job) => repo.recordQueued([job])));

    const records = await Promise.all(['t-a', 't-b', 't-c'].map((id) => repo.findJob(id)));
    assert.deepEqual(records.map((record) => record?.state), ['queued', 'queued', 'queued']);
    assert.equal(records[0]?.url, 'https://images.test/2.jpg');
  });

  it('records a failure that will be retried on the job alone, which stays queued', async () => {
    await repo.enqueuePending(1, async () => {});

    await repo.markFailed(rowOf(1), { code: 'TIMEOUT', message: 'slow' }, 2, false);

    const record = await repo.findJob('1');
    assert.deepEqual([record?.state, record?.attempts, record?.error, record?.finishedAt], ['queued', 2, { code: 'TIMEOUT', message: 'slow' }, null]);
    const row = await rowById(1);
    assert.deepEqual([row.failed_at, row.processed], [null, false]);
  });

  it('clears the failed mark of a row without making it pending again', async () => {
    await repo.enqueuePending(1, async () => {});
    await repo.markFailed(rowOf(1), { code: 'HTTP_404', message: 'gone' });

    await repo.clearFailed(['1']);

    const row = await rowById(1);
    assert.deepEqual([row.failed_at, row.error_code, row.processed], [null, null, false]);
    assert.ok(row.enqueued_at instanceof Date);
    assert.equal((await repo.findJob('1'))?.state, 'queued');
  });

  it('answers a row that ended before job records existed from the row itself', async () => {
    await db.query('UPDATE images SET processed = true WHERE id = 4');
    await db.query("UPDATE images SET failed_at = now(), error_code = 'HTTP_404', error_message = 'gone' WHERE id = 5");

    const processed = await repo.findJob('4');
    const failed = await repo.findJob('5');

    assert.deepEqual([processed?.state, processed?.url, processed?.output], ['written', seedUrl(4), null]);
    assert.deepEqual([failed?.state, failed?.error], ['failed', { code: 'HTTP_404', message: 'gone' }]);
    assert.equal(await repo.findJob('6'), undefined, 'a row never enqueued is no job yet');
    assert.equal(await repo.findJob('nope'), undefined);
  });

  it('summarises rows and jobs for the status page, newest first', async () => {
    await repo.enqueuePending(5, async () => {});
    await repo.markProcessed(rowOf(1), { outcome: 'written', key: '1.jpg', location: '/d/1.jpg', attempt: 1 });
    await repo.markProcessed(rowOf(2), { outcome: 'skipped', key: '2.jpg', location: '/d/2.jpg', attempt: 1 });
    await repo.markProcessed(rowOf(3), { outcome: 'written', key: '3.jpg', location: '/d/3.jpg', attempt: 1 });
    await repo.markFailed(rowOf(4), { code: 'HTTP_404', message: 'gone' }, 1);
    await db.query("UPDATE jobs SET finished_at = now() - interval '2 minutes' WHERE id = '1'");

    const summary = await repo.summary({ failures: 5, outputs: 5 });

    assert.deepEqual(summary.rows, { total: 300, processed: 3, failed: 1, pending: 296 });
    assert.deepEqual(summary.jobs, { queued: 1, written: 2, skipped: 1, failed: 1 });
    assert.equal(summary.endedLastMinute, 2);
    assert.deepEqual(summary.latestFailures.map((failure) => [failure.id, failure.code, failure.message]), [['4', 'HTTP_404', 'gone']]);
    assert.deepEqual(summary.newestOutputs.map((output) => [output.id, output.key]), [['3', '3.jpg'], ['1', '1.jpg']]);
  });

  it('answers ping', async () => {
    await repo.ping();
  });

  it('keeps every row and mark when init.sql runs again', async () => {
    await repo.enqueuePending(10, async () => {});
    await repo.markProcessed(rowOf(1));

    await db.query(await initSql());

    const [counts] = await db.query<{ total: number; enqueued: number; processed: number }>(
      'SELECT count(*)::int AS total, count(enqueued_at)::int AS enqueued, count(*) FILTER (WHERE processed)::int AS processed FROM images',
    );
    assert.deepEqual(counts, { total: 300, enqueued: 10, processed: 1 });
  });
});

describe('db/init.sql on a table with only the seed columns', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase({ loadSchema: false });
  });

  after(async () => {
    await db?.drop();
  });

  it('adds the new columns and the pending index, keeps the rows and adds no seed', async () => {
    await db.query('CREATE TABLE images (id SERIAL PRIMARY KEY, url TEXT NOT NULL, processed BOOLEAN NOT NULL DEFAULT FALSE)');
    await db.query("INSERT INTO images (url, processed) VALUES ('https://old.test/1.jpg', true), ('https://old.test/2.jpg', false)");

    await db.query(await initSql());

    const rows = await db.query<ImageRow>('SELECT * FROM images ORDER BY id');
    const indexes = await db.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE tablename = 'images'");
    assert.deepEqual(rows.map((row) => [row.id, row.url, row.processed, row.enqueued_at, row.failed_at, row.error_code]), [
      [1, 'https://old.test/1.jpg', true, null, null, null],
      [2, 'https://old.test/2.jpg', false, null, null, null],
    ]);
    assert.ok(indexes.some((index) => index.indexname === 'images_pending_idx'));

    const repo = await PgImagesRepo.connect(db.url);
    try {
      const picked: PendingImage[] = [];
      await repo.enqueuePending(10, async (rows) => void picked.push(...rows));
      assert.deepEqual(picked, [{ id: '2', url: 'https://old.test/2.jpg' }]);
    } finally {
      await repo.close();
    }
  });
});

describe('PgImagesRepo when the database is unreachable', () => {
  let repo: PgImagesRepo;

  before(async () => {
    repo = await PgImagesRepo.connect(`postgres://imgpipe:s3cret-pw@127.0.0.1:${await freePort()}/imgpipe`);
  });

  after(async () => {
    await repo.close();
    await repo.close();
  });

  it('fails ping with a transient DATABASE_UNAVAILABLE that keeps the cause and hides the password', async () => {
    await assert.rejects(repo.ping(), (error) => {
      assert.ok(error instanceof TransientError);
      assert.equal(error.code, 'DATABASE_UNAVAILABLE');
      assert.equal(errorKind(error), 'transient');
      assert.ok(error.cause instanceof Error);
      assert.match(error.message, /ECONNREFUSED/);
      assert.doesNotMatch(error.message, /s3cret-pw/);
      return true;
    });
  });
});
