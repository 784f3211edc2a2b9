import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createTempDir, TempDir } from '@myelin/testing';
import { freePort, myelin, poll, ServiceProcess, waitForHttp } from './cli-harness';

/**
 * Embedded mode as a user meets it: `myelin up` in a fresh home, then the CLI in another
 * process against it. Nothing is mocked.
 */
jest.setTimeout(180_000);

describe('embedded mode: myelin up + the CLI', () => {
  let home: TempDir;
  let specs: TempDir;
  let up: ServiceProcess;
  let env: Record<string, string>;
  let base: string;
  /** A run as the API sees it (polling over HTTP: cheaper than spawning the CLI under load). */
  const apiRun = async (uuid: string) => {
    const { token } = JSON.parse(await readFile(join(home.path, 'credentials.json'), 'utf8')) as { token: string };
    const res = await fetch(`${base}/api/v1/runs/${uuid}`, { headers: { Authorization: `token ${token}` } });
    return (await res.json()) as { status: string; project: string; number: number };
  };

  beforeAll(async () => {
    home = await createTempDir('myelin-e2e-home');
    specs = await createTempDir('myelin-e2e-specs');
    const port = await freePort();
    env = { MYELIN_HOME: home.path, MYELIN_STOP_GRACE_SECONDS: '2' };
    base = `http://127.0.0.1:${port}`;
    up = new ServiceProcess(['up', '--port', String(port)], env);
    await waitForHttp(`http://127.0.0.1:${port}/readyz`, 90_000, up);
  }, 120_000);

  afterAll(async () => {
    await up?.stop();
    await home?.remove();
    await specs?.remove();
  });

  const spec = async (name: string, body: string) => {
    const path = join(specs.path, name);
    await writeFile(path, body);
    return path;
  };

  it('checks the quickstart polyaxonfile, and reports file, line and field of a bad one', async () => {
    const ok = await myelin(['check', '-f', 'examples/quickstart/polyaxonfile.yml'], env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/kind: experiment/);
    const bad = await spec('bad.yml', 'version: 1\nkind: experiment\nrun:\n  cmd: echo {{ lrr }}\n');
    const res = await myelin(['check', '-f', bad], env);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/bad\.yml:4:\d+: run\.cmd/);
    expect(res.stderr).toMatch(/lrr/);
  });

  it('runs the quickstart to success with params, logs and metrics readable through the CLI', async () => {
    const run = await myelin(['run', '-f', 'examples/quickstart/polyaxonfile.yml', '-P', 'lr=0.05', '--watch', '--json'], env, 120_000);
    expect(run.code).toBe(0);
    const created = JSON.parse(run.stdout) as { uuid: string; number: number; params: Record<string, unknown> };
    expect(created.params).toMatchObject({ lr: 0.05, epochs: 20 });

    const get = JSON.parse((await myelin(['get', created.uuid, '--json'], env)).stdout) as {
      status: string;
      exitCode: number;
      statuses: Array<{ status: string }>;
    };
    expect(get.status).toBe('succeeded');
    expect(get.exitCode).toBe(0);
    expect(get.statuses.map((s) => s.status)).toEqual(['created', 'queued', 'starting', 'running', 'succeeded']);

    const metrics = JSON.parse((await myelin(['metrics', created.uuid, '--json'], env)).stdout) as Record<
      string,
      Array<{ step: number; value: number; timestamp: string }>
    >;
    expect(metrics.loss).toHaveLength(20);
    expect(metrics.loss.map((p) => p.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(metrics.loss[19].value).toBeLessThan(metrics.loss[0].value); // it learned
    expect(Date.parse(metrics.val_loss[0].timestamp)).not.toBeNaN();

    const logs = await myelin(['logs', String(created.number)], env);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/lr=0\.05, epochs=20/);
    expect(logs.stdout).toMatch(/epoch {2}20/);
    expect(logs.stdout).toMatch(/myelin:metric step=20/); // metric lines stay in the logs

    const ps = JSON.parse((await myelin(['ps', '--json'], env)).stdout) as { count: number; results: Array<{ uuid: string }> };
    expect(ps.results.map((r) => r.uuid)).toContain(created.uuid);
  });

  it('watches a run to its end when its logs cannot be streamed, says why, and exits by its outcome', async () => {
    const file = await spec('no-logs.yml', 'version: 1\nkind: experiment\nrun:\n  cmd: echo done\n');
    // A distributed install whose router does not send /api/v1/tracking to tracking: 404 for the log stream.
    const router = createServer((req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'not_found', message: `Cannot ${req.method} ${req.url}` }));
    });
    await new Promise<void>((done) => router.listen(0, '127.0.0.1', done));
    const wrongRoute = `http://127.0.0.1:${(router.address() as AddressInfo).port}`;
    try {
      const ok = await myelin(['run', '-f', file, '--watch'], { ...env, MYELIN_TRACKING_HOST: wrongRoute }, 60_000);
      expect(ok.stderr).toMatch(/warning: cannot stream the logs \(Cannot GET \/api\/v1\/tracking\/runs\/.+\); following the run's status only/);
      expect(ok.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(ok.stderr).toMatch(/succeeded/);
      expect(ok.code).toBe(0);
      const failing = await spec('no-logs-fail.yml', 'version: 1\nkind: experiment\nrun:\n  cmd: exit 4\n');
      const failed = await myelin(['run', '-f', failing, '--watch'], { ...env, MYELIN_TRACKING_HOST: wrongRoute }, 60_000);
      expect(failed.stderr).toMatch(/failed/);
      expect(failed.code).toBe(1);
    } finally {
      router.close();
    }
  });

  it('ends a failing command failed, with its exit code in the status message', async () => {
    const file = await spec('fail.yml', 'version: 1\nkind: experiment\nrun:\n  cmd: echo about to fail; exit 3\n');
    const run = await myelin(['run', '-f', file, '--watch', '--json'], env, 60_000);
    expect(run.code).toBe(1);
    const { uuid } = JSON.parse(run.stdout.slice(0, run.stdout.lastIndexOf('}') + 1)) as { uuid: string };
    const get = JSON.parse((await myelin(['get', uuid, '--json'], env)).stdout) as { status: string; statusMessage: string; exitCode: number };
    expect(get.status).toBe('failed');
    expect(get.exitCode).toBe(3);
    expect(get.statusMessage).toMatch(/exit code 3/);
  });

  it('stops a sleeping run within the grace period, even one that ignores SIGTERM', async () => {
    const polite = await spec('sleep.yml', 'version: 1\nkind: experiment\nrun:\n  cmd: echo sleeping; sleep 120\n');
    const stubborn = await spec('stubborn.yml', "version: 1\nkind: experiment\nrun:\n  cmd: trap '' TERM; echo ignoring TERM; sleep 120\n");
    for (const [file, obeysTerm] of [
      [polite, true],
      [stubborn, false],
    ] as const) {
      const created = JSON.parse((await myelin(['run', '-f', file, '--json'], env)).stdout) as { uuid: string };
      await poll(async () => (await apiRun(created.uuid)).status === 'running', {
        timeoutMs: 30_000,
        what: 'the run to be running',
      });
      const stop = await myelin(['stop', created.uuid], env);
      expect(stop.code).toBe(0);
      await poll(async () => (await apiRun(created.uuid)).status === 'stopped', { timeoutMs: 60_000, what: `run ${file} to be stopped` }).catch(async (error: Error) => {
        const history = (await myelin(['get', created.uuid, '--json'], env)).stdout;
        throw new Error(`${error.message}\n${history}\n${up.output.slice(-3000)}`);
      });
      const final = JSON.parse((await myelin(['get', created.uuid, '--json'], env)).stdout) as { status: string; statuses: Array<{ status: string; at: string }> };
      // Measured by the platform's own clock, not the CLI's polling: a run that obeys SIGTERM is
      // stopped within the 2 s grace period; one that ignores it is killed once the period is over.
      const at = (status: string) => Date.parse(final.statuses.find((s) => s.status === status)?.at ?? '');
      const took = at('stopped') - at('stopping');
      if (obeysTerm) expect(took).toBeLessThan(2000);
      else {
        expect(took).toBeGreaterThanOrEqual(2000);
        expect(took).toBeLessThan(2000 + 5000);
      }
    }
  });

  it('projects, init, resume from checkpoints, compare and export through the CLI', async () => {
    expect((await myelin(['project', 'create', 'ckpt', '--description', 'checkpoints'], env)).code).toBe(0);
    expect((await myelin(['project', 'create', 'ckpt'], env)).code).toBe(1); // exists
    const ls = JSON.parse((await myelin(['project', 'ls', '--json'], env)).stdout) as { results: Array<{ fullName: string }> };
    expect(ls.results.map((p) => p.fullName)).toContain('admin/ckpt');
    const file = await spec(
      'ckpt.yml',
      [
        'version: 1',
        'kind: experiment',
        'run:',
        '  cmd: >-',
        '    if [ -f "$POLYAXON_RUN_OUTPUTS_PATH/checkpoint.txt" ]; then echo "resumed from $(cat $POLYAXON_RUN_OUTPUTS_PATH/checkpoint.txt)";',
        '    else echo epoch-7 > "$POLYAXON_RUN_OUTPUTS_PATH/checkpoint.txt"; echo fresh; fi;',
        '    test -n "$MYELIN_TOKEN" && echo has-run-token',
        '',
      ].join('\n'),
    );
    const first = await myelin(['run', '-f', file, '-p', 'ckpt', '--watch'], env, 60_000);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/fresh/);
    expect(first.stdout).toMatch(/has-run-token/);
    const resumed = await myelin(['resume', '1', '-p', 'ckpt', '--watch'], env, 60_000);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/resumed from epoch-7/);
    const restarted = await myelin(['restart', '1', '-p', 'ckpt', '--watch'], env, 60_000);
    expect(restarted.stdout).toMatch(/fresh/); // fresh outputs
    const compare = await myelin(['compare', '1', '2', '-p', 'ckpt', '--json'], env);
    expect(JSON.parse(compare.stdout)).toHaveLength(2);
    const csv = await myelin(['export', '-p', 'ckpt'], env);
    expect(csv.stdout.split('\n')[0]).toBe('number,uuid,name,status,created_at,finished_at');
    expect(csv.stdout.trim().split('\n')).toHaveLength(4);
    expect((await myelin(['delete', '3', '-p', 'ckpt'], env)).code).toBe(0);
    expect((await myelin(['get', '3', '-p', 'ckpt'], env)).code).toBe(3);
  });

  it('runs a hyperparameter group: trials as child runs, concurrency, the best trial', async () => {
    const file = await spec(
      'group.yml',
      [
        'version: 1',
        'kind: group',
        'name: search',
        'hptuning:',
        '  concurrency: 2',
        '  seed: 3',
        '  random_search: {n_experiments: 5}',
        '  early_stopping: [{metric: loss, value: 0.0, optimization: minimize}]',
        '  matrix:',
        '    lr: {uniform: [0.0, 0.3]}',
        'run:',
        '  cmd: python3 -c "lr={{ lr }}; print(f\'myelin:metric step=1 loss={(lr-0.1)**2}\')"',
        '',
      ].join('\n'),
    );
    const run = await myelin(['run', '-f', file, '-p', 'hpo', '--watch', '--json'], env, 120_000);
    expect(run.code).toBe(0);
    const group = JSON.parse(run.stdout) as { uuid: string; number: number };
    const got = JSON.parse((await myelin(['group', 'get', String(group.number), '-p', 'hpo', '--json'], env)).stdout) as {
      status: string;
      statusMessage: string;
      progress: { total: number; byStatus: Record<string, number> };
    };
    expect(got.status).toBe('done');
    expect(got.statusMessage).toMatch(/5 trials; best trial \d+ with loss=/);
    expect(got.progress).toEqual({ total: 5, byStatus: { succeeded: 5 } });
    const trials = JSON.parse((await myelin(['group', 'experiments', String(group.number), '-p', 'hpo', '-s', 'metrics.loss', '--json'], env)).stdout) as {
      results: Array<{ params: { lr: number }; parentUuid: string }>;
    };
    expect(trials.results).toHaveLength(5);
    expect(trials.results.every((t) => t.parentUuid === group.uuid && t.params.lr >= 0 && t.params.lr <= 0.3)).toBe(true);
    // Sorted by loss: the first trial is the one closest to lr = 0.1.
    const distance = trials.results.map((t) => Math.abs(t.params.lr - 0.1));
    expect(distance[0]).toBe(Math.min(...distance));
  });

  it("stops a group early when a trial reaches Polyaxon's early-stopping threshold", async () => {
    const file = await spec(
      'early.yml',
      [
        'version: 1',
        'kind: group',
        'hptuning:',
        '  concurrency: 1',
        '  early_stopping: [{metric: loss, value: 0.001, optimization: minimize}]',
        '  matrix:',
        '    lr: {values: [0.5, 0.4, 0.1, 0.01, 0.02, 0.03]}',
        'run:',
        '  cmd: python3 -c "lr={{ lr }}; print(f\'myelin:metric step=1 loss={(lr-0.1)**2}\')"',
        '',
      ].join('\n'),
    );
    const run = await myelin(['run', '-f', file, '-p', 'early', '--watch', '--json'], env, 120_000);
    expect(run.code).toBe(0);
    const group = JSON.parse(run.stdout) as { number: number };
    const got = JSON.parse((await myelin(['get', String(group.number), '-p', 'early', '--json'], env)).stdout) as { status: string; statusMessage: string };
    expect(got.status).toBe('done');
    expect(got.statusMessage).toMatch(/early stopping: trial 2 reached loss 0/);
    const trials = JSON.parse((await myelin(['group', 'experiments', String(group.number), '-p', 'early', '--json'], env)).stdout) as { results: unknown[] };
    expect(trials.results).toHaveLength(3); // the three others were never started
  });

  it('hyperband with resume: promoted trials continue from their checkpoints', async () => {
    const file = await spec(
      'hyperband.yml',
      [
        'version: 1',
        'kind: group',
        'hptuning:',
        '  concurrency: 4',
        '  seed: 5',
        '  hyperband:',
        '    max_iter: 9',
        '    eta: 3',
        '    resource: {name: epochs, type: int}',
        '    metric: {name: loss, optimization: minimize}',
        '    resume: true',
        '  matrix:',
        '    x: {uniform: [0, 1]}',
        'run:',
        '  cmd: >-',
        '    python3 -c "import os; p=os.path.join(os.environ[\'POLYAXON_RUN_OUTPUTS_PATH\'], \'ckpt\');',
        "    done=int(open(p).read()) if os.path.exists(p) else 0;",
        "    print(f'resumed from epoch {done}') if done else print('fresh start');",
        "    open(p, 'w').write(str({{ epochs }}));",
        '    x={{ x }}; e={{ epochs }};',
        "    print('myelin:metric step=%d loss=%f' % (e, x + 1.0 / e))\"",
        '',
      ].join('\n'),
    );
    const run = await myelin(['run', '-f', file, '-p', 'hb', '--watch', '--json'], env, 170_000);
    expect(run.code).toBe(0);
    const group = JSON.parse(run.stdout) as { number: number };
    const trials = JSON.parse((await myelin(['group', 'experiments', String(group.number), '-p', 'hb', '--json'], env)).stdout) as {
      results: Array<{ uuid: string; number: number; originalUuid: string | null; params: { epochs: number } }>;
    };
    expect(trials.results).toHaveLength(22); // 3 brackets of max_iter 9, eta 3
    const resumed = trials.results.filter((t) => t.originalUuid !== null);
    expect(resumed.length).toBeGreaterThan(0);
    // A promoted trial wrote into its original's outputs and found the checkpoint there.
    const logs = await myelin(['logs', String(resumed[0].number), '-p', 'hb'], env);
    expect(logs.stdout).toMatch(/resumed from epoch \d+/);
    expect(resumed[0].params.epochs).toBeGreaterThan(1);
  });

  it('answers unknown runs with exit code 3 and usage errors with 2', async () => {
    expect((await myelin(['get', '9999'], env)).code).toBe(3);
    expect((await myelin(['get', 'not-a-run'], env)).code).toBe(2);
    expect((await myelin(['run'], env)).code).toBe(2);
  });
});
