#!/usr/bin/env node
// Tracking figures, measured side by side in one run:
//  1. Ingest on PostgreSQL: N concurrent writers send batches of 1,000 points through the HTTP API
//     (`myelin serve api` + `myelin serve tracking` on PostgreSQL and RabbitMQ), points per second,
//     versus the raw rate of `COPY` (psql \copy) of the same rows into a table of the same shape.
//  2. The same in embedded mode (`myelin up`, PGlite), versus PGlite's own COPY of the same rows.
//  3. Read: a 1M-point series downsampled to 1,000 points through the API, versus a raw SELECT of
//     the whole series.
//  4. Loss check: the stored count equals the sent count exactly.
// Usage: node tools/bench/tracking-ingest.mjs [--writers 8] [--batches 60] [--embedded-batches 40] [--rounds 3] [--series 1000000]
import { execFileSync, spawn } from 'node:child_process';

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Agent as httpAgent, request as httpRequest } from 'node:http';
import { arg, freePort, removeBusPrefix } from './lib.mjs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'myelin.js');
const require = createRequire(join(root, 'package.json'));
const { Client } = require('pg');
const WRITERS = arg('--writers', 8);
const BATCHES = arg('--batches', 60);
const EMBEDDED_BATCHES = arg('--embedded-batches', 40);
const BATCH = 1000;
const SERIES = arg('--series', 1_000_000);
const ROUNDS = arg('--rounds', 3);

execFileSync(process.execPath, [join(root, 'tools', 'scripts', 'build.mjs'), '--quiet'], { stdio: 'inherit' });
const env = { ...process.env, MYELIN_SKIP_BUILD_CHECK: '1', MYELIN_LOG_LEVEL: 'warn', MYELIN_RATE_LIMIT_PER_MINUTE: '0' };

function start(args, extraEnv, nodeFlags = []) {
  const child = spawn(process.execPath, [...nodeFlags, bin, ...args], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  child.output = () => output;
  return child;
}

async function ready(port, child) {
  for (let i = 0; i < 1200; i++) {
    if (child.exitCode !== null) throw new Error(`process exited:\n${child.output()}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not ready:\n${child.output()}`);
}

const stop = (child) =>
  new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });

function http(base, token) {
  return async (method, path, body) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', Authorization: `token ${token}` },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
}

/** The batches a writer sends: JSON prepared before the clock starts (the client's cost is not the server's). */
function prepareBatches(writer, count) {
  const bodies = [];
  for (let b = 0; b < count; b++) {
    const points = new Array(BATCH);
    for (let i = 0; i < BATCH; i++) {
      const step = b * BATCH + i;
      points[i] = { name: i % 2 ? 'loss' : 'accuracy', step, value: Math.sin(step / 100 + writer), timestamp: 1_760_000_000 + step / 1000 };
    }
    bodies.push(JSON.stringify({ batchId: `w${writer}-b${b}`, points }));
  }
  return bodies;
}

/**
 * One writer's connection: node:http with a keep-alive agent. The writers share the machine's two
 * cores with the server under test, so they should cost little: fetch (undici) took about 5 ms of
 * CPU per 75 kB batch here, a quarter to a third of a core taken from the server at these rates.
 */
