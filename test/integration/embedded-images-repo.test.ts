import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PendingImage } from '#functions/ports.ts';
import { EmbeddedImagesRepo } from '#adapters/db/embedded-images-repo.ts';

const SEED_ROWS = 300;

function seedUrl(id: number): string {
  return `https://picsum.photos/seed/${id}/1024/768`;
}

function seedRow(id: number): PendingImage {
  return { id: String(id), url: seedUrl(id) };
}

interface RowState {
  processed: boolean;
  enqueued: boolean;
  error_code: string | null;
  error_message: string | null;
}

async function rowState(repo: EmbeddedImagesRepo, id: number): Promise<RowState | undefined> {
  const { rows } = await repo.database.query<RowState>(
    'SELECT processed, enqueued_at IS NOT NULL AS enqueued, error_code, error_message FROM images WHERE id = $1',
    [id],
  );
  return rows[0];
}

/** Takes rows through `enqueuePending` and keeps what was handed to `publish`. */
async function enqueueIds(repo: EmbeddedImagesRepo, limit: number): Promise<string[]> {
  const published: string[] = [];
  await repo.enqueuePending(limit, async (rows) => {
    published.push(...rows.map((row) => row.id));
  });
  return published;
}

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, index) => String(from + index));
}

describe('EmbeddedImagesRepo (PGlite loaded from db/init.sql)', () => {
  let schema: string;
  let shared: EmbeddedImagesRepo;

  before(async () => {
    schema = await readFile(new URL('../../db/init.sql', import.meta.url), 'utf8');
    shared = await EmbeddedImagesRepo.open(schema);
  });

  after(async () => {
    await shared?.close();
  });

  // Opening takes seconds; the tests share one database and put the rows back
  // as the seed left them before each one (the first test checks that state as opened).
  async function freshRepo(): Promise<EmbeddedImagesRepo> {
    await shared.database.query(
      'UPDATE images SET processed = false, enqueued_at = NULL, failed_at = NULL, error_code = NULL, error_message = NULL',
    );
    return shared;
  }

  it('starts with the 300 seed rows, all pending', async () => {
    // Prepare: the database as opened, before any reset
    const images = shared;

    // Act
    const { rows } = await images.database.query<{ total: number; pending: number; first: string; last: string }>(
      `SELECT count(*)::int AS total,
              count(*) FILTER (WHERE NOT processed AND enqueued_at IS NULL AND failed_at IS NULL)::int AS pending,
              min(url) FILTER (WHERE id = 1) AS first,
              min(url) FILTER (WHERE id = 300) AS last
       FROM images`,
    );

    // Assess
    assert.deepEqual(rows[0], { total: SEED_ROWS, pending: SEED_ROWS, first: seedUrl(1), last: seedUrl(300) });
  });

  it('hands out pending rows in id order and never the same row twice', async () => {
    // Prepare
    const images = await freshRepo();

    // Act
    const first = await enqueueIds(images, 200);
    const second = await enqueueIds(images, 200);
    const third = await enqueueIds(images, 200);

    // Assess
    assert.deepEqual(first, range(1, 200));
    assert.deepEqual(second, range(201, 300));
    assert.deepEqual(third, []);
    assert.equal((await rowState(images, 300))?.enqueued, true);
  });

  it('leaves the rows pending when publish fails, and rethrows its error', async () => {
    // Prepare
    const images = await freshRepo();
    const refused = new Error('the broker refused the messages');

    // Act
    const attempt = images.enqueuePending(5, async () => {
      throw refused;
    });

    // Assess
    await assert.rejects(attempt, (error) => error === refused);
    assert.equal((await rowState(images, 1))?.enqueued, false);
    assert.deepEqual(await enqueueIds(images, 5), range(1, 5));
  });

  it('marks a row processed only when both id and URL match the job', async () => {
    // Prepare
    const images = await freshRepo();

    // Act
    await images.markProcessed({ id: '5', url: 'https://elsewhere.test/5.jpg' });
    await images.markProcessed({ id: 't-0123456789abcdef', url: seedUrl(6) });
    await images.markProcessed(seedRow(7));

    // Assess
    assert.equal((await rowState(images, 5))?.processed, false);
    assert.equal((await rowState(images, 6))?.processed, false);
    assert.equal((await rowState(images, 7))?.processed, true);
    assert.deepEqual((await enqueueIds(images, 10)).slice(0, 7), ['1', '2', '3', '4', '5', '6', '8']);
  });

  it('records a failure, skips the failed row when enqueueing, and clears it once processed', async () => {
    // Prepare
    const images = await freshRepo();
    await images.markFailed({ id: '2', url: 'https://elsewhere.test/2.jpg' }, { code: 'HTTP_404', message: 'not it' });

    // Act
    await images.markFailed(seedRow(1), { code: 'HTTP_404', message: 'GET answered 404' });
    const pending = await enqueueIds(images, 2);
    const failed = await rowState(images, 1);
    await images.markProcessed(seedRow(1));

    // Assess
    assert.deepEqual(pending, ['2', '3']);
    assert.deepEqual({ code: failed?.error_code, message: failed?.error_message }, { code: 'HTTP_404', message: 'GET answered 404' });
    assert.deepEqual(await rowState(images, 1), { processed: true, enqueued: false, error_code: null, error_message: null });
    assert.equal((await rowState(images, 2))?.error_code, null);
  });

  it('answers ping while open, fails it as DATABASE_UNAVAILABLE once closed, and closes twice safely', async () => {
    // Prepare
    const images = await EmbeddedImagesRepo.open(schema);
    await images.ping();

    // Act
    await images.close();
    await images.close();

    // Assess
    await assert.rejects(images.ping(), { name: 'TransientError', code: 'DATABASE_UNAVAILABLE' });
  });
});

describe('EmbeddedImagesRepo with a dataDir', () => {
  it('keeps rows across a close and a reopen, without seeding again', async () => {
    const schema = await readFile(new URL('../../db/init.sql', import.meta.url), 'utf8');
    const dataDir = await mkdtemp(join(tmpdir(), 'imgpipe-pglite-'));
    try {
      const first = await EmbeddedImagesRepo.open(schema, { dataDir: join(dataDir, 'db') });
      await first.markProcessed(seedRow(1));
      assert.deepEqual(await enqueueIds(first, 2), ['2', '3']);
      await first.close();

      const again = await EmbeddedImagesRepo.open(schema, { dataDir: join(dataDir, 'db') });
      try {
        assert.equal((await rowState(again, 1))?.processed, true);
        assert.equal((await rowState(again, 2))?.enqueued, true);
        const { rows } = await again.database.query<{ count: number }>('SELECT count(*)::int AS count FROM images');
        assert.equal(rows[0]?.count, SEED_ROWS);
      } finally {
        await again.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
