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
