import type { RunStatusChanged } from '@myelin/contracts';
import { InProcessBus } from '@myelin/bus';
import { AppHandle } from '@myelin/runtime';
import { createTempDir, createTestDatabase, TempDir, TestDatabase } from '@myelin/testing';
import { bootstrap } from '../bootstrap';
import { schedulerTestEnv } from './scheduler-test-env';
import { standInApi, standInTracking } from './stand-ins';

/** A scheduler started alone for an integration test, with the API and tracking stood in for on an in-process bus. */
export interface TestScheduler {
  app: AppHandle;
  bus: InProcessBus;
  /** The run status events the scheduler sent, in order. */
  events: RunStatusChanged.Payload[];
  close(): Promise<void>;
}

/** Its own database (`name`) and runs directory; `env` adds to schedulerTestEnv. */
export async function startTestScheduler(name: string, env: Record<string, string> = {}): Promise<TestScheduler> {
  const events: RunStatusChanged.Payload[] = [];
  let db: TestDatabase | undefined;
  let runsDir: TempDir | undefined;
  let app: AppHandle | undefined;
  const bus = new InProcessBus();
  const close = async (): Promise<void> => {
    await app?.close();
    await bus.close();
    await db?.drop();
    await runsDir?.remove();
  };
  try {
    db = await createTestDatabase(`myelin_${name}`);
    runsDir = await createTempDir(`myelin-${name}-runs`);
    await standInApi(bus, events);
    await standInTracking(bus);
    app = await bootstrap({ env: schedulerTestEnv(db.url, runsDir.path, env), bus, listen: false });
    return { app, bus, events, close };
  } catch (error) {
    await close();
    throw error;
  }
}
