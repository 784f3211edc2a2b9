// What the end-to-end benchmarks share: where the CLI is, flags, a free port, and the build.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const bin = join(root, 'bin', 'myelin.js');

/** `--name value` from the command line as a number, or the fallback. */
export const arg = (name, fallback) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Build dist/ first: the benchmark measures the code as it is in the tree. */
export function build() {
  execFileSync(process.execPath, [join(root, 'tools', 'scripts', 'build.mjs'), '--quiet'], { stdio: 'inherit' });
}

/**
 * Start `myelin <args>` with its output kept (the last 20 kB, echoed with BENCH_ECHO=1);
 * BENCH_PROFILE=<arg> writes a CPU profile of the process whose args include it.
 */
export function startMyelin(args, env) {
  const profile = process.env.BENCH_PROFILE && args.includes(process.env.BENCH_PROFILE) ? ['--cpu-prof', '--cpu-prof-dir=/tmp/myelin-bench-profile'] : [];
  const child = spawn(process.execPath, [...profile, bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.output = '';
  const keep = (d) => {
    child.output = (child.output + d).slice(-20000);
    if (process.env.BENCH_ECHO) process.stderr.write(d);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return child;
}

/** User + system CPU seconds of a process so far (Linux /proc). */
export const cpuSeconds = (child) => procCpuSeconds(`/proc/${child.pid}/stat`);
/** The same for the process's main thread alone (/proc/<pid>/task/<pid>): the JavaScript thread. */
export const mainThreadSeconds = (child) => procCpuSeconds(`/proc/${child.pid}/task/${child.pid}/stat`);
function procCpuSeconds(path) {
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Wait until `url` answers 2xx; fail with the process's output if it exits first. */
export async function waitReady(child, url) {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${child.spawnargs.join(' ')} exited:\n${child.output}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
}

/** A JSON call to the API with a token; throws with the status and body on a non-2xx answer. */
export function apiCaller(base, token) {
  return async (method, path, body) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text);
  };
}

/**
 * Delete a bus prefix's queues and exchanges from the broker (the services' queues are durable and
 * outlive them; a benchmark's prefix is never used again). Names as in libs/platform/bus/amqp-bus.ts.
 */
export async function removeBusPrefix(amqpUrl, prefix) {
  const { createRequire } = await import('node:module');
  const amqp = createRequire(join(root, 'package.json'))('amqplib');
  const connection = await amqp.connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    for (const service of ['api', 'tracking', 'scheduler', 'pipelines', 'optimizer', 'ci']) {
      await channel.deleteQueue(`${prefix}.${service}`);
      await channel.deleteQueue(`${prefix}.${service}.dlq`);
    }
    await channel.deleteExchange(`${prefix}.bus`);
    await channel.deleteExchange(`${prefix}.dlx`);
  } finally {
    await connection.close();
  }
}

/** Busy and total clock ticks of the whole machine so far (/proc/stat): how saturated its cores were between two readings. */
export function machineTicks() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = fields[3] + fields[4]; // idle + iowait
  return { busy: total - idle, total };
}
export const busyShare = (before, after) => (after.busy - before.busy) / (after.total - before.total);

/**
 * A job's first line that writes the shell's clock in microseconds (bash's EPOCHREALTIME without
 * its decimal separator): the instant the job's own command starts. A builtin, so the probe starts
 * no program of its own: with `date` the instant came a program start later (5-8 ms on a small
 * VM), and every job of a burst paid that start too.
 */
export const CLOCK_PROBE = 'printf %s "${EPOCHREALTIME/[!0-9]/}"';

/**
 * Jobs without the platform: n processes running `script` at concurrency c, spawned straight from this
 * (small) Node process, under the local executor's wrapper shape (the script in a subshell of a
 * bash that records the pid and the exit code in files), output to a file. What the machine itself
 * allows: on a small VM, starting bash and sleep costs tens of ms of CPU per job. With
 * `oneByOne`, also spawn-to-first-line of that many jobs one at a time (the script must write its
 * clock with CLOCK_PROBE to `started_us` first).
 */
export async function bareJobs(n, c, script, oneByOne = 0) {
  const dir = mkdtempSync(join(tmpdir(), 'myelin-bench-bare-'));
  const ticks0 = machineTicks();
  writeFileSync(join(dir, 'cmd.sh'), script);
  const wrapper = 'printf "%s" "$$" > "$2"; ( set --; . "$0" ); code=$?; printf "%s" "$code" > "$1"; exit $code';
  const t0 = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next < n) {
        const i = next++;
        const out = openSync(join(dir, `out${i}`), 'a');
        await new Promise((resolve, reject) => {
          const child = spawn('/bin/bash', ['--norc', '-c', wrapper, join(dir, 'cmd.sh'), join(dir, `exit${i}`), join(dir, `pid${i}`)], { cwd: dir, detached: true, stdio: ['ignore', out, out] });
          child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bare job ${i} exited with ${code}`))));
          child.once('error', reject);
        });
        closeSync(out);
      }
    }),
  );
  const ms = Date.now() - t0;
  const busy = busyShare(ticks0, machineTicks());
  // Spawn-to-first-line, one job at a time (the floor under the platform's submit-to-process-start).
  const latencies = [];
  for (let i = 0; i < oneByOne; i++) {
    const at = Date.now();
    const child = spawn('/bin/bash', ['--norc', '-c', wrapper, join(dir, 'cmd.sh'), join(dir, 'exit'), join(dir, 'pid')], { cwd: dir, detached: true, stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    latencies.push(Number(readFileSync(join(dir, 'started_us'), 'utf8')) / 1000 - at);
  }
  rmSync(dir, { recursive: true, force: true });
  return { ms, busy, latencies: latencies.sort((a, b) => a - b) };
}