function poster(base, token) {
  const agent = new httpAgent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(base);
  return (path, body) =>
    new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: url.hostname, port: url.port, path, method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Authorization: `token ${token}` } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (text += d));
          res.on('end', () => (res.statusCode >= 200 && res.statusCode < 300 ? resolve(text) : reject(new Error(`POST ${path}: ${res.statusCode} ${text}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}

async function ingest(trackingBase, token, runs, batchesPerWriter) {
  const bodies = runs.map((_, w) => prepareBatches(w, batchesPerWriter));
  const t0 = process.hrtime.bigint();
  await Promise.all(
    runs.map(async (uuid, w) => {
      const post = poster(trackingBase, token);
      for (const body of bodies[w]) {
        const answer = JSON.parse(await post(`/api/v1/tracking/runs/${uuid}/metrics`, body));
        if (answer.duplicate) throw new Error(`batch ${answer} was stored before`);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const sent = runs.length * batchesPerWriter * BATCH;
  return { sent, seconds, rate: sent / seconds };
}

/** The same rows as the writers send, as CSV in the metrics table's column order. */
function csvRows(runs, batchesPerWriter) {
  const lines = [];
  runs.forEach((uuid, w) => {
    for (let step = 0; step < batchesPerWriter * BATCH; step++) {
      lines.push(`${uuid},${(step % 2) + 1},${step},${Math.sin(step / 100 + w)},${new Date(1_760_000_000_000 + step).toISOString()}`);
    }
  });
  return `${lines.join('\n')}\n`;
}

const TABLE_SQL = (name) => `CREATE TABLE ${name} (
  run_uuid UUID NOT NULL, name_id INTEGER NOT NULL, step BIGINT, value DOUBLE PRECISION NOT NULL, at TIMESTAMPTZ NOT NULL)`;
const INDEX_SQL = (name) => `CREATE INDEX ON ${name} (run_uuid, name_id, step)`;

const fmt = (n) => Math.round(n).toLocaleString('en-US');
async function poll(check) {
  for (let i = 0; i < 100; i++) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out');
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const work = mkdtempSync(join(tmpdir(), 'myelin-bench-tracking-'));

// ---------------------------------------------------------------- 1. PostgreSQL server
const adminUrl = process.env.MYELIN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `myelin_bench_trk_${Date.now()}`;
const admin = new Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE "${dbName}"`);
const dbUrl = new URL(adminUrl);
dbUrl.pathname = `/${dbName}`;
const children = [];
const busUrl = process.env.MYELIN_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const busPrefix = `bench-trk-${Date.now()}`;
try {
  const [apiPort, trackingPort] = [await freePort(), await freePort()];
  const home = join(work, 'server-home');
  const serverEnv = {
    MYELIN_DATABASE_URL: dbUrl.toString(),
    MYELIN_AMQP_URL: busUrl,
    MYELIN_BUS_PREFIX: busPrefix,
    MYELIN_HOME: home,
    MYELIN_CREDENTIALS_FILE: join(home, 'credentials.json'),
    MYELIN_ADMIN_PASSWORD: 'bench-pw',
  };
  const api = start(['serve', 'api'], { ...serverEnv, MYELIN_PORT: String(apiPort) });
  children.push(api);
  await ready(apiPort, api);
  // MYELIN_BENCH_PROFILE=<dir>: a CPU profile of the tracking process, to see where ingest time goes.
  const profile = process.env.MYELIN_BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.MYELIN_BENCH_PROFILE}`] : [];
  const tracking = start(['serve', 'tracking'], { ...serverEnv, MYELIN_PORT: String(trackingPort) }, profile);
  children.push(tracking);
  await ready(trackingPort, tracking);
  const token = JSON.parse(readFileSync(join(home, 'credentials.json'), 'utf8')).token;
  const core = http(`http://127.0.0.1:${apiPort}`, token);
  await core('POST', '/api/v1/projects', { name: 'bench' });
  // Warm-up, not counted: connection pools, name interning, the token cache, and the JIT of the
  // ingest path at the same concurrency as the rounds (the first round used to come out ~20% low).
  const warm = [];
  for (let w = 0; w < WRITERS; w++) warm.push((await core('POST', '/api/v1/admin/bench/runs/external', {})).uuid);
  await ingest(`http://127.0.0.1:${trackingPort}`, token, warm, 10);
  const pg = new Client({ connectionString: dbUrl.toString() });
  await pg.connect();

  // Rounds of API ingest then raw COPY of the same rows, side by side: the machine's load moves,
  // so each round gives a ratio and the median is reported.
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    const runs = [];
    for (let w = 0; w < WRITERS; w++) runs.push((await core('POST', '/api/v1/admin/bench/runs/external', {})).uuid);
    const api1 = await ingest(`http://127.0.0.1:${trackingPort}`, token, runs, BATCHES);
    const [{ n: stored }] = (await pg.query(`SELECT count(*)::int AS n FROM tracking.metrics WHERE run_uuid = ANY($1::uuid[])`, [runs])).rows;
    const csvFile = join(work, `points-${round}.csv`);
    writeFileSync(csvFile, csvRows(runs, BATCHES));
    await pg.query(TABLE_SQL(`bench_copy_${round}`));
    await pg.query(INDEX_SQL(`bench_copy_${round}`));
    const c0 = process.hrtime.bigint();
    execFileSync('psql', [dbUrl.toString(), '-q', '-c', `\\copy bench_copy_${round} FROM '${csvFile}' WITH (FORMAT csv)`]);
    const copyRate = api1.sent / (Number(process.hrtime.bigint() - c0) / 1e9);
    rounds.push({ api: api1.rate, copy: copyRate, ratio: api1.rate / copyRate, sent: api1.sent, stored });
  }
  const mid = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor(rounds.length / 2)];
  const sent = rounds.reduce((n, r) => n + r.sent, 0);
  const stored = rounds.reduce((n, r) => n + r.stored, 0);
  console.log(`\n== Ingest on PostgreSQL (${WRITERS} writers x ${BATCHES} batches x ${BATCH} points, ${ROUNDS} rounds)`);
  for (const r of rounds) console.log(`round: HTTP API ${fmt(r.api)} points/s, raw COPY ${fmt(r.copy)} rows/s (psql \\copy, same rows, same index) -> ${r.ratio.toFixed(2)}x`);
  console.log(`median ratio: ${mid.ratio.toFixed(2)}x COPY (goal >= 0.5)`);
  console.log(`loss check:   sent ${fmt(sent)}, stored ${fmt(stored)} -> ${stored === sent ? 'exact' : 'MISMATCH'}`);

  // ---------------------------------------------------------------- 3. Read a 1M-point series
  const seriesRun = (await core('POST', '/api/v1/admin/bench/runs/external', {})).uuid;
  // Through the API, as a training job would log it (the rollups are kept at ingest).
  const seriesBatches = SERIES / BATCH;
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      const call = http(`http://127.0.0.1:${trackingPort}`, token);
      for (let b = w; b < seriesBatches; b += WRITERS) {
        const points = Array.from({ length: BATCH }, (_, i) => ({ name: 'big', step: b * BATCH + i, value: Math.sin((b * BATCH + i) / 1000) + Math.random() / 10 }));
        await call('POST', `/api/v1/tracking/runs/${seriesRun}/metrics`, { batchId: `big-${b}`, points });
      }
    }),
  );
  const [{ id: bigId }] = (await pg.query(`SELECT id FROM tracking.metric_names WHERE name = 'big'`)).rows;
  await pg.query('VACUUM ANALYZE tracking.metrics');
  const raw = [];
  const down = [];
  let points = 0;
  for (let i = 0; i < 5; i++) {
    let t = process.hrtime.bigint();
    const rows = (await pg.query(`SELECT step, value, at FROM tracking.metrics WHERE run_uuid = $1 AND name_id = $2 ORDER BY step`, [seriesRun, bigId])).rows;
    raw.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (rows.length !== SERIES) throw new Error(`raw select returned ${rows.length} rows`);
    t = process.hrtime.bigint();
    const body = await http(`http://127.0.0.1:${trackingPort}`, token)('GET', `/api/v1/tracking/runs/${seriesRun}/metrics?names=big&points=1000`);
    down.push(Number(process.hrtime.bigint() - t) / 1e6);
    points = body.big.length;
  }
  await pg.end();
  console.log(`\n== Read a ${fmt(SERIES)}-point series (median of 5)`);
  console.log(`raw SELECT of the whole series:      ${median(raw).toFixed(0)} ms`);
  console.log(`API, downsampled to ${points} points:     ${median(down).toFixed(0)} ms`);
  console.log(`ratio:                               ${(median(down) / median(raw)).toFixed(3)}x (goal <= 0.1)`);
} finally {
  for (const c of children) await stop(c);
  children.length = 0;
  await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => undefined);
  await admin.end();
  await removeBusPrefix(busUrl, busPrefix).catch((e) => console.error(`could not remove the bench's queues: ${e.message}`));
}

