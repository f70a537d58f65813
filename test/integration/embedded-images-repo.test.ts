import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EmbeddedImagesRepo } from '#adapters/db/embedded-images-repo.ts';
import { describeImagesRepo } from '#test/conformance/describe-images-repo.ts';

const SEED_ROWS = 300;

/** A seed row's URL as db/init.sql holds it: compared as text, never fetched (nothing here downloads). */
function seedUrl(id: number): string {
  return `https://picsum.photos/seed/${id}/1024/768`;
}

interface ImageRow {
  url: string;
  processed: boolean;
  enqueued: boolean;
  failed: boolean;
  error_code: string | null;
  error_message: string | null;
}

describe('EmbeddedImagesRepo (PGlite loaded from db/init.sql)', () => {
  let schema: string;
  // Opening takes seconds: the conformance cases share one database and refill its table.
  let shared: EmbeddedImagesRepo;

  before(async () => {
    schema = await readFile(new URL('../../db/init.sql', import.meta.url), 'utf8');
    shared = await EmbeddedImagesRepo.open(schema);
  });

  after(async () => {
    await shared?.close();
  });

  it('starts with the 300 seed rows, all pending', async () => {
    // Prepare: the database as opened, before any conformance case refills it
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

  describeImagesRepo('EmbeddedImagesRepo', async (seed) => {
    await shared.database.query('DELETE FROM images');
    await shared.database.query('DELETE FROM jobs');
    await shared.database.query('INSERT INTO images (id, url) SELECT * FROM unnest($1::int[], $2::text[])', [
      seed.map((image) => Number(image.id)),
      seed.map((image) => image.url),
    ]);
    return {
      repo: shared,
      async row(id) {
        const { rows } = await shared.database.query<ImageRow>(
          `SELECT url, processed, enqueued_at IS NOT NULL AS enqueued, failed_at IS NOT NULL AS failed, error_code, error_message
           FROM images WHERE id = $1`,
          [Number(id)],
        );
        const row = rows[0];
        if (!row) return undefined;
        const failure = row.failed ? { code: row.error_code!, message: row.error_message! } : undefined;
        return { url: row.url, processed: row.processed, enqueued: row.enqueued, failure };
      },
      async unreachable() {
        const repo = await EmbeddedImagesRepo.open(schema);
        await repo.close();
        return repo;
      },
      // The shared database stays open for the next case.
      async cleanup() {},
    };
  });

  // Last: it closes the shared database.
  it('closes twice safely, and then fails ping as DATABASE_UNAVAILABLE', async () => {
    // Prepare
    const images = shared;
    await images.ping();

    // Act
    await images.close();
    await images.close();

    // Assess
    await assert.rejects(images.ping(), { name: 'TransientError', code: 'DATABASE_UNAVAILABLE' });
  });
});

describe('EmbeddedImagesRepo in a data directory', () => {
  it('keeps its rows across close and open, and runs db/init.sql again without reseeding', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'imgpipe-embedded-'));
    const schema = await readFile(new URL('../../db/init.sql', import.meta.url), 'utf8');
    const stateOf = async (repo: EmbeddedImagesRepo, id: number) =>
      (await repo.database.query<{ processed: boolean; enqueued: boolean }>('SELECT processed, enqueued_at IS NOT NULL AS enqueued FROM images WHERE id = $1', [id])).rows[0];
    try {
      const first = await EmbeddedImagesRepo.open(schema, { dataDir });
      await first.enqueuePending(2, async () => {});
      await first.markProcessed({ id: '1', url: seedUrl(1) });
      await first.close();

      const second = await EmbeddedImagesRepo.open(schema, { dataDir });
      try {
        assert.deepEqual(await stateOf(second, 1), { processed: true, enqueued: true });
        assert.deepEqual(await stateOf(second, 2), { processed: false, enqueued: true });
        const { rows } = await second.database.query<{ count: number }>('SELECT count(*)::int AS count FROM images');
        assert.equal(rows[0]?.count, SEED_ROWS);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
