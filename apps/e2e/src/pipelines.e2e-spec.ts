import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createTempDir, TempDir } from '@myelin/testing';
import { freePort, myelin, poll, ServiceProcess, waitForHttp } from './cli-harness';

/**
 * Pipelines in embedded mode, as a user runs them: `myelin up` in a fresh home, real ops on the
 * local executor, the CLI in other processes. Nothing is mocked.
 */
jest.setTimeout(240_000);

interface OpView {
  name: string;
  status: string;
  decision: string | null;
  reason: string;
  message: string;
  attempts: number;
  upstream: string[];
  run: { uuid: string; number: number; status: string } | null;
  runs: number[];
}
interface RunJson {
  uuid: string;
  number: number;
  status: string;
  statusMessage: string;
  params: Record<string, unknown>;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  parentUuid: string | null;
  originalUuid: string | null;
  project: string;
}

describe('pipelines in embedded mode: myelin up + the CLI', () => {
  let home: TempDir;
  let specs: TempDir;
  let up: ServiceProcess;
  let env: Record<string, string>;
  let base: string;
  let token: string;

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${base}${path}`, { headers: { Authorization: `token ${token}` } });
    return (await res.json()) as T;
  };
  const runByUuid = (uuid: string) => api<RunJson>(`/api/v1/runs/${uuid}`);
  const cli = async (args: string[], timeoutMs?: number) => {
    const res = await myelin([...args, '-p', 'pipes'], env, timeoutMs);
    return res;
  };
  const json = <T>(stdout: string): T => JSON.parse(stdout.slice(0, stdout.lastIndexOf('}') + 1)) as T;
  const ops = async (ref: string | number) => {
    const res = await cli(['pipeline', 'get', String(ref), '--json']);
    expect(res.code).toBe(0);
    const view = json<{ pipeline: RunJson; ops: OpView[] }>(res.stdout);
    return { pipeline: view.pipeline, ops: Object.fromEntries(view.ops.map((o) => [o.name, o])) };
  };
  const spec = async (name: string, lines: string[]) => {
    const path = join(specs.path, name);
    await writeFile(path, `${lines.join('\n')}\n`);
    return path;
  };
  const finalOf = async (uuid: string, what: string) =>
    poll(
      async () => {
        const r = await runByUuid(uuid);
        return ['succeeded', 'failed', 'stopped', 'skipped'].includes(r.status) ? r : null;
      },
      { timeoutMs: 120_000, what },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${up.output.slice(-4000)}`);
    });

  beforeAll(async () => {
    home = await createTempDir('myelin-e2e-pipelines');
    specs = await createTempDir('myelin-e2e-pipeline-specs');
    const port = await freePort();
    env = { MYELIN_HOME: home.path, MYELIN_STOP_GRACE_SECONDS: '2' };
    base = `http://127.0.0.1:${port}`;
    up = new ServiceProcess(['up', '--port', String(port)], env);
    await waitForHttp(`${base}/readyz`, 90_000, up);
    token = (JSON.parse(await readFile(join(home.path, 'credentials.json'), 'utf8')) as { token: string }).token;
    expect((await myelin(['project', 'create', 'pipes'], env)).code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await up?.stop();
    await home?.remove();
    await specs?.remove();
  });

  it('runs a 3-op pipeline: outputs of a real op become params of the next ones', async () => {
    const run = await cli(['run', '-f', 'examples/pipelines/pipeline.yml', '--watch', '--json'], 180_000);
    expect(run.code).toBe(0);
    const created = json<RunJson>(run.stdout);
    const { pipeline, ops: byOp } = await ops(created.number);
    expect(pipeline.status).toBe('succeeded');
    expect(pipeline.statusMessage).toMatch(/3 ops succeeded/);
    expect(Object.keys(byOp)).toEqual(['prepare', 'train', 'report']);
    for (const op of Object.values(byOp)) expect(op.status).toBe('succeeded');
    expect(byOp.train.upstream).toEqual(['prepare']);
    expect(byOp.report.upstream.sort()).toEqual(['prepare', 'train']);
    // prepare wrote {"rows": 500} (1000 // 2); train received it as an int, computed loss = 0.05 * 1000 / 500.
    const train = await runByUuid(byOp.train.run!.uuid);
    expect(train.parentUuid).toBe(created.uuid);
    expect(train.params).toMatchObject({ rows: 500, lr: 0.05 });
    const report = await cli(['logs', String(byOp.report.run!.number), '-f']);
    expect(report.code).toBe(0);
    expect(report.stdout).toMatch(/rows=500 loss=0\.1\b/);
    // The DAG as text, with each op's status.
    const graph = await cli(['pipeline', 'graph', String(created.number)]);
    expect(graph.code).toBe(0);
    expect(graph.stdout).toMatch(/layer 1\n\s+✔ prepare\s+succeeded\s+\(root\)/);
    expect(graph.stdout).toMatch(/layer 3\n\s+✔ report\s+succeeded\s+<- prepare, train/);
    const ls = json<{ results: Array<{ uuid: string }> }>((await cli(['pipeline', 'ls', '--json'])).stdout);
    expect(ls.results.map((r) => r.uuid)).toContain(created.uuid);
  });

  it('retries a flaky op with backoff, marks the ops after a failing op upstream_failed, then `pipeline retry` re-runs only the failed and not-run ops', async () => {
    const marker = join(specs.path, 'flaky-failed-once');
    const fixed = join(specs.path, 'fixed');
    const file = await spec('failing.yml', [
      'version: 1',
      'kind: pipeline',
      'name: failing',
      'ops:',
      '  - name: first',
      '    template: {name: step}',
      '    params: {what: first}',
      '  - name: flaky',
      '    template: {name: flaky}',
      '    dependencies: [first]',
      '    max_retries: 2',
      '    retry_delay: 2',
      '    retry_exp_backoff: true',
      '  - name: broken',
      '    template: {name: broken}',
      '    dependencies: [flaky]',
      '  - name: after',
      '    template: {name: step}',
      '    dependencies: [broken]',
      '    params: {what: after}',
      '  - name: last',
      '    template: {name: step}',
      '    dependencies: [after]',
      '    params: {what: last}',
      'templates:',
      '  - kind: experiment',
      '    name: step',
      '    inputs: [{name: what, type: str}]',
      '    run:',
      '      cmd: echo step {{ what }}',
      '  - kind: experiment',
      '    name: flaky',
      '    run:',
      `      cmd: if [ -f ${marker} ]; then echo recovered; else touch ${marker}; echo failing once; exit 1; fi`,
      '  - kind: experiment',
      '    name: broken',
      '    run:',
      `      cmd: test -f ${fixed} || { echo not fixed yet; exit 2; }`,
    ]);
    const run = await cli(['run', '-f', file, '--watch', '--json'], 180_000);
    expect(run.code).toBe(1);
    const created = json<RunJson>(run.stdout);
    const { pipeline, ops: byOp } = await ops(created.number);
    expect(pipeline.status).toBe('failed');
    expect(pipeline.statusMessage).toMatch(/broken/);
    expect(byOp.first.status).toBe('succeeded');
    // flaky: attempt 1 failed, attempt 2 (after the 2 s backoff) succeeded; two op runs.
    expect(byOp.flaky.status).toBe('succeeded');
    expect(byOp.flaky.attempts).toBe(2);
    expect(byOp.flaky.runs).toHaveLength(2);
    const [try1, try2] = await Promise.all(byOp.flaky.runs.map((n) => api<RunJson>(`/api/v1/${pipeline.project}/runs/${n}`)));
    expect(try1.status).toBe('failed');
    expect(try2.status).toBe('succeeded');
    expect(Date.parse(try2.startedAt!) - Date.parse(try1.finishedAt!)).toBeGreaterThanOrEqual(2000);
    expect(byOp.broken.status).toBe('failed');
    expect(byOp.after.status).toBe('upstream_failed');
    expect(byOp.last.status).toBe('upstream_failed');
    expect(byOp.after.run).not.toBeNull(); // visible in the API as a run of its own, never executed
    expect((await runByUuid(byOp.after.run!.uuid)).startedAt).toBeNull();

    // Fix the cause, then retry from the failed node.
    await writeFile(fixed, 'ok');
    const retry = await cli(['pipeline', 'retry', String(created.number), '--json']);
    expect(retry.code).toBe(0);
    const second = json<RunJson>(retry.stdout);
    expect(second.originalUuid).toBe(created.uuid);
    const done = await finalOf(second.uuid, 'the retried pipeline run to end');
    expect(done.status).toBe('succeeded');
    const again = await ops(second.number);
    expect(again.ops.first.status).toBe('reused');
    expect(again.ops.flaky.status).toBe('reused');
    expect(again.ops.first.attempts).toBe(0);
    expect(again.ops.flaky.attempts).toBe(0);
    expect(again.ops.first.message).toContain(byOp.first.run!.uuid);
    for (const name of ['broken', 'after', 'last']) {
      expect(again.ops[name].status).toBe('succeeded');
      expect(again.ops[name].attempts).toBe(1);
    }
    // Only the failed and not-run ops executed: the reused ops' runs never started.
    for (const name of ['first', 'flaky']) {
      expect(again.ops[name].runs).toHaveLength(1);
      expect((await runByUuid(again.ops[name].run!.uuid)).startedAt).toBeNull();
    }
    for (const name of ['broken', 'after', 'last']) expect((await runByUuid(again.ops[name].run!.uuid)).startedAt).not.toBeNull();
  });

  it('stops a pipeline run mid-run: the running op is stopped and the waiting ones are marked stopped', async () => {
    const file = await spec('slow.yml', [
      'version: 1',
      'kind: pipeline',
      'name: slow',
      'ops:',
      '  - name: quick',
      '    template: {name: quick}',
      '  - name: sleeper',
      '    template: {name: sleeper}',
      '    dependencies: [quick]',
      '  - name: next',
      '    template: {name: quick}',
      '    dependencies: [sleeper]',
      'templates:',
      '  - kind: experiment',
      '    name: quick',
      '    run: {cmd: echo quick}',
      '  - kind: experiment',
      '    name: sleeper',
      '    run: {cmd: echo sleeping; sleep 120}',
    ]);
    const created = json<RunJson>((await cli(['run', '-f', file, '--json'])).stdout);
    const sleeper = await poll(
      async () => {
        const { ops: byOp } = await ops(created.number);
        return byOp.sleeper.run && (await runByUuid(byOp.sleeper.run.uuid)).status === 'running' ? byOp.sleeper.run : null;
      },
      { timeoutMs: 60_000, what: 'the sleeper op to be running' },
    );
    const stop = await cli(['pipeline', 'stop', String(created.number)]);
    expect(stop.code).toBe(0);
    const final = await finalOf(created.uuid, 'the pipeline run to be stopped');
    expect(final.status).toBe('stopped');
    const { ops: byOp } = await ops(created.number);
    expect(byOp.quick.status).toBe('succeeded');
    expect(byOp.sleeper.status).toBe('stopped');
    expect(byOp.sleeper.run!.uuid).toBe(sleeper.uuid);
    expect(byOp.next.status).toBe('stopped');
    expect((await runByUuid(byOp.next.run!.uuid)).startedAt).toBeNull();
    const sleeperRun = await runByUuid(sleeper.uuid);
    expect(Date.parse(sleeperRun.finishedAt!) - Date.parse(sleeperRun.startedAt!)).toBeLessThan(60_000);
  });

  it('holds a pipeline at its concurrency: the ops past it wait queued in the scheduler, and never more run at once by their own trace', async () => {
    const trace = join(specs.path, 'narrow.trace');
    const lines = ['version: 1', 'kind: pipeline', 'name: narrow', 'concurrency: 2', 'ops:'];
    for (let i = 0; i < 6; i++) lines.push(`  - name: op${i}`, '    template: {name: t}');
    // Each op writes its own start and end (in ns) to the trace: what ran at once, as the jobs saw it.
    lines.push('templates:', '  - kind: experiment', '    name: t', '    run:', `      cmd: echo "+ $(date +%s%N)" >> ${trace}; sleep 1; echo "- $(date +%s%N)" >> ${trace}`);
    const created = json<RunJson>((await cli(['run', '-f', await spec('narrow.yml', lines), '--json'])).stdout);
    // While two run, the next ones are already handed to the scheduler, which keeps them queued on the pipeline's limit.
    const waiting = await poll(
      async () => {
        const { ops: byOp } = await ops(created.number);
        for (const op of Object.values(byOp)) {
          if (!op.run) continue;
          const r = await runByUuid(op.run.uuid);
          if (r.status === 'queued' && /pipeline concurrency/.test(r.statusMessage)) return r;
        }
        return null;
      },
      { timeoutMs: 60_000, what: 'an op run queued on the pipeline concurrency' },
    );
    expect(waiting.statusMessage).toMatch(new RegExp(`pipeline ${created.uuid} has 2 of 2 ops running`));
    const final = await finalOf(created.uuid, 'the narrow pipeline to end');
    expect(final.status).toBe('succeeded');
    const events = (await readFile(trace, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => ({ delta: l.startsWith('+') ? 1 : -1, at: BigInt(l.slice(2)) }))
      .sort((a, b) => (a.at === b.at ? a.delta - b.delta : a.at < b.at ? -1 : 1));
    expect(events.filter((e) => e.delta === 1)).toHaveLength(6);
    let now = 0;
    let most = 0;
    for (const e of events) most = Math.max(most, (now += e.delta));
    expect(most).toBe(2);
  });

  it('stops a pipeline whose ops wait queued on its concurrency: they are stopped without ever starting', async () => {
    const lines = ['version: 1', 'kind: pipeline', 'name: narrow-stop', 'concurrency: 1', 'ops:'];
    for (let i = 0; i < 3; i++) lines.push(`  - name: op${i}`, '    template: {name: t}');
    lines.push('templates:', '  - kind: experiment', '    name: t', '    run: {cmd: echo working; sleep 120}');
    const created = json<RunJson>((await cli(['run', '-f', await spec('narrow-stop.yml', lines), '--json'])).stdout);
    let seen = '';
    const queued = await poll(
      async () => {
        const { ops: byOp } = await ops(created.number);
        seen = JSON.stringify(Object.values(byOp).map((o) => [o.name, o.status, o.run?.status]));
        // The two ops handed over at the start are created side by side: either may be the one running.
        const handed = Object.values(byOp).filter((o) => o.run);
        if (handed.length !== 2) return null;
        const runs = await Promise.all(handed.map((o) => runByUuid(o.run!.uuid)));
        const running = runs.find((r) => r.status === 'running');
        const next = runs.find((r) => r.status === 'queued');
        return running && next ? next : null;
      },
      { timeoutMs: 60_000, what: 'one op running and the next queued behind it' },
    ).catch((error: Error) => {
      throw new Error(`${error.message} (last seen: ${seen})`);
    });
    expect((await cli(['pipeline', 'stop', String(created.number)])).code).toBe(0);
    expect((await finalOf(created.uuid, 'the pipeline run to be stopped')).status).toBe('stopped');
    const { ops: byOp } = await ops(created.number);
    expect([byOp.op0.status, byOp.op1.status, byOp.op2.status]).toEqual(['stopped', 'stopped', 'stopped']);
    const op1 = await finalOf(queued.uuid, 'the queued op run to be stopped');
    expect(op1.status).toBe('stopped');
    expect(op1.startedAt).toBeNull();
  });

  it('stops an op at its timeout: the attempt fails, and the ops after it are upstream_failed', async () => {
    const file = await spec('timeout.yml', [
      'version: 1',
      'kind: pipeline',
      'name: timeout',
      'ops:',
      '  - name: slow',
      '    template: {name: slow}',
      '    timeout: 2',
      '  - name: after',
      '    template: {name: slow}',
      '    dependencies: [slow]',
      'templates:',
      '  - kind: experiment',
      '    name: slow',
      '    run:',
      '      cmd: echo sleeping; sleep 60',
    ]);
    const created = json<RunJson>((await cli(['run', '-f', file, '--json'])).stdout);
    const final = await finalOf(created.uuid, 'the pipeline run to fail');
    expect(final.status).toBe('failed');
    expect(final.statusMessage).toMatch(/slow/);
    const { ops: byOp } = await ops(created.number);
    expect(byOp.after.status).toBe('upstream_failed');
    const slow = json<RunJson & { statuses: Array<{ status: string; message: string; at: string }> }>((await cli(['get', byOp.slow.run!.uuid, '--json'])).stdout);
    // Stopped by its timeout, not by the 60 s sleep ending. The timeout counts from the op's start
    // decision: on a loaded machine the run may be stopped before its process started (then it goes
    // straight to `stopped`, with no `stopping` and no startedAt).
    const stop = slow.statuses.find((c) => c.status === 'stopping') ?? slow.statuses.find((c) => c.status === 'stopped');
    expect(stop?.message).toMatch(/timed out after 2s/);
    expect(slow.status).toBe('stopped');
    expect(slow.finishedAt).toBeTruthy();
    expect(Date.parse(slow.finishedAt!) - Date.parse(slow.startedAt ?? slow.createdAt)).toBeLessThan(20_000);
  });

  it('stops a search op at its timeout: the group and its running trials are stopped, and the ops after it are upstream_failed', async () => {
    const file = await spec('search-timeout.yml', [
      'version: 1',
      'kind: pipeline',
      'name: search-timeout',
      'ops:',
      '  - name: search',
      '    template: {name: search}',
      '    timeout: 3',
      '  - name: after',
      '    template: {name: after}',
      '    dependencies: [search]',
      'templates:',
      '  - kind: group',
      '    name: search',
      '    hptuning:',
      '      concurrency: 2',
      '      grid_search: {n_experiments: 4}',
      '      matrix:',
      '        lr: {values: [0.1, 0.2, 0.3, 0.4]}',
      '    run:',
      '      cmd: echo trial {{ lr }}; sleep 60',
      '  - kind: experiment',
      '    name: after',
      '    run:',
      '      cmd: echo after',
    ]);
    const created = json<RunJson>((await cli(['run', '-f', file, '--json'])).stdout);
    const final = await finalOf(created.uuid, 'the pipeline run to fail at its search op');
    expect(final.status).toBe('failed');
    expect(final.statusMessage).toMatch(/search/);
    const { ops: byOp } = await ops(created.number);
    expect(byOp.after.status).toBe('upstream_failed');
    const group = await finalOf(byOp.search.run!.uuid, 'the search op to be stopped');
    expect(group.status).toBe('stopped');
    expect(Date.parse(group.finishedAt!) - Date.parse(group.createdAt)).toBeLessThan(30_000);
    // No trial is left running its 60 s sleep, and no trial started after the stop.
    const trials = json<{ results: RunJson[] }>((await cli(['group', 'experiments', String(group.number), '--json'])).stdout).results;
    expect(trials.length).toBeGreaterThan(0);
    expect(trials.length).toBeLessThanOrEqual(2);
    for (const t of trials) expect((await finalOf(t.uuid, `trial ${t.number} to end`)).status).toBe('stopped');
  });

  it('passes outputs logged through the tracking client (log_outputs) to the next op', async () => {
    const file = await spec('client-outputs.yml', [
      'version: 1',
      'kind: pipeline',
      'name: client-outputs',
      'ops:',
      '  - name: produce',
      '    template: {name: produce}',
      '  - name: consume',
      '    template: {name: consume}',
      '    params: {rows: "{{ ops.produce.outputs.rows }}", where: "{{ ops.produce.outputs.model }}"}',
      'templates:',
      '  - kind: experiment',
      '    name: produce',
      '    outputs: [{name: rows, type: int}, {name: model, type: str}]',
      '    run:',
      `      cmd: python3 -c "from myelin import tracking; r = tracking.Run(); r.log_outputs(rows=500); r.log_outputs(model='s3://bucket/m')"`,
      '  - kind: experiment',
      '    name: consume',
      '    inputs: [{name: rows, type: int}, {name: where, type: str}]',
      '    run:',
      '      cmd: echo consumed {{ rows }} rows from {{ where }}',
    ]);
    const run = await cli(['run', '-f', file, '--watch', '--json'], 120_000);
    expect(run.code).toBe(0);
    const { ops: byOp } = await ops(json<RunJson>(run.stdout).number);
    expect((await runByUuid(byOp.consume.run!.uuid)).params).toMatchObject({ rows: 500, where: 's3://bucket/m' });
    expect((await cli(['logs', String(byOp.consume.run!.number), '-f'])).stdout).toMatch(/consumed 500 rows from s3:\/\/bucket\/m/);
  });

  it('runs every op on the code as the pipeline took it: an edit made while it runs reaches no later op', async () => {
    const code = join(specs.path, 'pinned-code');
    await mkdir(code, { recursive: true });
    await writeFile(join(code, 'version.txt'), 'v1\n');
    const file = join(code, 'pinned.yml');
    await writeFile(
      file,
      `${[
        'version: 1',
        'kind: pipeline',
        'name: pinned',
        'ops:',
        '  - name: first',
        '    template: {name: show}',
        '    params: {wait: 4}',
        '  - name: second',
        '    template: {name: show}',
        '    params: {wait: 0}',
        '    dependencies: [first]',
        'templates:',
        '  - kind: experiment',
        '    name: show',
        '    inputs: [{name: wait, type: int}]',
        '    run:',
        '      cmd: echo "code $(cat version.txt)"; sleep {{ wait }}',
      ].join('\n')}\n`,
    );
    const created = json<RunJson>((await cli(['run', '-f', file, '--json'])).stdout);
    // Edit the code once the first op runs.
    const first = await poll(
      async () => {
        const op = (await ops(created.number)).ops.first;
        return op.run && (await runByUuid(op.run.uuid)).status === 'running' ? op.run : null;
      },
      { timeoutMs: 60_000, what: 'the first op to run' },
    );
    await writeFile(join(code, 'version.txt'), 'v2\n');
    expect((await finalOf(created.uuid, 'the pipeline run to end')).status).toBe('succeeded');
    const { ops: byOp } = await ops(created.number);
    expect((await cli(['logs', String(first.number), '-f'])).stdout).toMatch(/code v1/);
    expect((await cli(['logs', String(byOp.second.run!.number), '-f'])).stdout).toMatch(/code v1/);
  });

  it("merges an op's own environment over its template's: the op run gets both", async () => {
    const file = await spec('op-environment.yml', [
      'version: 1',
      'kind: pipeline',
      'name: op-environment',
      'ops:',
      '  - name: plain',
      '    template: {name: train}',
      '  - name: bigger',
      '    template: {name: train}',
      '    environment:',
      '      resources: {memory: {limits: 128}}',
      'templates:',
      '  - kind: experiment',
      '    name: train',
      '    environment:',
      '      resources: {cpu: {limits: 1}}',
      '    run:',
      '      cmd: echo trained',
    ]);
    const run = await cli(['run', '-f', file, '--watch', '--json'], 120_000);
    expect(run.code).toBe(0);
    const { ops: byOp } = await ops(json<RunJson>(run.stdout).number);
    type Detail = RunJson & { statuses: Array<{ status: string; message: string }> };
    const limitsOf = async (op: OpView) => {
      const got = json<Detail>((await cli(['get', op.run!.uuid, '--json'])).stdout);
      return got.statuses.map((c) => c.message).join('\n');
    };
    // Enforced or not on this host, the run's history names the limits it was given.
    const plain = await limitsOf(byOp.plain);
    expect(plain).toMatch(/cpu limited to 1 core/);
    expect(plain).not.toMatch(/128 MB/);
    expect(await limitsOf(byOp.bigger)).toMatch(/cpu limited to 1 core, memory to 128 MB/);
  });

  it('holds an op with `concurrency: 1` while a run of it is active in another run of the same pipeline', async () => {
    const file = await spec('exclusive.yml', [
      'version: 1',
      'kind: pipeline',
      'name: exclusive',
      'ops:',
      '  - name: critical',
      '    template: {name: critical}',
      '    concurrency: 1',
      'templates:',
      '  - kind: experiment',
      '    name: critical',
      '    run:',
      '      cmd: echo inside; sleep 3',
    ]);
    const [one, two] = await Promise.all([cli(['run', '-f', file, '--json']), cli(['run', '-f', file, '--json'])]);
    const runs = [json<RunJson>(one.stdout), json<RunJson>(two.stdout)];
    for (const r of runs) expect((await finalOf(r.uuid, 'both pipeline runs to end')).status).toBe('succeeded');
    const intervals = [];
    for (const r of runs) {
      const op = (await ops(r.number)).ops.critical.run!;
      const got = await runByUuid(op.uuid);
      intervals.push([Date.parse(got.startedAt!), Date.parse(got.finishedAt!)]);
    }
    intervals.sort((a, b) => a[0] - b[0]);
    // The second op run started only after the first one ended.
    expect(intervals[1][0]).toBeGreaterThanOrEqual(intervals[0][1]);
  });

  it('runs a hyperparameter search as an op and feeds its best params downstream', async () => {
    const file = await spec('search.yml', [
      'version: 1',
      'kind: pipeline',
      'name: search-then-train',
      'ops:',
      '  - name: search',
      '    template: {name: search}',
      '  - name: final',
      '    template: {name: final}',
      '    params: {lr: "{{ ops.search.outputs.lr }}", loss: "{{ ops.search.outputs.loss }}"}',
      'templates:',
      '  - kind: group',
      '    name: search',
      '    outputs: [{name: lr, type: float, is_optional: true}, {name: loss, type: float, is_optional: true}]',
      '    hptuning:',
      '      concurrency: 3',
      '      grid_search: {n_experiments: 3}',
      '      early_stopping: [{metric: loss, value: -1.0, optimization: minimize}]',
      '      matrix:',
      '        lr: {values: [0.05, 0.1, 0.3]}',
      '    run:',
      `      cmd: python3 -c "print('myelin:metric step=1 loss=' + str(({{ lr }} - 0.1) ** 2))"`,
      '  - kind: experiment',
      '    name: final',
      '    inputs: [{name: lr, type: float}, {name: loss, type: float}]',
      '    run:',
      '      cmd: echo final lr={{ lr }} loss={{ loss }}',
    ]);
    const run = await cli(['run', '-f', file, '--watch', '--json'], 180_000);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const created = json<RunJson>(run.stdout);
    const { ops: byOp } = await ops(created.number);
    expect(byOp.search.status).toBe('done');
    const group = await runByUuid(byOp.search.run!.uuid);
    expect(group.parentUuid).toBe(created.uuid);
    const final = await runByUuid(byOp.final.run!.uuid);
    expect(final.params).toMatchObject({ lr: 0.1, loss: 0 });
    expect((await cli(['logs', String(byOp.final.run!.number), '-f'])).stdout).toMatch(/final lr=0\.1 loss=0(\.0)?\b/);
  });

  it('runs an op whose template is a polyaxonfile path in the project code', async () => {
    await mkdir(join(specs.path, 'ops'), { recursive: true });
    await writeFile(join(specs.path, 'ops', 'hello.yml'), ['version: 1', 'kind: experiment', 'inputs: [{name: who, type: str}]', 'run:', '  cmd: echo hello {{ who }}', ''].join('\n'));
    const file = await spec('with-path.yml', [
      'version: 1',
      'kind: pipeline',
      'name: with-path',
      'ops:',
      '  - name: first',
      '    template: {name: first}',
      '  - name: hello',
      '    template: {path: ops/hello.yml}',
      '    params: {who: "{{ ops.first.outputs.name }}"}',
      'templates:',
      '  - kind: experiment',
      '    name: first',
      '    outputs: [{name: name, type: str, is_optional: true}]',
      '    run:',
      '      cmd: >-',
      `        echo '{"name": "world"}' > $MYELIN_OUTPUTS_PATH/outputs.json`,
    ]);
    const run = await cli(['run', '-f', file, '--watch', '--json'], 120_000);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const { ops: byOp } = await ops(json<RunJson>(run.stdout).number);
    expect(byOp.hello.status).toBe('succeeded');
    expect((await cli(['logs', String(byOp.hello.run!.number), '-f'])).stdout).toMatch(/hello world/);
  });

  it('runs an op whose template is a url: `myelin run` fetches it and sends it with the run; a url it cannot fetch stops the submission', async () => {
    // A template server of the test's own (the machine has no other network).
    const served = ['version: 1', 'kind: experiment', 'inputs: [{name: who, type: str}]', 'run:', '  cmd: echo hello {{ who }} from a url', ''].join('\n');
    const server = createServer((req, res) => {
      if (req.url === '/templates/hello.yml') res.writeHead(200, { 'Content-Type': 'text/yaml' }).end(served);
      else res.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const templates = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const pipeline = (url: string) => ['version: 1', 'kind: pipeline', 'name: with-url', 'ops:', '  - name: hello', `    template: {url: "${url}"}`, '    params: {who: world}', ''];
    try {
      const run = await cli(['run', '-f', await spec('with-url.yml', pipeline(`${templates}/templates/hello.yml`)), '--watch', '--json'], 120_000);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const { ops: byOp } = await ops(json<RunJson>(run.stdout).number);
      expect(byOp.hello.status).toBe('succeeded');
      expect((await cli(['logs', String(byOp.hello.run!.number), '-f'])).stdout).toMatch(/hello world from a url/);
      const missing = await cli(['run', '-f', await spec('url-404.yml', pipeline(`${templates}/templates/nowhere.yml`))]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/op "hello": template http:\/\/127\.0\.0\.1:\d+\/templates\/nowhere\.yml: cannot fetch it \(HTTP 404\)/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    const unreachable = await cli(['run', '-f', await spec('url-down.yml', pipeline(`${templates}/templates/hello.yml`))]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/op "hello": template .*: cannot fetch it \(ECONNREFUSED\)/);
    // Straight to the API without the template: refused with the reason (the platform fetches nothing).
    const refused = await fetch(`${base}/api/v1/admin/pipes/runs`, {
      method: 'POST',
      headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ files: [{ path: 'p.yml', content: pipeline(`${templates}/templates/hello.yml`).join('\n') }] }),
    });
    expect(refused.status).toBe(422);
    expect(JSON.stringify(await refused.json())).toMatch(/was not sent with the run \(`myelin run` fetches url templates and sends them\)/);
  });

  it('caches a `cache: true` op: a hit reuses the earlier run and its outputs, a changed param or a changed code file misses with the reason, --no-cache runs it again', async () => {
    // The op counts its runs outside its code directory: a file written there would change the code.
    const counter = join(specs.path, 'expensive-runs');
    const code = join(specs.path, 'cached-code');
    await mkdir(code, { recursive: true });
    await writeFile(join(code, 'model.py'), 'WIDTH = 10\n');
    const pipeline = (n: number) => [
      'version: 1',
      'kind: pipeline',
      'name: cached',
      'ops:',
      '  - name: expensive',
      '    template: {name: expensive}',
      `    params: {n: ${n}}`,
      '    cache: true',
      '  - name: use',
      '    template: {name: use}',
      '    params: {v: "{{ ops.expensive.outputs.v }}"}',
      'templates:',
      '  - kind: experiment',
      '    name: expensive',
      '    inputs: [{name: n, type: int}]',
      '    outputs: [{name: v, type: int, is_optional: true}]',
      '    run:',
      '      cmd: >-',
      `        echo ran >> ${counter} && echo "{\\"v\\": $(( {{ n }} * 10 ))}" > $MYELIN_OUTPUTS_PATH/outputs.json`,
      '  - kind: experiment',
      '    name: use',
      '    inputs: [{name: v, type: int}]',
      '    run:',
      '      cmd: echo v={{ v }}',
    ];
    const one = join(code, 'cached-1.yml');
    const two = join(code, 'cached-2.yml');
    await writeFile(one, `${pipeline(1).join('\n')}\n`);
    await writeFile(two, `${pipeline(2).join('\n')}\n`);
    const runIt = async (file: string, extra: string[] = []) => {
      const res = await cli(['run', '-f', file, '--watch', '--json', ...extra], 120_000);
      expect(res.code).toBe(0);
      const created = json<RunJson>(res.stdout);
      const view = await ops(created.number);
      const logs = await cli(['logs', String(view.ops.use.run!.number), '-f']);
      return { ...view, useLogs: logs.stdout, ran: (await readFile(counter, 'utf8')).trim().split('\n').length };
    };
    const first = await runIt(one);
    expect(first.ops.expensive.status).toBe('succeeded');
    expect(first.ops.expensive.decision).toMatch(/^cache miss \(no_candidates\)/);
    expect(first.useLogs).toMatch(/v=10\b/);
    expect(first.ran).toBe(1);

    const second = await runIt(one);
    expect(second.pipeline.status).toBe('succeeded');
    expect(second.ops.expensive.status).toBe('cached');
    expect(second.ops.expensive.message).toContain(`cache hit: run ${first.ops.expensive.run!.uuid} succeeded with the same`);
    expect(second.useLogs).toMatch(/v=10\b/); // the cached run's outputs were passed on
    expect(second.ran).toBe(1); // not run again

    // Same polyaxonfile and params, but the code the op would run changed.
    await writeFile(join(code, 'model.py'), 'WIDTH = 20\n');
    const edited = await runIt(one);
    expect(edited.ops.expensive.status).toBe('succeeded');
    expect(edited.ops.expensive.decision).toMatch(/^cache miss \(changed\): .*code ref tree:[0-9a-f]{20} -> tree:[0-9a-f]{20}/);
    expect(edited.ops.expensive.decision).not.toMatch(/param/);
    expect(edited.ran).toBe(2);
    // ...and the edited code is now what a later identical run reuses.
    const again = await runIt(one);
    expect(again.ops.expensive.status).toBe('cached');
    expect(again.ops.expensive.message).toContain(`cache hit: run ${edited.ops.expensive.run!.uuid} succeeded`);
    expect(again.ran).toBe(2);

    const third = await runIt(two);
    expect(third.ops.expensive.status).toBe('succeeded');
    expect(third.ops.expensive.decision).toMatch(/^cache miss \(changed\): since run \S+: param `n` changed/);
    expect(third.ops.expensive.decision).not.toMatch(/code ref/);
    expect(third.useLogs).toMatch(/v=20\b/);
    expect(third.ran).toBe(3);

    const refreshed = await runIt(one, ['--no-cache']);
    expect(refreshed.ops.expensive.status).toBe('succeeded');
    expect(refreshed.ops.expensive.decision).toMatch(/^cache refresh: --no-cache/);
    expect(refreshed.ran).toBe(4);
    const table = await cli(['pipeline', 'get', String(second.pipeline.number)]);
    expect(table.stdout).toMatch(/expensive\s+cached\s+#\d+/);
  });

  /** A scheduled pipeline `name` of one op that echoes, with the given `schedule:` lines. */
  const scheduledTick = (name: string, schedule: string[]) => [
    'version: 1',
    'kind: pipeline',
    `name: ${name}`,
    'schedule:',
    ...schedule,
    'ops:',
    '  - name: tick',
    '    template: {name: tick}',
    'templates:',
    '  - kind: experiment',
    '    name: tick',
    '    run:',
    '      cmd: echo tick',
  ];

  it('runs a scheduled pipeline: a pipeline run per slot, pause holds it, resume catches up with the latest missed slot, it ends after end_at', async () => {
    // start_at far enough ahead that the schedule is registered before its first slot even on a
    // loaded machine (a slot before registration is neither fired nor missed: it never was due).
    const start = Date.now() + 8000;
    const file = await spec(
      'scheduled.yml',
      scheduledTick('every-2s', ['  kind: interval', `  start_at: '${new Date(start).toISOString()}'`, `  end_at: '${new Date(start + 16_000).toISOString()}'`, '  frequency: 2']),
    );
    const created = json<RunJson>((await cli(['run', '-f', file, '--json'])).stdout);
    const children = async () =>
      json<{ results: RunJson[] }>((await cli(['pipeline', 'ls', '--json'])).stdout).results.filter((r) => r.parentUuid === created.uuid);
    interface Listed {
      run: RunJson;
      state: { status: string; fired: number; missed: number; nextAt: string | null } | null;
    }
    const state = async () => {
      const res = await cli(['pipeline', 'schedule', 'ls', '--json']);
      expect(res.code).toBe(0);
      return json<{ results: Listed[] }>(res.stdout).results.find((r) => r.run.uuid === created.uuid)!;
    };
    await poll(async () => (await children()).length >= 1, { timeoutMs: 30_000, what: 'the first slot to fire' });
    const paused = await cli(['pipeline', 'schedule', 'pause', String(created.number)]);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(/paused/);
    const firedWhenPaused = (await state()).state!.fired;
    await new Promise((r) => setTimeout(r, 5000)); // two or three slots pass while paused
    expect((await state()).state!).toMatchObject({ status: 'paused', fired: firedWhenPaused });
    expect(await children()).toHaveLength(firedWhenPaused);
    const resumed = await cli(['pipeline', 'schedule', 'resume', String(created.number)]);
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    const final = await finalOf(created.uuid, 'the schedule to end');
    expect(final.status).toBe('succeeded');
    expect(final.statusMessage).toMatch(/^schedule ended: \d+ run\(s\), \d+ missed/);
    const listed = await state();
    expect(listed.state!.status).toBe('finished');
    // Nine slots from start_at to end_at: each one either ran or was missed (catch-up: latest).
    expect(listed.state!.fired + listed.state!.missed).toBe(9);
    expect(listed.state!.missed).toBeGreaterThan(0);
    const runs = await children();
    expect(runs).toHaveLength(listed.state!.fired);
    for (const r of runs) expect((await finalOf(r.uuid, 'a slot run to end')).status).toBe('succeeded');
    const text = await cli(['pipeline', 'schedule', 'ls']);
    expect(text.stdout).toMatch(/every 2 s\s+finished/);
  });

  it("keeps a schedule's own catch-up policy (catch_up in the polyaxonfile) over the service's", async () => {
    const file = await spec('catch-up.yml', scheduledTick('hourly-all', ['  kind: cron', '  cron: "0 * * * *"', '  catch_up: all']));
    const created = json<RunJson>((await cli(['run', '-f', file, '--json'])).stdout);
    const listed = async () =>
      json<{ results: Array<{ run: RunJson; state: { catchUp: string } | null }> }>((await cli(['pipeline', 'schedule', 'ls', '--json'])).stdout).results.find(
        (r) => r.run.uuid === created.uuid,
      );
    await poll(async () => (await listed())?.state ?? null, { timeoutMs: 30_000, what: 'the schedule to be registered' });
    expect((await listed())!.state!.catchUp).toBe('all'); // the service's default is latest
    expect((await cli(['pipeline', 'schedule', 'ls'])).stdout).toMatch(/hourly-all\s.*\ball\b/);
    expect((await cli(['pipeline', 'stop', String(created.number)])).code).toBe(0);
    expect((await finalOf(created.uuid, 'the schedule to stop')).status).toBe('stopped');
  });

  it('refuses what cannot run yet with 422 and a reason, and reports usage errors', async () => {
    const file = await spec('action.yml', ['version: 1', 'kind: pipeline', 'ops:', '  - name: a', '    template: {action: slack-notify}']);
    const res = await cli(['run', '-f', file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/op "a": template action slack-notify: only inline templates \(template: \{name: ...\}\), path and url templates run today/);
    const missing = await spec('missing.yml', ['version: 1', 'kind: pipeline', 'ops:', '  - name: a', '    template: {path: nowhere/other.yml}']);
    const noFile = await cli(['run', '-f', missing]);
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toMatch(/op "a": template nowhere\/other.yml not found/);
    const plain = await spec('plain.yml', ['version: 1', 'kind: experiment', 'run:', '  cmd: echo plain']);
    const experiment = json<RunJson>((await cli(['run', '-f', plain, '--json'])).stdout);
    const notPipeline = await cli(['pipeline', 'get', String(experiment.number)]);
    expect(notPipeline.code).toBe(2);
    expect(notPipeline.stderr).toMatch(/not a pipeline/);
    expect((await cli(['pipeline', 'get', '9999'])).code).toBe(3);
    // The pipeline endpoints are in the OpenAPI document.
    const openapi = await api<{ paths: Record<string, Record<string, { tags?: string[] }>> }>('/api/v1/openapi.json');
    for (const [path, method] of [
      ['/api/v1/{owner}/{project}/runs/{id}/ops', 'get'],
      ['/api/v1/{owner}/{project}/runs/{id}/graph', 'get'],
      ['/api/v1/{owner}/{project}/runs/{id}/retry', 'post'],
      ['/api/v1/{owner}/{project}/schedules', 'get'],
      ['/api/v1/{owner}/{project}/runs/{id}/schedule/{action}', 'post'],
    ] as const) {
      expect(openapi.paths[path]?.[method]?.tags).toEqual(['pipelines']);
    }
  });
});
