#!/usr/bin/env node
// libs/dag on a random 100,000-op DAG: the time of all the decisions of a full run (goal < 1 s).
// Run: node tools/scripts/build.mjs && node tools/bench/dag/engine.mjs [--ops 100000] [--seed 42] [--repeat 3]
//      (--lib <path/to/index.js> benchmarks another build of the lib instead of dist/)
//
// Two runs per repeat, each from `start` until the engine reports `done`:
// - "default": every op all_succeeded, every attempt succeeds, no concurrency limit;
// - "mixed": 10% other triggers, 2% conditions, 20% ops with retries whose attempts fail 30% of
//   the time (the last attempt succeeds), 5 ops failing for good in the last 5% of the graph,
//   pipeline concurrency 200, ops finishing in a random order, a snapshot/restore (toJSON, JSON
//   round trip, restorePipelineEngine) halfway.
// "engine" is the time spent inside start/onStatus/tick (what the pipelines service waits for);
// "total" adds this script's own simulation of the runs.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const libArg = process.argv.indexOf('--lib');
const entry =
  libArg > 0
    ? resolve(process.argv[libArg + 1])
    : join(root, 'dist', 'node_modules', '@myelin', 'dag', 'index.js');
if (!existsSync(entry)) {
  console.error('dist/ is missing: run `node tools/scripts/build.mjs` first');
  process.exit(1);
}
const dag = createRequire(import.meta.url)(entry);

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('ops', 100_000);
const SEED = arg('seed', 42);
const REPEAT = arg('repeat', 3);

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TRIGGERS = ['all_failed', 'all_done', 'one_succeeded', 'one_failed', 'one_done'];

/** Ops 0..n-1; each takes 0-4 upstream ops among the earlier ones, mostly nearby (a deep graph), sometimes anywhere. */
function randomPipeline(n, rnd, mixed) {
  const ops = [];
  let edges = 0;
  for (let i = 0; i < n; i++) {
    const deps = new Set();
    const k = i === 0 ? 0 : Math.floor(rnd() * 5);
    for (let j = 0; j < k; j++) {
      const up = rnd() < 0.8 ? i - 1 - Math.floor(rnd() * Math.min(i, 1000)) : Math.floor(rnd() * i);
      deps.add(`op${up}`);
    }
    edges += deps.size;
    const op = { name: `op${i}`, dependencies: [...deps] };
    if (mixed) {
      if (deps.size && rnd() < 0.1) op.trigger = TRIGGERS[Math.floor(rnd() * TRIGGERS.length)];
      if (deps.size && rnd() < 0.02)
        op.conditions = [{ kind: 'status', op: [...deps][0], trigger: rnd() < 0.5 ? 'succeeded' : 'done' }];
      if (rnd() < 0.2)
        Object.assign(op, {
          max_retries: 3,
          retry_delay: 1 + Math.floor(rnd() * 30),
          retry_exp_backoff: rnd() < 0.5,
        });
    }
    ops.push(op);
  }
  return { input: { ops, ...(mixed ? { concurrency: 200 } : {}) }, edges };
}

function run(graph, rnd, mixed) {
  let engineNs = 0n;
  let calls = 0;
  const counts = { start: 0, skip: 0, upstreamFailed: 0, retryAt: 0 };
  let engine = dag.createPipelineEngine(graph);
  const timed = (f) => {
    const t0 = process.hrtime.bigint();
    const d = f();
    engineNs += process.hrtime.bigint() - t0;
    calls++;
    return d;
  };
  const running = [];
  const doomed = new Set(
    Array.from({ length: 5 }, () => `op${graph.size - 1 - Math.floor(rnd() * graph.size * 0.05)}`),
  );
  const take = (d) => {
    for (const s of d.start) running.push(s);
    counts.start += d.start.length;
    counts.skip += d.skip.length;
    counts.upstreamFailed += d.upstreamFailed.length;
    counts.retryAt += d.retryAt.length;
    return d;
  };
  const started = process.hrtime.bigint();
  let now = Date.UTC(2024, 0, 1);
  let d = take(timed(() => engine.start(now)));
  let restored = !mixed;
  let snapshotMs = 0;
  while (!d.done) {
    now += 1000;
    if (!restored && counts.start >= graph.size / 2) {
      const t0 = process.hrtime.bigint();
      const json = JSON.stringify(engine.toJSON());
      engine = dag.restorePipelineEngine(graph, JSON.parse(json));
      snapshotMs = Number(process.hrtime.bigint() - t0) / 1e6;
      restored = true;
    }
    if (running.length) {
      // mixed: a random running op finishes; default: the oldest
      const i = mixed ? Math.floor(rnd() * running.length) : running.length - 1;
      const s = running[i];
      running[i] = running[running.length - 1];
      running.pop();
      const retries = graph.op(s.op).maxRetries;
      const fails = mixed && ((s.attempt <= retries && rnd() < 0.3) || doomed.has(s.op));
      const status = fails ? 'failed' : 'succeeded';
      d = take(timed(() => engine.onStatus(s.op, status, now, { attempt: s.attempt })));
    } else {
      if (d.wakeAt === undefined) throw new Error('stuck: nothing running, nothing scheduled, not done');
      now = Math.max(now, d.wakeAt);
      d = take(timed(() => engine.tick(now)));
    }
  }
  return {
    engineMs: Number(engineNs) / 1e6,
    totalMs: Number(process.hrtime.bigint() - started) / 1e6,
    calls,
    counts,
    done: d.done,
    snapshotMs,
  };
}

const fmt = (ms) => `${ms.toFixed(0).padStart(5)} ms`;
console.log(`libs/dag benchmark: ${N.toLocaleString('en')} ops, seed ${SEED}, node ${process.version}`);
for (const mixed of [false, true]) {
  const label = mixed ? 'mixed' : 'default';
  const rnd = mulberry32(SEED + (mixed ? 1 : 0));
  const { input, edges } = randomPipeline(N, rnd, mixed);
  const results = [];
  let buildMs = Infinity;
  for (let r = 0; r < REPEAT; r++) {
    const t0 = process.hrtime.bigint();
    const graph = dag.buildPipelineGraph(input);
    buildMs = Math.min(buildMs, Number(process.hrtime.bigint() - t0) / 1e6);
    results.push(run(graph, mulberry32(SEED + 100 + r), mixed));
  }
  const best = results.reduce((a, b) => (b.engineMs < a.engineMs ? b : a));
  const c = best.counts;
  console.log(
    `\n${label}: ${edges.toLocaleString('en')} edges, ${best.calls.toLocaleString('en')} engine calls`,
  );
  console.log(
    `  decisions: ${c.start} starts, ${c.skip} skipped, ${c.upstreamFailed} upstream_failed, ${c.retryAt} retries; done: ${best.done.status} (${best.done.reason})`,
  );
  console.log(`  validate + index graph ${fmt(buildMs)}`);
  console.log(
    `  engine, full run       ${fmt(best.engineMs)}   (best of ${REPEAT}: ${results.map((x) => x.engineMs.toFixed(0)).join(' / ')} ms)`,
  );
  console.log(`  total with simulation  ${fmt(best.totalMs)}`);
  if (mixed)
    console.log(
      `  snapshot + restore     ${fmt(best.snapshotMs)}   (toJSON, JSON round trip, restorePipelineEngine, halfway)`,
    );
}
