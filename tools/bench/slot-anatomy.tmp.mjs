import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiCaller, arg, freePort, startMyelin, waitReady, sleep } from './lib.mjs';
const N = arg('--runs', 300);
const home = mkdtempSync(join(tmpdir(), 'myelin-slot-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const env = { ...process.env, MYELIN_SKIP_BUILD_CHECK: '1', MYELIN_HOME: home, MYELIN_MAX_PARALLEL: '32', MYELIN_LOG_LEVEL: 'warn' };
const up = startMyelin(['up', '--port', String(port)], env);
try {
await waitReady(up, `${base}/readyz`);
const { token } = JSON.parse(readFileSync(join(home, 'credentials.json'), 'utf8'));
const call = apiCaller(base, token);
const project = 'admin/bench';
await call('POST', '/api/v1/projects', { name: 'bench' }).catch(() => undefined);
const plain = { path: 'plain.yml', content: 'version: 1\nkind: experiment\nrun:\n  cmd: "true"\n' };
const t0 = Date.now();
const runs = [];
for (let i = 0; i < N; i += 50) runs.push(...await Promise.all(Array.from({ length: Math.min(50, N - i) }, () => call('POST', `/api/v1/${project}/runs`, { files: [plain] }))));
for (;;) { const r = await call('GET', `/api/v1/${project}/runs?query=${encodeURIComponent('status:succeeded')}&limit=1`); if (r.count >= N) break; await sleep(200); }
console.log('total', Date.now() - t0, 'ms');
const ph = {};
for (const run of runs.slice(50, 250)) {
  const h = await call('GET', `/api/v1/${project}/runs/${run.number}/statuses`);
  const at = Object.fromEntries(h.results.map((c) => [c.status, Date.parse(c.at)]));
  const seq = h.results.map((c) => c.status);
  for (let i = 1; i < seq.length; i++) (ph[`${seq[i-1]}>${seq[i]}`] ??= []).push(at[seq[i]] - at[seq[i-1]]);
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [k, xs] of Object.entries(ph)) console.log(k, 'n', xs.length, 'p50', med(xs), 'p90', [...xs].sort((a,b)=>a-b)[Math.floor(xs.length*0.9)]);
} finally { up.kill('SIGTERM'); await new Promise((r) => up.once('exit', r)); rmSync(home, { recursive: true, force: true }); }