// ---------------------------------------------------------------- 2. Embedded (PGlite)
try {
  const port = await freePort();
  const home = join(work, 'embedded-home');
  const up = start(['up', '--home', home, '--port', String(port)], {});
  children.push(up);
  await ready(port, up);
  const token = JSON.parse(readFileSync(join(home, 'credentials.json'), 'utf8')).token;
  const call = http(`http://127.0.0.1:${port}`, token);
  const writers = Math.min(WRITERS, 4);
  const warm = (await call('POST', '/api/v1/admin/default/runs/external', {})).uuid;
  await ingest(`http://127.0.0.1:${port}`, token, [warm], 2);
  const apiRates = [];
  let sent = 0;
  let stored = 0;
  let lastRuns = [];
  for (let round = 0; round < ROUNDS; round++) {
    const runs = [];
    for (let w = 0; w < writers; w++) runs.push((await call('POST', '/api/v1/admin/default/runs/external', {})).uuid);
    const result = await ingest(`http://127.0.0.1:${port}`, token, runs, EMBEDDED_BATCHES);
    apiRates.push(result.rate);
    sent += result.sent;
    for (const uuid of runs) {
      const summaries = await poll(async () => {
        const s = await call('GET', `/api/v1/tracking/runs/${uuid}/metrics/summaries`);
        return s.length ? s : null;
      });
      for (const m of summaries) stored += m.count;
    }
    lastRuns = runs;
  }
  await stop(up);

  // PGlite's own COPY of the same rows, in this process, into the same table shape.
  const { PGlite } = await import(require.resolve('@electric-sql/pglite'));
  const csv = csvRows(lastRuns, EMBEDDED_BATCHES);
  const copyRates = [];
  for (let round = 0; round < ROUNDS; round++) {
    const lite = await PGlite.create();
    await lite.exec(`${TABLE_SQL('bench_copy')}; ${INDEX_SQL('bench_copy')};`);
    const c0 = process.hrtime.bigint();
    await lite.query(`COPY bench_copy FROM '/dev/blob' WITH (FORMAT csv)`, [], { blob: new Blob([csv]) });
    const copySeconds = Number(process.hrtime.bigint() - c0) / 1e9;
    const [{ n }] = (await lite.query('SELECT count(*)::int AS n FROM bench_copy')).rows;
    await lite.close();
    copyRates.push(n / copySeconds);
  }
  console.log(`\n== Ingest in embedded mode, PGlite (${writers} writers x ${EMBEDDED_BATCHES} batches x ${BATCH} points, ${ROUNDS} rounds)`);
  console.log(`HTTP API:    ${apiRates.map(fmt).join(', ')} points/s (median ${fmt(median(apiRates))})`);
  console.log(`PGlite COPY: ${copyRates.map(fmt).join(', ')} rows/s (same rows, same index; median ${fmt(median(copyRates))})`);
  console.log(`ratio:       ${(median(apiRates) / median(copyRates)).toFixed(2)}x COPY (goal >= 0.5)`);
  console.log(`loss check:  sent ${fmt(sent)}, stored ${fmt(stored)} -> ${stored === sent ? 'exact' : 'MISMATCH'}`);
} finally {
  for (const c of children) await stop(c);
  rmSync(work, { recursive: true, force: true });
}

