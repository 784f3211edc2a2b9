import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { createTempDir, TempDir } from './temp-dir';
import { uniqueName } from './test-ids';
import { freePort } from './free-port';

/**
 * A RabbitMQ node of one test's own, on free ports, with its data in a temporary directory:
 * a test may stop and restart it without disturbing the shared broker other suites use.
 */
export interface PrivateRabbitMq {
  /** `amqp://guest:guest@127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Erlang node name, e.g. `myelin-rmq-…@localhost` (for `rabbitmqctl -n`). */
  readonly nodeName: string;
  readonly running: boolean;
  /** Start the node again after `stop()`; durable queues and persistent messages survive. */
  start(): Promise<void>;
  /** Stop the node (`rabbitmqctl stop`), keeping its data. */
  stop(): Promise<void>;
  /** Kill the node with SIGKILL (a crash: clients get no close, unconfirmed messages stay unconfirmed). */
  kill(): Promise<void>;
  /** Stop, stay down `downMs`, start again. */
  restart(downMs?: number): Promise<void>;
  /** Stop the node and remove its directory. */
  destroy(): Promise<void>;
  /** The node's recent console output, for diagnostics. */
  output(): string;
}

/** Where the real scripts live: Debian's /usr/sbin wrappers switch to the `rabbitmq` user (and its shared cookie). */
const SCRIPT_DIRS = ['/usr/lib/rabbitmq/bin', '/usr/local/opt/rabbitmq/sbin', '/opt/homebrew/opt/rabbitmq/sbin', '/usr/local/sbin', '/usr/sbin'];

function findScripts(): { server: string; ctl: string } {
  const dirs = process.env['MYELIN_RABBITMQ_BIN_DIR'] ? [process.env['MYELIN_RABBITMQ_BIN_DIR']] : SCRIPT_DIRS;
  for (const dir of dirs) {
    const server = join(dir, 'rabbitmq-server');
    const ctl = join(dir, 'rabbitmqctl');
    if (existsSync(server) && existsSync(ctl)) return { server, ctl };
  }
  throw new Error(
    `rabbitmq-server is not installed (looked for rabbitmq-server and rabbitmqctl in ${dirs.join(', ')}). ` +
      'Install it (Debian: apt-get install -y --no-install-recommends rabbitmq-server) or point MYELIN_RABBITMQ_BIN_DIR at its scripts.',
  );
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1');
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until nothing listens on `port` any more (bounded: a stuck port is an error, not a hang). */
async function portClosed(port: number, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (await portOpen(port)) {
    if (Date.now() > deadline) throw new Error(`${what}: port ${port} still accepts connections`);
    await sleep(100);
  }
}

/**
 * Start a private RabbitMQ node (about 5 s) and wait until it accepts AMQP connections.
 * Its own node name, AMQP and distribution ports, Erlang cookie (a HOME of its own), data, log
 * and config; no plugins, so no management listener clashes with the node already running.
 * The process is killed if the test process exits without `destroy()`.
 */
export async function startPrivateRabbitMq(options: { label?: string; startTimeoutMs?: number } = {}): Promise<PrivateRabbitMq> {
  const scripts = findScripts();
  const dir: TempDir = await createTempDir(options.label ?? 'myelin-rmq');
  const nodeName = `${uniqueName(options.label ?? 'myelin-rmq').replace(/_/g, '-')}@localhost`;
  const port = await freePort();
  let distPort = await freePort();
  while (distPort === port) distPort = await freePort();
  const home = join(dir.path, 'home');
  await mkdir(home, { recursive: true });
  await mkdir(join(dir.path, 'log'), { recursive: true });
  await mkdir(join(dir.path, 'mnesia'), { recursive: true });
  // Erlang requires the cookie file to be readable by its owner only.
  await writeFile(join(home, '.erlang.cookie'), randomBytes(16).toString('hex').toUpperCase());
  await chmod(join(home, '.erlang.cookie'), 0o400);
  await writeFile(join(dir.path, 'enabled_plugins'), '[].\n');
  await writeFile(join(dir.path, 'rabbitmq-env.conf'), ''); // not the system's (it names the shared node)
  await writeFile(
    join(dir.path, 'rabbitmq.conf'),
    [`listeners.tcp.default = 127.0.0.1:${port}`, 'loopback_users = none', 'log.console = true', 'log.file = false', ''].join('\n'),
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    RABBITMQ_CONF_ENV_FILE: join(dir.path, 'rabbitmq-env.conf'),
    RABBITMQ_CONFIG_FILE: join(dir.path, 'rabbitmq.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir.path, 'enabled_plugins'),
    RABBITMQ_PLUGINS_EXPAND_DIR: join(dir.path, 'plugins-expand'),
    RABBITMQ_MNESIA_BASE: join(dir.path, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir.path, 'log'),
    RABBITMQ_PID_FILE: join(dir.path, 'node.pid'),
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let log = '';
  const killOnExit = () => {
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', killOnExit);

  const ctl = (...args: string[]) =>
    new Promise<void>((resolve, reject) => {
      execFile(scripts.ctl, ['-n', nodeName, ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`rabbitmqctl ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
        else resolve();
      });
    });

  const alive = () => !!child && child.exitCode === null && child.signalCode === null;

  const start = async () => {
    if (alive()) return;
    if (await portOpen(port)) throw new Error(`port ${port} of the private RabbitMQ is taken by another process`);
    // Own process group, so a stop that hangs can kill the node with its helpers.
    const proc = spawn(scripts.server, [], { env, cwd: dir.path, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const keep = (d: Buffer) => {
      log = (log + d.toString()).slice(-20_000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`the private RabbitMQ ${nodeName} exited while starting (code ${proc.exitCode}):\n${log}`);
      }
      if (await portOpen(port)) {
        try {
          const conn = await amqplib.connect(url);
          await conn.close();
          return;
        } catch {
          // listener up, broker still booting
        }
      }
      if (Date.now() > deadline) throw new Error(`the private RabbitMQ ${nodeName} did not accept connections on ${port}:\n${log}`);
      await sleep(150);
    }
  };

  const stop = async () => {
    const proc = child;
    if (!proc || !alive()) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    try {
      await ctl('stop');
    } catch {
      killOnExit();
    }
    const timer = setTimeout(killOnExit, 20_000);
    await exited;
    clearTimeout(timer);
    await portClosed(port, `stopping ${nodeName}`);
  };

  const kill = async () => {
    const proc = child;
    if (!proc || !alive()) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    killOnExit();
    await exited;
    await portClosed(port, `killing ${nodeName}`);
  };

  await start();
  return {
    url,
    port,
    nodeName,
    get running() {
      return alive();
    },
    start,
    stop,
    kill,
    async restart(downMs = 2000) {
      await stop();
      await sleep(downMs);
      await start();
    },
    async destroy() {
      await stop();
      process.removeListener('exit', killOnExit);
      await dir.remove();
    },
    output: () => log,
  };
}
