#!/usr/bin/env node
// Embedded platform figures: time from `myelin up` to ready on a fresh home and on an existing one,
// and the resident memory of the platform process when idle and while it runs 10 jobs.
// Usage: node tools/bench/embedded-startup.mjs [--repeat N]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'myelin.js');
const repeat = Number(process.argv[process.argv.indexOf('--repeat') + 1]) || 3;
execFileSync(process.execPath, [join(root, 'tools', 'scripts', 'build.mjs'), '--quiet'], { stdio: 'inherit' });
const env = { ...process.env, MYELIN_SKIP_BUILD_CHECK: '1' };

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const rssMiB = (pid) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
};

async function startUp(home) {
  const port = await freePort();
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [bin, 'up', '--home', home, '--port', String(port)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  for (;;) {
    if (child.exitCode !== null) throw new Error(`myelin up exited:\n${output}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.ok) break;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { child, port, seconds };
}

const stop = (child) =>
  new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const fresh = [];
const existing = [];
let idle = 0;
let busy = 0;
for (let i = 0; i < repeat; i++) {
  const home = mkdtempSync(join(tmpdir(), 'myelin-bench-'));
  try {
    const first = await startUp(home);
    fresh.push(first.seconds);
    await stop(first.child);
    const second = await startUp(home);
    existing.push(second.seconds);
    if (i === repeat - 1) {
      await new Promise((r) => setTimeout(r, 3000));
      idle = rssMiB(second.child.pid);
      const cliEnv = { ...env, MYELIN_HOME: home };
      const spec = join(home, 'sleep.yml');
      writeFileSync(spec, 'version: 1\nkind: experiment\nrun:\n  cmd: for i in $(seq 1 100); do echo "line $i"; echo "myelin:metric step=$i x=$i"; sleep 0.1; done\n');
      for (let j = 0; j < 10; j++) {
        execFileSync(process.execPath, [bin, 'run', '-f', spec, '--host', `http://127.0.0.1:${second.port}`], { env: cliEnv, stdio: 'ignore' });
      }
      const deadline = Date.now() + 12_000;
      while (Date.now() < deadline) {
        busy = Math.max(busy, rssMiB(second.child.pid));
        await new Promise((r) => setTimeout(r, 200));
      }
      await stop(second.child);
    } else {
      await stop(second.child);
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

const row = (name, value, goal) => `${name.padEnd(44)} ${value.padStart(10)}   ${goal}`;
console.log(`\nEmbedded platform (myelin up), ${repeat} run(s), node ${process.version}, ${process.platform}`);
console.log(row('time to ready, fresh home (median)', `${median(fresh).toFixed(2)} s`, 'goal <= 5 s'));
console.log(row('time to ready, existing home (median)', `${median(existing).toFixed(2)} s`, 'goal <= 5 s'));
console.log(row('resident memory, idle', `${idle.toFixed(0)} MiB`, ''));
console.log(row('resident memory, running 10 jobs (peak)', `${busy.toFixed(0)} MiB`, 'platform process only'));
console.log(`  fresh: ${fresh.map((s) => s.toFixed(2)).join(', ')} s; existing: ${existing.map((s) => s.toFixed(2)).join(', ')} s`);
