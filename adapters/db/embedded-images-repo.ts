import { PGlite } from '@electric-sql/pglite';
import type { ImagesRepo } from '#functions/ports.ts';
import { SqlImagesRepo, type SqlQueryable } from './sql-images-repo.ts';

/**
 * PGlite runs each statement on this thread, ~2-3 ms for a mark of one row,
 * so no job can finish while one runs: without a window every mark would be
 * its own statement. 10 ms took the demo from 35-39 to 44-47 images/s in back-to-back runs.
 */
const MARK_GATHER_MS = 10;

export interface EmbeddedOpenOptions {
  /**
   * A directory to keep the database in across runs (created if missing);
   * in memory when absent, so nothing is kept after `close()`. Opening an
   * existing directory skips PGlite's initdb, which is most of a fresh
   * start (see docs/performance.md).
   */
  readonly dataDir?: string;
}

/**
 * {@link ImagesRepo} on an embedded Postgres (PGlite), for the local host when
 * no `DATABASE_URL` is given. It runs the same statements as
 * {@link PgImagesRepo} (both are a {@link SqlImagesRepo}), on a database loaded
 * from `db/init.sql` (idempotent) when opened. With a `dataDir` the database
 * lives there across runs, and only the first run pays for creating it;
 * without one it lives in memory and ends with `close()`. `close()` is safe to
 * call twice.
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
    // PGlite already has the shape of a SqlDatabase: `query` and `transaction`.
    super(pglite, { markGatherMs: MARK_GATHER_MS });
    this.database = pglite;
  }

  /** Opens the database (see {@link EmbeddedOpenOptions}) and runs `schemaSql` (the text of `db/init.sql`) in it. */
  static async open(schemaSql: string, options: EmbeddedOpenOptions = {}): Promise<EmbeddedImagesRepo> {
    const pglite = options.dataDir === undefined ? await PGlite.create() : await PGlite.create({ dataDir: options.dataDir });
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
