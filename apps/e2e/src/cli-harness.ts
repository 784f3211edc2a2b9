import { ChildProcess, spawn } from 'node:child_process';
import { freePort, removeBusPrefix, TEST_AMQP_URL, TEST_REDIS_URL, uniqueName, waitFor } from '@myelin/testing';
import { join } from 'node:path';

/** The repository root and the `myelin` command, as a user runs it (from dist, built by `npm test`). */
export const REPO = join(__dirname, '..', '..', '..');
export const MYELIN_BIN = join(REPO, 'bin', 'myelin.js');
/** Re-exported: the e2e suites import their helpers from here. */
export { freePort };

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `myelin <args>` to completion. */
export function myelin(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MYELIN_BIN, ...args], {
      cwd: REPO,
      env: { ...process.env, MYELIN_SKIP_BUILD_CHECK: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`myelin ${args.join(' ')} timed out after ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** A long-running `myelin` process (up, serve) whose output is kept for diagnostics. */
export class ServiceProcess {
  readonly child: ChildProcess;
  output = '';

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [MYELIN_BIN, ...args], {
      cwd: REPO,
      env: { ...process.env, MYELIN_SKIP_BUILD_CHECK: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-20_000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await done;
    clearTimeout(timer);
  }
}

export async function waitForHttp(url: string, timeoutMs = 60_000, proc?: ServiceProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc?.exited) throw new Error(`process exited before ${url} answered:\n${proc.output}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs} ms${proc ? `:\n${proc.output}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** waitFor with a slower default pace: e2e checks spawn the CLI, and a busy loop of spawns slows the platform it waits on. */
export function poll<T>(check: () => T | Promise<T>, options: Parameters<typeof waitFor>[1] = {}): Promise<NonNullable<T>> {
  return waitFor(check, { intervalMs: 400, ...options });
}

/** The bus prefixes handed out by distributedEnv in this test file (removed by removeBusPrefixes). */
const busPrefixes: string[] = [];

/** Remove from the broker the queues and exchanges of every prefix distributedEnv handed out here (after the apps stopped). */
export async function removeBusPrefixes(): Promise<void> {
  for (const prefix of busPrefixes.splice(0)) await removeBusPrefix(prefix);
}

/**
 * The environment of an app started with `myelin serve <app>` in distributed mode: its own
 * database, queue prefix, home and credentials file, on the local RabbitMQ and Redis.
 */
export function distributedEnv(options: { databaseUrl: string; home: string; apiPort: number; label: string }, extra: Record<string, string> = {}): Record<string, string> {
  const prefix = uniqueName(options.label).replace(/_/g, '-');
  busPrefixes.push(prefix);
  return {
    MYELIN_DATABASE_URL: options.databaseUrl,
    MYELIN_AMQP_URL: TEST_AMQP_URL,
    MYELIN_BUS_PREFIX: prefix,
    MYELIN_REDIS_URL: TEST_REDIS_URL,
    MYELIN_HOME: options.home,
    MYELIN_PUBLIC_URL: `http://127.0.0.1:${options.apiPort}`,
    MYELIN_CREDENTIALS_FILE: join(options.home, 'credentials.json'),
    MYELIN_ADMIN_PASSWORD: 'e2e-password',
    MYELIN_LOG_LEVEL: 'warn',
    ...extra,
  };
}
