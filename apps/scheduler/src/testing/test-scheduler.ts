import { RunStart, type RunStatusChanged } from '@myelin/contracts';
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
  /** Queue an experiment of alice/p running `cmd`, as the API's start command does. */
  start(runUuid: string, number: number, cmd: string): Promise<void>;
  /** The statuses the scheduler announced for a run, in order. */
  statuses(runUuid: string): string[];
  close(): Promise<void>;
}

/**
 * Holds the first caller that passes through it until `release()`; later callers go on: a test
 * freezes one step of the scheduler (an inspection, a status write) and looks at what goes on
 * beside it.
 */
export class Gate {
  holding = false;
  private open: () => void = () => undefined;

  async pass(): Promise<void> {
    if (this.holding) return;
    this.holding = true;
    await new Promise<void>((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open();
  }
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
    const start = (runUuid: string, number: number, cmd: string) =>
      bus.send(RunStart.PATTERN, { runUuid, project: 'alice/p', number, kind: 'experiment', cmd, params: {}, spec: {}, user: 'alice', teams: [] } satisfies RunStart.Payload);
    const statuses = (runUuid: string) => events.filter((e) => e.runUuid === runUuid).map((e) => e.status);
    return { app, bus, events, start, statuses, close };
  } catch (error) {
    await close();
    throw error;
  }
}
