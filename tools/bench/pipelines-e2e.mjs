#!/usr/bin/env node
// End-to-end pipeline figures on the local executor: a pipeline of N trivial ops at pipeline
// concurrency C, through `myelin up` (API, pipelines service, scheduler, in one process).
// Each op sleeps D seconds (--duration, default 0.5: the scheduler issue's trivial run), and the
// ideal is the scheduler issue's: N x D / C, the time with zero orchestration and zero process
// starts. With --duration 0 the op is `true`, which has no duration to divide: the ideal is then
// ceil(N / C) waves of one trivial op's own time from its creation to its final status, measured
// on the same platform. Times run from the submission to the final status the platform recorded
// (not to the poll that saw it). Also prints N plain runs submitted at once (the scheduler alone)
// and, first, the same N jobs spawned without the platform (--no-baseline skips both).
// Usage: node tools/bench/pipelines-e2e.mjs [--ops 1000] [--concurrency 32] [--duration 0.5] [--repeat 3] [--no-baseline]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiCaller, arg, bareJobs, build, cpuSeconds, freePort, mainThreadSeconds, startMyelin, waitReady } from './lib.mjs';

const N = arg('--ops', 1000);
const C = arg('--concurrency', 32);
const D = arg('--duration', 0.5);
const REPEAT = Math.max(1, arg('--repeat', 3));
const opCmd = D > 0 ? `sleep ${D}` : 'true';
if (!process.env.BENCH_NO_BUILD) build();
// The machine alone, first: the same N trivial jobs at concurrency C spawned without the platform
// (the local executor's wrapper shape). Starting a process is not free on a small VM, and the
// ideal below does not count it: this says how much of the total the machine itself takes.
const bare = process.argv.includes('--no-baseline') ? null : await bareJobs(N, C, `${opCmd}\n`);

