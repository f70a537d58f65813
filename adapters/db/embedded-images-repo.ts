import { PGlite } from '@electric-sql/pglite';
import type { ImagesRepo } from '#functions/ports.ts';
import { SqlImagesRepo, type SqlDatabase, type SqlQueryable } from './sql-images-repo.ts';

/**
 * {@link ImagesRepo} on an embedded, in-memory Postgres (PGlite), for the local
 * host when no `DATABASE_URL` is given. It runs the same statements as
 * {@link PgImagesRepo} (both are a {@link SqlImagesRepo}), on a database loaded
 * from `db/init.sql` when opened; nothing is kept after `close()`, so every
 * start begins with the seed rows pending again. `close()` is safe to call twice.
 *
 * @example
 * const images = await EmbeddedImagesRepo.open(await readFile('db/init.sql', 'utf8'));
 * await images.enqueuePending(300, publish); // → 300
 * await images.close();
 */
export class EmbeddedImagesRepo extends SqlImagesRepo implements ImagesRepo {
  /** The embedded database itself, for looking at rows (tests, summaries). */
  readonly database: SqlQueryable;
  private closing: Promise<void> | undefined;

  private constructor(private readonly pglite: PGlite) {
    const database = new PgliteDatabase(pglite);
    super(database);
    this.database = database;
  }

  /** Starts an empty in-memory database and runs `schemaSql` (the text of `db/init.sql`) in it. */
  static async open(schemaSql: string): Promise<EmbeddedImagesRepo> {
    const pglite = await PGlite.create();
    try {
      await pglite.exec(schemaSql);
    } catch (error) {
      await pglite.close();
      throw error;
    }
    return new EmbeddedImagesRepo(pglite);
  }

  async close(): Promise<void> {
    this.closing ??= this.pglite.close();
    await this.closing;
  }
}

/** PGlite seen as a {@link SqlDatabase}: it runs one statement at a time, transactions included. */
class PgliteDatabase implements SqlDatabase {
  constructor(private readonly pglite: PGlite) {}

  async query<Row>(text: string, params: unknown[] = []): Promise<{ rows: Row[] }> {
    const result = await this.pglite.query<Row>(text, params);
    return { rows: result.rows };
  }

  transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    return this.pglite.transaction((tx) =>
      fn({
        async query<Row>(text: string, params: unknown[] = []) {
          const result = await tx.query<Row>(text, params);
          return { rows: result.rows };
        },
      }),
    );
  }
}
