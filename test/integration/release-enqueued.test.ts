import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { EmbeddedImagesRepo } from '#adapters/db/embedded-images-repo.ts';
import { PgImagesRepo } from '#adapters/db/pg-images-repo.ts';
import type { SqlImagesRepo, SqlQueryable } from '#adapters/db/sql-images-repo.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/pg-database.ts';

const schema = await readFile(new URL('../../db/init.sql', import.meta.url), 'utf8');

interface Subject {
  readonly repo: SqlImagesRepo;
  readonly sql: SqlQueryable;
}

/** The local host's start-up step: its in-process queue died with the last run, so rows it had enqueued go back to pending. */
function describeReleaseEnqueued(name: string, open: () => Promise<Subject & { close(): Promise<void> }>) {
  describe(`${name}: releaseEnqueued`, () => {
    let subject: Subject & { close(): Promise<void> };

    before(async () => {
      subject = await open();
    });

    after(async () => {
      await subject.close();
    });

    it('hands enqueued rows back to pending, and leaves processed and failed rows alone', async () => {
      const { repo, sql } = subject;
      await repo.enqueuePending(5, async () => {});
      await repo.markProcessed({ id: '1', url: 'https://images.test/1.jpg' });
      await repo.markFailed({ id: '2', url: 'https://images.test/2.jpg' }, { code: 'HTTP_404', message: 'gone' });

      assert.equal(await repo.releaseEnqueued(), 3);

      const pending: string[] = [];
      await repo.enqueuePending(5, async (rows) => void pending.push(...rows.map((row) => row.id)));
      assert.deepEqual(pending, ['3', '4', '5', '6', '7']);
      const { rows } = await sql.query<{ id: number }>('SELECT id FROM images WHERE processed OR failed_at IS NOT NULL ORDER BY id');
      assert.deepEqual(rows.map((row) => Number(row.id)), [1, 2]);
      assert.equal(await repo.releaseEnqueued(), 5);
      assert.equal(await repo.releaseEnqueued(), 0);
    });
  });
}

let database: TestDatabase;
describeReleaseEnqueued('Postgres', async () => {
  database = await createTestDatabase();
  const repo = await PgImagesRepo.connect(database.url);
  return {
    repo,
    sql: { query: async (text, params) => ({ rows: await database.query(text, params) }) } as SqlQueryable,
    close: async () => {
      await repo.close();
      await database.drop();
    },
  };
});

describeReleaseEnqueued('embedded', async () => {
  const repo = await EmbeddedImagesRepo.open(schema);
  return { repo, sql: repo.database, close: () => repo.close() };
});
