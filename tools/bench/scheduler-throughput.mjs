#!/usr/bin/env node
// Scheduler figures on the local executor, through `myelin up` (API, scheduler and the other
// services in one process, as a user runs it):
//  1. burst: N runs that each sleep D seconds, submitted at once through the REST API, at
//     concurrency C. Total time from the first submit to the last final status, against the ideal
//     N x D / C (zero scheduling overhead).
//  2. latency: runs submitted one at a time while slots are free; submit-to-process-start is the
//     time from sending the create request to the job's first shell line (the job writes its
//     clock to a file), p50 and p99.
//  3. baseline: the same N jobs at concurrency C spawned without the platform (--no-baseline skips
//     it), first, so the figures say how much of the total is the machine's own process cost.
//     Also on an idle platform: each run submitted once the previous one has ended and its end
//     was recorded (in the first loop a run ends about every 50 ms, while the next is submitted).
// Usage: node tools/bench/scheduler-throughput.mjs [--distributed] [--runs 1000] [--seconds 0.5] [--concurrency 32] [--latency-runs 100] [--idle-latency-runs 30] [--no-baseline]
// BENCH_DUMP=<file> writes each burst run's process start, exit and final-status instants (ms) there, for a per-second picture.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiCaller, arg, bareJobs, build, busyShare, CLOCK_PROBE, cpuSeconds, freePort, machineTicks, mainThreadSeconds, removeBusPrefix, sleep, startMyelin, waitReady } from './lib.mjs';

const N = arg('--runs', 1000);
const D = arg('--seconds', 0.5);
const C = arg('--concurrency', 32);
const L = arg('--latency-runs', 100);
const LI = arg('--idle-latency-runs', 30);
if (!process.env.BENCH_NO_BUILD) build();

// The same jobs without the platform, first (see bareJobs in lib.mjs).
const bare = process.argv.includes('--no-baseline') ? null : await bareJobs(N, C, `${CLOCK_PROBE} > started_us; sleep ${D}\n`, Math.min(L, 20));
const bareMs = bare?.ms ?? null;

const home = mkdtempSync(join(tmpdir(), 'myelin-bench-scheduler-'));
const distributed = process.argv.includes('--distributed');
const procs = [];
const startProcess = (args, extraEnv) => {
  const child = startMyelin(args, { ...env, ...extraEnv });
  procs.push(child);
  return child;
};
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const env = { ...process.env, MYELIN_SKIP_BUILD_CHECK: '1', MYELIN_HOME: home, MYELIN_MAX_PARALLEL: String(C), MYELIN_LOG_LEVEL: 'warn' };
let database;
if (!distributed) {
  const up = startProcess(['up', '--port', String(port)], {});
  await waitReady(up, `${base}/readyz`);
} else {
  // Six processes on the local PostgreSQL, RabbitMQ and Redis, with a database and queue prefix of their own.
  const { default: pg } = await import('pg');
  const admin = process.env.MYELIN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  database = `myelin_bench_${Date.now()}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE "${database}"`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${database}`;
  Object.assign(env, {
    MYELIN_DATABASE_URL: url.toString(),
    MYELIN_AMQP_URL: process.env.MYELIN_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    MYELIN_BUS_PREFIX: `bench-${Date.now()}`,
    MYELIN_REDIS_URL: process.env.MYELIN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    MYELIN_PUBLIC_URL: base,
    MYELIN_CREDENTIALS_FILE: join(home, 'credentials.json'),
    MYELIN_ADMIN_PASSWORD: 'bench-password',
  });
  const api = startProcess(['serve', 'api'], { MYELIN_PORT: String(port) });
  await waitReady(api, `${base}/readyz`);
  await Promise.all(
    ['tracking', 'scheduler', 'pipelines', 'optimizer', 'ci'].map(async (app) => {
      const appPort = await freePort();
      await waitReady(startProcess(['serve', app], { MYELIN_PORT: String(appPort) }), `http://127.0.0.1:${appPort}/readyz`);
    }),
  );
}
const { token } = JSON.parse(readFileSync(join(home, 'credentials.json'), 'utf8'));
const call = apiCaller(base, token);
const project = 'admin/bench';
await call('POST', '/api/v1/projects', { name: 'bench' }).catch(() => undefined);
// The job's first line records its clock in its working directory: the process-start instant.
const file = {
  path: 'sleep.yml',
  content: `version: 1\nkind: experiment\nrun:\n  cmd: '${CLOCK_PROBE} > ../started_us; sleep ${D}'\n`,
};
const submit = async () => {
  const at = Date.now();
  const run = await call('POST', `/api/v1/${project}/runs`, { files: [file] });
  return { uuid: run.uuid, submittedAt: at };
};
const isFinal = (status) => ['succeeded', 'failed', 'stopped'].includes(status);
const startedAt = (uuid) => Number(readFileSync(join(home, 'runs', uuid, 'started_us'), 'utf8').trim()) / 1000;
/** The job's first-line instant, once it has written it. */
const waitStarted = async (uuid) => {
  for (;;) {
    try {
      const started = startedAt(uuid);
      if (started) return started;
    } catch {
      // not written yet
    }
    await sleep(2);
  }
};
const finalCount = async () => {
  const page = await call('GET', `/api/v1/${project}/runs?query=${encodeURIComponent('status:succeeded|failed|stopped')}&limit=1`);
  return page.count;
};
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

