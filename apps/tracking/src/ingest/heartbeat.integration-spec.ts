import { randomUUID } from 'node:crypto';
import { RunHeartbeat, TokenVerify } from '@myelin/contracts';
import { InProcessBus, MessageHandler } from '@myelin/bus';
import { AppHandle } from '@myelin/runtime';
import { createTempDir, createTestDatabase, TempDir, TestDatabase, waitFor } from '@myelin/testing';
import { bootstrap } from '../bootstrap';

const RUN_TOKEN = 'run-token-beat-01';
const STRANGER = 'stranger-token-01';

/** Heartbeats over HTTP on tracking's own PostgreSQL database; the API (tokens) and the scheduler (events) stood in for on the bus. */
describe('tracking heartbeats over HTTP', () => {
  let app: AppHandle;
  let bus: InProcessBus;
  let db: TestDatabase;
  let runsDir: TempDir;
  let base: string;
  const run = randomUUID();
  const other = randomUUID();
  const relayed: RunHeartbeat.Payload[] = [];

  const beat = (uuid: string, token: string | null) =>
    fetch(`${base}/api/v1/tracking/runs/${uuid}/heartbeat`, { method: 'POST', headers: token ? { Authorization: `token ${token}` } : {} });

  beforeAll(async () => {
    db = await createTestDatabase('myelin_heartbeats');
    runsDir = await createTempDir('myelin-heartbeat-runs');
    bus = new InProcessBus();
    // The run's own token writes to its run only; STRANGER is a valid user without access.
    const verify = ((p: TokenVerify.Payload): TokenVerify.Reply => {
      if (p.token === RUN_TOKEN) return { valid: true, userId: randomUUID(), username: 'job', isSuperuser: false, ...(p.runUuid ? { access: p.runUuid === run ? 'write' : 'none' } : {}) };
      if (p.token === STRANGER) return { valid: true, userId: randomUUID(), username: 'stranger', isSuperuser: false, ...(p.runUuid ? { access: 'none' } : {}) };
      return { valid: false };
    }) as MessageHandler;
    await bus.consume('api', new Map([[TokenVerify.PATTERN, verify]]));
    await bus.consume('scheduler', new Map([[RunHeartbeat.PATTERN, (async (e: RunHeartbeat.Payload) => void relayed.push(e)) as MessageHandler]]));
    app = await bootstrap({
      env: { MYELIN_DATABASE_URL: db.url, MYELIN_PORT: '0', MYELIN_LOG_LEVEL: 'error', MYELIN_RUNS_DIR: runsDir.path, MYELIN_AUTH_CACHE_SECONDS: '0' },
      bus,
      listen: true,
    });
    base = `http://127.0.0.1:${app.port}`;
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await bus?.close();
    await db?.drop();
    await runsDir?.remove();
  });

  it('refuses a heartbeat without a token, with an unknown one, or for another run', async () => {
    expect((await beat(run, null)).status).toBe(401);
    expect((await beat(run, 'not-a-token-0001')).status).toBe(401);
    expect([403, 404]).toContain((await beat(run, STRANGER)).status);
    expect([403, 404]).toContain((await beat(other, RUN_TOKEN)).status);
    await new Promise((r) => setTimeout(r, 100));
    expect(relayed).toEqual([]);
  });

  it('relays the run token’s heartbeat to the scheduler, coalescing repeats within a few seconds', async () => {
    const first = await beat(run, RUN_TOKEN);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: true, relayed: true });
    const again = await beat(run, RUN_TOKEN);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ received: true, relayed: false });
    await waitFor(() => relayed.length >= 1, { timeoutMs: 5000, what: 'the heartbeat event' });
    await new Promise((r) => setTimeout(r, 100));
    expect(relayed).toHaveLength(1);
    expect(relayed[0]?.runUuid).toBe(run);
    expect(Math.abs(Date.parse(relayed[0]?.at ?? '') - Date.now())).toBeLessThan(10_000);
  });
});
