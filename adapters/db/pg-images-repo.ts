import { Pool, type PoolClient } from 'pg';
import type { ImagesRepo } from '#functions/ports.ts';
import { SqlImagesRepo, type SqlDatabase, type SqlQueryable } from './sql-images-repo.ts';

/**
 * {@link ImagesRepo} on a Postgres server through a `pg` pool, which the repo
 * owns: `close()` ends it (safe to call twice). Connections are opened on first
 * use, so a process starts while the database is still down and `ping` says so.
 *
 * @example
 * const images = await PgImagesRepo.connect(config.databaseUrl);
 * await images.ping();
 * await images.close();
 */
export class PgImagesRepo extends SqlImagesRepo implements ImagesRepo {
  private closing: Promise<void> | undefined;

  private constructor(private readonly pool: Pool) {
    super(new PoolDatabase(pool));
  }

  static async connect(databaseUrl: string): Promise<PgImagesRepo> {
    const pool = new Pool({
      connectionString: databaseUrl,
      max: 10,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      application_name: 'imgpipe',
    });
    // An idle client that loses its server emits here; without a listener the
    // process would crash. The next query reports the outage instead.
    pool.on('error', () => {});
    return new PgImagesRepo(pool);
  }

  async close(): Promise<void> {
    this.closing ??= this.pool.end();
    await this.closing;
  }
}

/** A `pg` pool seen as a {@link SqlDatabase}. */
class PoolDatabase implements SqlDatabase {
  constructor(private readonly pool: Pool) {}

  async query<Row>(text: string, params: unknown[] = []): Promise<{ rows: Row[] }> {
    const result = await this.pool.query(text, params);
    return { rows: result.rows as Row[] };
  }

  async transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(clientQueryable(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        // A connection that cannot roll back is not handed to the next caller.
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }
}

function clientQueryable(client: PoolClient): SqlQueryable {
  return {
    async query<Row>(text: string, params: unknown[] = []) {
      const result = await client.query(text, params);
      return { rows: result.rows as Row[] };
    },
  };
}
