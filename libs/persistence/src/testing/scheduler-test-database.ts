import type { DatabaseBackend } from '@myelin/testing';
import { openServiceDatabase, ServiceDatabase } from '../data-source/create-data-source';
import { SCHEDULER_SCHEMA } from '../schemas';
import { BuildsRepository } from '../scheduler/repositories/builds.repository';
import { ExecutionsRepository } from '../scheduler/repositories/executions.repository';

/** What a test of the scheduler's repositories works with: a database opened on the scheduler schema. */
export interface SchedulerRepositories {
  db: ServiceDatabase;
  executions: ExecutionsRepository;
  builds: BuildsRepository;
}

/**
 * The scheduler schema on one of a suite's backends (`serverAndEmbedded`), opened in jest's
 * `beforeAll` and closed and dropped in `afterAll` around the calling `describe`; the returned
 * object is filled in once `beforeAll` has run.
 */
export function useSchedulerTestDatabase(provision: DatabaseBackend[1]): SchedulerRepositories {
  const handle = {} as SchedulerRepositories;
  let cleanup: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const provisioned = await provision();
    cleanup = provisioned.cleanup;
    handle.db = await openServiceDatabase({ url: provisioned.url, ...SCHEDULER_SCHEMA });
    handle.executions = new ExecutionsRepository(handle.db.dataSource);
    handle.builds = new BuildsRepository(handle.db.dataSource);
  }, 60_000);
  afterAll(async () => {
    await handle.db?.close();
    await cleanup?.();
  });
  return handle;
}
