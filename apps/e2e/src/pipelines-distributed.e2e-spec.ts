import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTempDir, createTestDatabase, TempDir, TestDatabase } from '@myelin/testing';
import { distributedEnv, freePort, myelin, poll, removeBusPrefixes, ServiceProcess, waitForHttp } from './cli-harness';

jest.setTimeout(300_000);

const APPS = ['api', 'tracking', 'scheduler', 'pipelines', 'optimizer', 'ci'] as const;
type App = (typeof APPS)[number];

interface OpView {
  name: string;
  status: string;
  attempts: number;
  runs: number[];
}

/**
 * The pipelines service killed with SIGKILL in the middle of a pipeline run, in distributed mode
 * (six `myelin serve` processes on PostgreSQL, RabbitMQ and Redis): after a restart it carries on
 * from its snapshot and its pending actions, takes in the op runs that ended while it was down, and
 * starts no op twice. It runs without the scheduler's run directories, as on another host: the
 * upstream outputs it passes on come through tracking.
 */
describe('distributed mode: the pipelines service killed mid-run', () => {
  let db: TestDatabase;
  let home: TempDir;
  let specs: TempDir;
  const procs = new Map<App, ServiceProcess>();
  const ports = new Map<App, number>();
  let baseEnv: Record<string, string>;
  let cliEnv: Record<string, string>;

  // The pipelines service runs as on another host: the run directories it sees are not the
  // scheduler's, so the op runs' outputs reach it through tracking (RunOutputsRead).
  let elsewhere: TempDir;
  const startApp = async (app: App) => {
    const own: Record<string, string> = app === 'pipelines' ? { MYELIN_RUNS_DIR: elsewhere.path } : {};
    const proc = new ServiceProcess(['serve', app], { ...baseEnv, MYELIN_PORT: String(ports.get(app)), ...own });
    procs.set(app, proc);
    await waitForHttp(`http://127.0.0.1:${ports.get(app)}/readyz`, 60_000, proc);
  };

  beforeAll(async () => {
    db = await createTestDatabase('myelin_e2e_pipes');
    home = await createTempDir('myelin-e2e-pipes-dist');
    specs = await createTempDir('myelin-e2e-pipes-dist-specs');
    elsewhere = await createTempDir('myelin-e2e-pipes-dist-elsewhere');
    for (const app of APPS) ports.set(app, await freePort());
    const apiUrl = `http://127.0.0.1:${ports.get('api')}`;
    baseEnv = distributedEnv({ databaseUrl: db.url, home: home.path, apiPort: ports.get('api') as number, label: 'myelin-e2e-pipes' }, { MYELIN_OP_CHECK_SECONDS: '2' });
    await startApp('api');
    await Promise.all(APPS.filter((a) => a !== 'api').map(startApp));
    const creds = JSON.parse(await readFile(join(home.path, 'credentials.json'), 'utf8')) as { token: string };
    cliEnv = {
      MYELIN_HOME: home.path,
      MYELIN_HOST: apiUrl,
      MYELIN_TRACKING_HOST: `http://127.0.0.1:${ports.get('tracking')}`,
      MYELIN_TOKEN: creds.token,
    };
  }, 180_000);

  afterAll(async () => {
    await Promise.all([...procs.values()].map((p) => p.stop()));
    await removeBusPrefixes();
    await db?.drop();
    await home?.remove();
    await specs?.remove();
    await elsewhere?.remove();
  });

  it('resumes after kill -9 without starting any op twice, outputs still passed', async () => {
    const starts = join(specs.path, 'starts.log');
    const workers = Array.from({ length: 10 }, (_, i) => `w${i + 1}`);
    const lines = [
      'version: 1',
      'kind: pipeline',
      'name: fan',
      'concurrency: 3',
      'ops:',
      '  - name: root',
      '    template: {name: root}',
      ...workers.flatMap((w) => [`  - name: ${w}`, '    template: {name: work}', '    params:', `      who: ${w}`, '      seed: "{{ ops.root.outputs.seed }}"']),
      '  - name: join',
      '    template: {name: work}',
      `    dependencies: [${workers.join(', ')}]`,
      '    params: {who: join, seed: "{{ ops.root.outputs.seed }}"}',
      'templates:',
      '  - kind: experiment',
      '    name: root',
      '    outputs: [{name: seed, type: int, is_optional: true}]',
      '    run:',
      '      cmd: >-',
      `        echo root >> ${starts} && echo '{"seed": 42}' > $MYELIN_OUTPUTS_PATH/outputs.json`,
      '  - kind: experiment',
      '    name: work',
      '    inputs: [{name: who, type: str}, {name: seed, type: int}]',
      '    run:',
      `      cmd: echo {{ who }} >> ${starts} && echo "seed {{ seed }}" && sleep 1.5`,
    ];
    const file = join(specs.path, 'fan.yml');
    await writeFile(file, `${lines.join('\n')}\n`);
    expect((await myelin(['project', 'create', 'pipes'], cliEnv)).code).toBe(0);
    const run = await myelin(['run', '-f', file, '-p', 'pipes', '--json'], cliEnv);
    expect(run.stderr).toBe('');
    const created = JSON.parse(run.stdout) as { uuid: string; number: number };
    const ops = async () =>
      (JSON.parse((await myelin(['pipeline', 'get', String(created.number), '-p', 'pipes', '--json'], cliEnv)).stdout) as { pipeline: { status: string }; ops: OpView[] });
    // Kill it once a few workers have started, while others are running and most are still waiting.
    await poll(async () => (await ops()).ops.filter((o) => o.runs.length > 0).length >= 4, { timeoutMs: 60_000, what: 'the first workers to start' });
    await procs.get('pipelines')!.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 3000)); // running ops end while the service is down
    await startApp('pipelines');
    const final = await poll(
      async () => {
        const v = await ops();
        return ['succeeded', 'failed', 'stopped'].includes(v.pipeline.status) ? v : null;
      },
      { timeoutMs: 150_000, what: 'the pipeline run to end' },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${procs.get('pipelines')!.output.slice(-3000)}`);
    });
    expect(final.pipeline.status).toBe('succeeded');
    for (const op of final.ops) {
      expect(op.status).toBe('succeeded');
      expect(op.attempts).toBe(1);
      expect(op.runs).toHaveLength(1);
    }
    // Each op's process started exactly once.
    const started = (await readFile(starts, 'utf8')).trim().split('\n').sort();
    expect(started).toEqual(['root', ...workers, 'join'].sort());
    const joinRun = final.ops.find((o) => o.name === 'join')!;
    const logs = await myelin(['logs', String(joinRun.runs[0]), '-f', '-p', 'pipes'], cliEnv);
    expect(logs.stdout).toMatch(/seed 42/);
    // The seed came through tracking: the pipelines service's own runs directory holds nothing.
    expect(await readdir(elsewhere.path)).toEqual([]);
  });
});
