import { createTestDatabase, TestDatabase } from '@myelin/testing';
import { openServiceDatabase, ServiceDatabase } from '../data-source/create-data-source';
import { CORE_SCHEMA } from '../schemas';
import { AccountsRepository } from '../core/repositories/accounts.repository';
import { RunsRepository } from '../core/repositories/runs.repository';

/** What a test of the core repositories works with: its own database, opened on the core schema. */
export interface CoreRepositories {
  /** The database's URL (a second service instance may open it too). */
  url: string;
  core: ServiceDatabase;
  runs: RunsRepository;
  accounts: AccountsRepository;
}

/**
 * A database of the suite's own for the core repositories (jest `beforeAll`/`afterAll` around the
 * calling `describe`); the returned object is filled in once `beforeAll` has run.
 */
export function useCoreTestDatabase(name: string): CoreRepositories {
  const handle = {} as CoreRepositories;
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(name);
    handle.url = db.url;
    handle.core = await openServiceDatabase({ url: db.url, ...CORE_SCHEMA });
    handle.runs = new RunsRepository(handle.core.dataSource);
    handle.accounts = new AccountsRepository(handle.core.dataSource);
  }, 60_000);
  afterAll(async () => {
    await handle.core?.close();
    await db?.drop();
  });
  return handle;
}
