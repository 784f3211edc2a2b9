import { Client } from 'pg';
import { TEST_POSTGRES_URL, uniqueName } from './test-ids';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/**
 * A fresh PostgreSQL database for one test file on the local server, dropped afterwards,
 * so test runs never see each other's data. Fails loudly when the server is unreachable:
 * an integration suite that cannot reach its database is a failure, not a skip.
 */
export async function createTestDatabase(label = 'myelin_test'): Promise<TestDatabase> {
  const name = uniqueName(label);
  const admin = new Client({ connectionString: TEST_POSTGRES_URL });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(`PostgreSQL is not reachable at ${TEST_POSTGRES_URL}: ${String(error)}`);
  }
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new Client({ connectionString: TEST_POSTGRES_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A database a suite runs on, and how to drop it afterwards. */
export type DatabaseBackend = [label: string, provision: () => Promise<{ url: string; cleanup(): Promise<void> }>];

/**
 * The two databases the persistence suites run on (`describe.each`): a database of its own on the
 * PostgreSQL server, and the embedded PGlite in memory. One dialect, one set of migrations.
 */
export function serverAndEmbedded(label: string): DatabaseBackend[] {
  return [
    [
      'PostgreSQL server',
      async () => {
        const db = await createTestDatabase(label);
        return { url: db.url, cleanup: () => db.drop() };
      },
    ],
    ['embedded PGlite', async () => ({ url: 'pglite://memory', cleanup: async () => undefined })],
  ];
}
