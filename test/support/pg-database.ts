import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** Runs SQL against the test database (one short-lived connection). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

/** A fresh database on the local Postgres, loaded with db/init.sql unless told otherwise. */
export async function createTestDatabase(options: { loadSchema?: boolean } = {}): Promise<TestDatabase> {
  const name = `imgpipe_test_${randomBytes(4).toString('hex')}`;
  await withClient(ADMIN_URL, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = `postgres://postgres@127.0.0.1:5432/${name}`;
  if (options.loadSchema !== false) {
    const schema = await readFile(new URL('../../db/init.sql', import.meta.url), 'utf8');
    await withClient(url, (client) => client.query(schema));
  }
  return {
    name,
    url,
    query: async <R extends pg.QueryResultRow>(text: string, params?: unknown[]) =>
      withClient(url, async (client) => (await client.query<R>(text, params)).rows),
    drop: async () => {
      await withClient(ADMIN_URL, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