try {
  // 1. Latency, with free slots: one run at a time, the next once the previous has started.
  const latencies = [];
  const latencyRuns = [];
  for (let i = 0; i < L; i++) {
    const { uuid, submittedAt } = await submit();
    const started = await waitStarted(uuid);
    latencies.push(started - submittedAt);
    latencyRuns.push({ uuid, submittedAt, started });
  }
  for (;;) {
    if ((await finalCount()) >= L) break;
    await sleep(100);
  }
  // Where the latency goes, from the runs' status histories (medians over the latency runs).
  const phases = { 'submit>created': [], 'created>queued': [], 'queued>starting': [], 'starting>process': [], 'process>running': [] };
  for (const { uuid, submittedAt, started } of latencyRuns) {
    const history = await call('GET', `/api/v1/runs/${uuid}`).then((run) => call('GET', `/api/v1/${project}/runs/${run.number}/statuses`));
    const at = Object.fromEntries(history.results.map((c) => [c.status, Date.parse(c.at)]));
    phases['submit>created'].push(at.created - submittedAt);
    phases['created>queued'].push(at.queued - at.created);
    phases['queued>starting'].push(at.starting - at.queued);
    phases['starting>process'].push(started - at.starting);
    phases['process>running'].push(at.running - started);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const breakdown = Object.entries(phases).map(([k, xs]) => `${k} ${Math.round(median(xs))}`).join(', ');
  latencies.sort((a, b) => a - b);

  // 1b. The same on an idle platform: the previous run ended and its end was recorded first.
  const idleLatencies = [];
  for (let i = 0; i < LI; i++) {
    const { uuid, submittedAt } = await submit();
    idleLatencies.push((await waitStarted(uuid)) - submittedAt);
    while (!isFinal((await call('GET', `/api/v1/runs/${uuid}`)).status)) await sleep(50);
    await sleep(100); // the events of its end handled
  }
  idleLatencies.sort((a, b) => a - b);

  // 2. Burst: N runs submitted at once (32 requests in flight), at concurrency C.
  const cpuBefore = procs.map(cpuSeconds);
  const mainThreadBefore = procs.map(mainThreadSeconds);
  const machineBefore = machineTicks();
  const t0 = Date.now();
  const runs = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < N) {
        next++;
        runs.push(await submit());
      }
    }),
  );
  const submittedMs = Date.now() - t0;
  // Watching must cost the platform little (counting every finished run ten times a second cost it
  // about a tenth of its CPU): follow the last run submitted, which starts last in a FIFO queue, then
  // count the final ones; the end is the latest finish time the platform recorded (same host clock),
  // so the polling interval does not blur it.
  while (!isFinal((await call('GET', `/api/v1/runs/${runs[runs.length - 1].uuid}`)).status)) await sleep(250);
  while ((await finalCount()) < L + LI + N) await sleep(250);
  const machineBusy = busyShare(machineBefore, machineTicks());
  const latest = await call('GET', `/api/v1/${project}/runs?sort=${encodeURIComponent('-finished_at')}&limit=1`);
  const totalMs = Date.parse(latest.results[0].finishedAt) - t0;
  const page = await call('GET', `/api/v1/${project}/runs?query=${encodeURIComponent('status:failed|stopped')}&limit=5`);
  if (page.count) throw new Error(`${page.count} run(s) did not succeed, e.g. ${JSON.stringify(page.results[0])}`);
  const idealMs = (N * D * 1000) / C;
  // Where a slot's cycle goes in the burst: the job's own run (its first line to its exit, the exit
  // code file's mtime), the platform noticing the exit and recording the final status, and the slot
  // being filled again (the k-th final status frees the slot the (k+C)-th process start takes).
  const burst = [];
  for (let offset = L + LI; offset < L + LI + N; offset += 1000) {
    const pageOfRuns = await call('GET', `/api/v1/${project}/runs?sort=created_at&limit=1000&offset=${offset}`);
    for (const run of pageOfRuns.results) {
      const dir = join(home, 'runs', run.uuid);
      burst.push({ started: startedAt(run.uuid), exited: statSync(join(dir, '.myelin', 'exit_code')).mtimeMs, finished: Date.parse(run.finishedAt) });
    }
  }
  if (process.env.BENCH_DUMP) writeFileSync(process.env.BENCH_DUMP, JSON.stringify({ t0, submittedMs, burst }));
  const medianOf = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const starts = burst.map((r) => r.started).sort((a, b) => a - b);
  const finishes = burst.map((r) => r.finished).sort((a, b) => a - b);
  const refill = finishes.slice(0, Math.max(0, starts.length - C)).map((f, k) => starts[k + C] - f);
  // How many of the C slots were in use on average over the burst: held from a process start to its
  // final status, and with the job's process running (first line to exit). The rest of C is idle slot time.
  const spanMs = Math.max(...burst.map((r) => r.finished)) - t0;
  const slotsHeld = burst.reduce((sum, r) => sum + (r.finished - r.started), 0) / spanMs;
  const slotsRunning = burst.reduce((sum, r) => sum + (r.exited - r.started), 0) / spanMs;
  // The submission flood: how many jobs started while the submissions were still arriving, and
  // how busy the platform's main thread was (its own CPU, without GC and I/O helper threads).
  const startedDuringSubmit = starts.filter((at) => at <= t0 + submittedMs).length;
  const cycle = {
    'first line>exit': medianOf(burst.map((r) => r.exited - r.started)),
    'exit>final status': medianOf(burst.map((r) => r.finished - r.exited)),
    'final status>next process start': medianOf(refill),
  };
  // CPU the platform's processes used during the burst (user + system; the jobs are not counted):
  // steadier than the wall-clock figure on a shared machine, and what the ideal leaves room for.
  const cpuUsed = procs.map((child, i) => cpuSeconds(child) - cpuBefore[i]);
  const mainThreadUsed = procs.map((child, i) => mainThreadSeconds(child) - mainThreadBefore[i]);
  const cpuTotal = cpuUsed.reduce((a, b) => a + b, 0);
  const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`local executor, ${distributed ? 'distributed (six `myelin serve` processes on PostgreSQL, RabbitMQ, Redis)' : 'embedded (`myelin up`: one process, PGlite)'}, 2-core machine; runs sleep ${D} s`);
  console.log(`burst: ${N} runs at concurrency ${C}: ${s(totalMs)} from first submit to last final status; ideal ${s(idealMs)}; ${((totalMs / idealMs - 1) * 100).toFixed(1)}% over the ideal (goal <= 10%)`);
  if (bareMs !== null) {
    console.log(
      `  the same ${N} jobs without the platform (spawned straight from a Node process, same wrapper): ${s(bareMs)}, ${((bareMs / idealMs - 1) * 100).toFixed(1)}% over the ideal; the platform took ${(totalMs / bareMs).toFixed(2)}x that (${s(totalMs - bareMs)} more); the machine's cores were ${(bare.busy * 100).toFixed(0)}% busy without the platform`,
    );
  }
  console.log(`  (submitting all ${N} through the API took ${s(submittedMs)}, and ${startedDuringSubmit} jobs started meanwhile; the machine's cores were ${(machineBusy * 100).toFixed(0)}% busy in the burst)`);
  console.log(`  platform CPU in the burst: ${cpuTotal.toFixed(1)} s, ${((cpuTotal * 1000) / N).toFixed(1)} ms per run${distributed ? ` (${procs.map((child, i) => `${child.spawnargs.at(-1)} ${cpuUsed[i].toFixed(1)}`).join(', ')})` : ''}; main thread${distributed ? 's' : ''} ${mainThreadUsed.reduce((a, b) => a + b, 0).toFixed(1)} s; the machine's 2 cores give ${((2 * idealMs) / N).toFixed(1)} ms per run at the ideal`);
  console.log(`  slots in use on average over the burst: ${slotsHeld.toFixed(1)} of ${C} held (process start to final status), ${slotsRunning.toFixed(1)} with the job running`);
  console.log(`  median ms per slot cycle: ${Object.entries(cycle).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')} (ideal: ${D * 1000}, 0, 0)`);
  if (L) {
    console.log(`latency: submit-to-process-start with free slots, ${L} runs one at a time: p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms (goal p50 <= 50 ms)`);
    console.log(`  median ms per step: ${breakdown}`);
  }
  if (LI) console.log(`  on an idle platform (each run submitted once the previous one's end was recorded), ${LI} runs: p50 ${pct(idleLatencies, 50).toFixed(1)} ms, p99 ${pct(idleLatencies, 99).toFixed(1)} ms`);
  if (bare?.latencies.length) console.log(`  without the platform, spawn to the job's first line: p50 ${pct(bare.latencies, 50).toFixed(1)} ms (${bare.latencies.length} jobs one at a time)`);
} finally {
  for (const child of procs) child.kill('SIGTERM');
  await Promise.all(procs.map((child) => (child.exitCode !== null ? undefined : new Promise((r) => child.once('exit', r)))));
  rmSync(home, { recursive: true, force: true });
  if (database) {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: process.env.MYELIN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS "${database}"`);
    await client.end();
    await removeBusPrefix(env.MYELIN_AMQP_URL, env.MYELIN_BUS_PREFIX);
  }
}
