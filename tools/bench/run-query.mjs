#!/usr/bin/env node
// Listing and sorting 100k runs by a metric through the API on PostgreSQL (goal: under 1 s).
// Usage: node tools/bench/run-query.mjs [--runs 100000]   (needs the local PostgreSQL; builds first)
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
execFileSync(process.execPath, [join(root, 'tools', 'scripts', 'build.mjs'), '--quiet'], { stdio: 'inherit' });
const require = createRequire(join(root, 'dist', 'apps', 'api', 'src', 'bootstrap.js'));
require('reflect-metadata');
const { Client } = require('pg');
const { bootstrap } = require(join(root, 'dist', 'apps', 'api', 'src', 'bootstrap.js'));
const { InProcessBus } = require('@myelin/bus');
const { AccountsRepository, CORE_SCHEMA, openServiceDatabase } = require('@myelin/persistence');

const N = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 100_000;
const admin = process.env.MYELIN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `myelin_bench_${Date.now()}`;
const c = new Client({ connectionString: admin });
await c.connect();
await c.query(`CREATE DATABASE "${dbName}"`);
const url = new URL(admin);
url.pathname = `/${dbName}`;

const bus = new InProcessBus();
const app = await bootstrap({ env: { MYELIN_DATABASE_URL: url.toString(), MYELIN_PORT: '0', MYELIN_ADMIN_PASSWORD: 'bench-pw', MYELIN_LOG_LEVEL: 'error', MYELIN_RATE_LIMIT_PER_MINUTE: '0' }, bus, listen: true });
const db = await openServiceDatabase({ url: url.toString(), ...CORE_SCHEMA });
try {
  const accounts = new AccountsRepository(db.dataSource);
  const user = await accounts.findUserByUsername('admin');
  const { token } = await accounts.issueToken({ userId: user.id, name: 'bench' });
  const base = `http://127.0.0.1:${app.port}`;
  const api = async (path, init = {}) => {
    const res = await fetch(`${base}${path}`, { ...init, headers: { 'Content-Type': 'application/json', Authorization: `token ${token}`, ...(init.headers ?? {}) } });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  await api('/api/v1/projects', { method: 'POST', body: JSON.stringify({ name: 'bench' }) });
  const [{ id: projectId }] = await db.dataSource.query(`SELECT id FROM core.projects WHERE name = 'bench'`);
  let t = Date.now();
  // Seed in SQL: N runs, each with params and a `loss` summary, as the API would hold them.
  await db.dataSource.query(
    `INSERT INTO core.runs (uuid, project_id, number, kind, content, spec, params, status, created_by, tags)
     SELECT gen_random_uuid(), $1, g, 'experiment', '{}', '{}'::jsonb, jsonb_build_object('lr', round((random() / 10)::numeric, 4)),
            (ARRAY['succeeded','failed','running','stopped'])[1 + (g % 4)], $2,
            CASE WHEN g % 10 = 0 THEN '["baseline"]'::jsonb ELSE '[]'::jsonb END
       FROM generate_series(1, $3) g`,
    [projectId, user.id, N],
  );
  await db.dataSource.query(`UPDATE core.projects SET last_run_number = $2 WHERE id = $1`, [projectId, N]);
  await db.dataSource.query(
    `INSERT INTO core.run_metrics (run_uuid, name, last, last_step, min, max, count)
     SELECT uuid, 'loss', random(), 100, random() / 2, 1 + random(), 100 FROM core.runs WHERE project_id = $1 AND number % 20 <> 0`,
    [projectId],
  );
  await db.dataSource.query('ANALYZE');
  const seeded = ((Date.now() - t) / 1000).toFixed(1);

  const cases = [
    ['newest 20 (no filter)', ''],
    ['sort by metric: ?sort=metrics.loss', 'sort=metrics.loss'],
    ['sort desc by metric: ?sort=-metrics.loss', 'sort=-metrics.loss'],
    ['filter + sort: status:succeeded, metrics.loss:<0.3 by -metrics.loss', `query=${encodeURIComponent('status:succeeded, metrics.loss:<0.3')}&sort=-metrics.loss`],
    ['OR + param sort: tags:baseline | params.lr:<0.01 by params.lr', `query=${encodeURIComponent('tags:baseline | params.lr:<0.01')}&sort=params.lr`],
  ];
  console.log(`\nRun listing through the API on PostgreSQL, ${N} runs in one project (seeded in ${seeded} s), limit 20, median of 5`);
  for (const [label, qs] of cases) {
    const times = [];
    let count = 0;
    for (let i = 0; i < 6; i++) {
      t = performance.now();
      const page = await api(`/api/v1/admin/bench/runs?limit=20&${qs}`);
      const ms = performance.now() - t;
      if (i > 0) times.push(ms); // first call warms caches
      count = page.count;
    }
    times.sort((a, b) => a - b);
    console.log(`${label.padEnd(72)} ${times[2].toFixed(0).padStart(6)} ms   (count ${count})   goal < 1000 ms`);
  }
} finally {
  await app.close();
  await db.close();
  await bus.close();
  await c.query(`DROP DATABASE "${dbName}" WITH (FORCE)`);
  await c.end();
}