const home = mkdtempSync(join(tmpdir(), 'myelin-bench-pipelines-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
// The scheduler runs as many processes at once as the pipeline allows.
const env = { ...process.env, MYELIN_SKIP_BUILD_CHECK: '1', MYELIN_HOME: home, MYELIN_MAX_PARALLEL: String(C), MYELIN_LOG_LEVEL: 'warn' };
const up = startMyelin(['up', '--port', String(port)], env);
await waitReady(up, `${base}/readyz`);
const { token } = JSON.parse(readFileSync(join(home, 'credentials.json'), 'utf8'));
const call = apiCaller(base, token);
const waitFinal = async (uuid) => {
  for (;;) {
    const run = await call('GET', `/api/v1/runs/${uuid}`);
    if (['succeeded', 'failed', 'stopped', 'skipped'].includes(run.status)) return run;
    await new Promise((r) => setTimeout(r, 200));
  }
};
const project = 'admin/bench';
await call('POST', '/api/v1/projects', { name: 'bench' }).catch(() => undefined);

try {
  // 1. One trivial op on its own: its duration is the unit of the ideal.
  const single = [];
  for (let i = 0; i < 5; i++) {
    const file = { path: 'one.yml', content: ['version: 1', 'kind: pipeline', 'ops:', '  - name: only', '    template: {name: t}', 'templates:', '  - kind: experiment', '    name: t', `    run: {cmd: "${opCmd}"}`, ''].join('\n') };
    const t0 = Date.now();
    const run = await call('POST', `/api/v1/${project}/runs`, { files: [file] });
    const done = await waitFinal(run.uuid);
    if (done.status !== 'succeeded') throw new Error(`single-op pipeline ${done.status}: ${done.statusMessage}`);
    const ops = await call('GET', `/api/v1/${project}/runs/${run.number}/ops`);
    const op = await call('GET', `/api/v1/runs/${ops.ops[0].run.uuid}`);
    single.push({ pipeline: Date.now() - t0, op: Date.parse(op.finishedAt) - Date.parse(op.createdAt) });
  }
  single.sort((a, b) => a.op - b.op);
  const opMs = single[Math.floor(single.length / 2)].op;
  const pipelineMs = [...single].sort((a, b) => a.pipeline - b.pipeline)[Math.floor(single.length / 2)].pipeline;

  // 2. The N-op pipeline at concurrency C, `--repeat` times one after the other (default 3): this
  // host's speed drifts by several % within minutes, so one run says little; each is printed.
  const lines = ['version: 1', 'kind: pipeline', 'name: wide', `concurrency: ${C}`, 'ops:'];
  for (let i = 0; i < N; i++) lines.push(`  - name: op${i}`, '    template: {name: t}');
  lines.push('templates:', '  - kind: experiment', '    name: t', `    run: {cmd: "${opCmd}"}`, '');
  const idealMs = D > 0 ? (N * D * 1000) / C : Math.ceil(N / C) * opMs;
  const pipelines = [];
  for (let k = 0; k < REPEAT; k++) {
    // The platform's CPU while the pipeline runs (user + system, the jobs not counted; the polls
    // below are a GET every 200 ms): on a 2-core machine it is what the orchestration takes from the
    // cores the ops need, and the main thread's share bounds how fast the next op can be started.
    const cpu0 = cpuSeconds(up);
    const main0 = mainThreadSeconds(up);
    const t0 = Date.now();
    const run = await call('POST', `/api/v1/${project}/runs`, { files: [{ path: 'wide.yml', content: lines.join('\n') }] });
    const done = await waitFinal(run.uuid);
    const cpuMs = (cpuSeconds(up) - cpu0) * 1000;
    const mainMs = (mainThreadSeconds(up) - main0) * 1000;
    if (done.status !== 'succeeded') throw new Error(`pipeline ${done.status}: ${done.statusMessage}`);
    // To the pipeline run's final status as the platform recorded it (as the scheduler bench
    // measures), not to when a poll saw it: the polls come every 200 ms.
    pipelines.push({ totalMs: Date.parse(done.finishedAt) - t0, cpuMs, mainMs });
  }
  const totalMs = [...pipelines].sort((a, b) => a.totalMs - b.totalMs)[Math.floor(pipelines.length / 2)].totalMs;

  // 3. The same number of plain runs submitted at once (no pipeline): the scheduler's own pace.
  const baseline = !process.argv.includes('--no-baseline');
  const plain = { path: 'plain.yml', content: `version: 1\nkind: experiment\ntags: [plain]\nrun:\n  cmd: "${opCmd}"\n` };
  const p0 = Date.now();
  const uuids = [];
  for (let i = 0; baseline && i < N; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, N - i) }, () => call('POST', `/api/v1/${project}/runs`, { files: [plain] })));
    uuids.push(...batch.map((r) => r.uuid));
  }
  // Counted with one listing call every 250 ms (a GET per run would cost the platform more than the runs).
  const finalPlain = async () => (await call('GET', `/api/v1/${project}/runs?query=${encodeURIComponent('tags:plain,status:succeeded|failed|stopped')}&limit=1`)).count;
  while (baseline && (await finalPlain()) < uuids.length) await new Promise((r) => setTimeout(r, 250));
  const lastPlain = baseline ? (await call('GET', `/api/v1/${project}/runs?query=${encodeURIComponent('tags:plain')}&sort=-finished_at&limit=1`)).results[0] : undefined;
  const plainMs = lastPlain ? Date.parse(lastPlain.finishedAt) - p0 : 0;

  const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`ops ${N} (each \`${opCmd}\`), concurrency ${C}, 2-core machine shared with other work`);
  console.log(`one trivial op: ${opMs} ms from its creation to its final status (median of 5); a 1-op pipeline run end to end: ${pipelineMs} ms`);
  if (D > 0) console.log(`ideal (${N} x ${D} s / ${C}): ${s(idealMs)}`);
  else console.log(`ideal (ceil(${N}/${C}) = ${Math.ceil(N / C)} waves x ${opMs} ms): ${s(idealMs)}`);
  const over = (ms) => `${((ms / idealMs - 1) * 100).toFixed(1)}% over the ideal`;
  console.log(`pipeline of ${N} ops, ${pipelines.length} run${pipelines.length > 1 ? 's one after the other' : ''}: median ${s(totalMs)} (${over(totalMs)})`);
  for (const [k, p] of pipelines.entries()) {
    console.log(`  run ${k + 1}: ${s(p.totalMs)} (${over(p.totalMs)}); platform CPU ${s(p.cpuMs)}, ${(p.cpuMs / N).toFixed(1)} ms per op; main thread ${s(p.mainMs)} (${((p.mainMs / p.totalMs) * 100).toFixed(0)}% of the time)`);
  }
  if (bare) {
    console.log(
      `the same ${N} trivial jobs without the platform (spawned straight from a Node process, same wrapper, concurrency ${C}): ${s(bare.ms)} (${((bare.ms / idealMs - 1) * 100).toFixed(0)}% over the ideal; the machine's cores ${(bare.busy * 100).toFixed(0)}% busy); the pipeline took ${(totalMs / bare.ms).toFixed(1)}x that`,
    );
  }
  if (baseline) console.log(`${N} plain runs submitted at once (scheduler alone, same concurrency): ${s(plainMs)} (${((totalMs / plainMs - 1) * 100).toFixed(0)}% pipeline overhead over it)`);
} finally {
  up.kill('SIGTERM');
  await new Promise((r) => up.once('exit', r));
  rmSync(home, { recursive: true, force: true });
}
