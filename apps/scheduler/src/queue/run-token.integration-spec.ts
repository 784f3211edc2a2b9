import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RunStart, RunStatusChanged, RunTokenIssue } from '@myelin/contracts';
import { InProcessBus, MessageHandler, RemoteError } from '@myelin/bus';
import { AppHandle } from '@myelin/runtime';
import { createTempDir, createTestDatabase, TempDir, TestDatabase, waitFor } from '@myelin/testing';
import { bootstrap } from '../bootstrap';
import { schedulerTestEnv } from '../testing/scheduler-test-env';

jest.setTimeout(60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The scheduler alone, the API stood in for on the in-process bus: a run is started only with its
 * own token (a job without one could not report through the tracking API).
 */
describe('scheduler: no run starts without its token', () => {
  let app: AppHandle;
  let bus: InProcessBus;
  let db: TestDatabase;
  let runsDir: TempDir;
  const events: RunStatusChanged.Payload[] = [];
  const statuses = (uuid: string) => events.filter((e) => e.runUuid === uuid);
  /** How the stand-in API answers token requests. */
  let tokens: 'answer' | 'refuse' | 'silent' = 'answer';
  const requests: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('myelin_run_token');
    runsDir = await createTempDir('myelin-run-token-runs');
    bus = new InProcessBus();
    await bus.consume(
      'api',
      new Map<string, MessageHandler>([
        [RunStatusChanged.PATTERN, (async (e: RunStatusChanged.Payload) => void events.push(e)) as MessageHandler],
        [
          RunTokenIssue.PATTERN,
          (async (request: RunTokenIssue.Payload) => {
            requests.push(request.runUuid);
            // Silent: no answer within the scheduler's timeout (an API that is down or restarting).
            for (let waited = 0; tokens === 'silent' && waited < 3000; waited += 50) await sleep(50);
            if (tokens === 'refuse') throw new RemoteError(`run ${request.runUuid} is unknown or already ended`);
            return { token: `run-token-${request.runUuid.slice(0, 8)}` };
          }) as MessageHandler,
        ],
      ]),
    );
    app = await bootstrap({
      env: schedulerTestEnv(db.url, runsDir.path, { MYELIN_RUN_TOKEN_TIMEOUT_SECONDS: '1' }),
      bus,
      listen: false,
    });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await bus?.close();
    await db?.drop();
    await runsDir?.remove();
  });

  let number = 0;
  const submit = async (): Promise<string> => {
    const runUuid = randomUUID();
    number += 1;
    // The job records the token it was given: its first act, so "never started" is checkable.
    const cmd = 'printf "%s" "$MYELIN_TOKEN" > "$MYELIN_OUTPUTS_PATH/token"';
    await bus.send(RunStart.PATTERN, { runUuid, project: 'alice/vision', number, kind: 'job', cmd, params: {}, spec: {}, user: 'alice', teams: [] } satisfies RunStart.Payload);
    return runUuid;
  };
  const tokenSeen = (runUuid: string) => readFile(join(runsDir.path, runUuid, 'outputs', 'token'), 'utf8').catch(() => null);

  it('keeps a run queued while the API does not answer, then starts it with its token once it does', async () => {
    tokens = 'silent';
    const run = await submit();
    await waitFor(() => statuses(run).some((e) => e.reason === 'WaitingForApi'), { timeoutMs: 15_000, what: 'the run to wait for the API' });
    const waiting = statuses(run).find((e) => e.reason === 'WaitingForApi');
    expect(waiting).toMatchObject({ status: 'queued' });
    expect(waiting?.message).toMatch(/^waiting for the API to issue the run's token \(.*\); admission tries again in 1 s$/);
    await sleep(1500);
    expect(statuses(run).map((e) => e.status)).not.toContain('starting');
    expect(await tokenSeen(run)).toBeNull();

    tokens = 'answer';
    await waitFor(() => statuses(run).at(-1)?.status === 'succeeded', { timeoutMs: 20_000, what: 'the run to succeed' });
    expect(await tokenSeen(run)).toBe(`run-token-${run.slice(0, 8)}`);
  });

  it('asks for a run\'s token once and starts it with that token', async () => {
    const run = await submit();
    await waitFor(() => statuses(run).at(-1)?.status === 'succeeded', { timeoutMs: 20_000, what: 'the run to succeed' });
    expect(requests.filter((r) => r === run)).toHaveLength(1);
    expect(await tokenSeen(run)).toBe(`run-token-${run.slice(0, 8)}`);
  });

  it('does not start a run whose token the API refuses: it fails with the reason', async () => {
    tokens = 'refuse';
    const run = await submit();
    await waitFor(() => statuses(run).at(-1)?.status === 'failed', { timeoutMs: 15_000, what: 'the run to fail' });
    expect(statuses(run).at(-1)).toMatchObject({ status: 'failed', reason: 'TokenRefused' });
    expect(statuses(run).at(-1)?.message).toMatch(/^not started: the API refused the run's token \(.*unknown or already ended\)$/);
    expect(statuses(run).map((e) => e.status)).not.toContain('starting');
    await sleep(500);
    expect(await tokenSeen(run)).toBeNull();
    tokens = 'answer';
  });
});
