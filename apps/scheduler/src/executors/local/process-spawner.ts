import { ChildProcess, spawn } from 'node:child_process';

export interface SpawnRequest {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Files the process's stdout and stderr are appended to. */
  stdout: string;
  stderr: string;
}

type ToSpawner = SpawnRequest & { id: number };
type FromSpawner = { t: 'spawned'; id: number; pid: number } | { t: 'error'; id: number; message: string } | { t: 'exit'; id: number };

/**
 * The spawner's own program, run with `node -e` (so it needs no file of its own on disk, under
 * the build as under the tests): it starts each job detached, in its own process group, with its
 * output appended to the given files, answers with the pid, and reports the exit. It quits when
 * the platform goes away; the jobs, detached, keep running and are adopted again from their pid
 * and exit-code files.
 */
function spawnerProgram(): void {
  // This body runs as a script of its own (`node -e`): no imports around it, hence require().
  const childProcess = require('node:child_process') as typeof import('node:child_process');
  const fs = require('node:fs') as typeof import('node:fs');
  // With a callback a failed send (the platform went away meanwhile: EPIPE) is handed to it instead
  // of being thrown as an 'error' event that would end the helper with a stack trace; the
  // 'disconnect' handler ends the helper quietly.
  const reply = (message: unknown): void => {
    if (process.connected) process.send?.(message, undefined, undefined, () => undefined);
  };
  process.on('disconnect', () => process.exit(0));
  process.on('message', (raw) => {
    const m = raw as ToSpawner;
    let out: number | undefined;
    let err: number | undefined;
    try {
      out = fs.openSync(m.stdout, 'a');
      err = fs.openSync(m.stderr, 'a');
      const child = childProcess.spawn(m.file, m.args, { cwd: m.cwd, env: m.env, detached: true, stdio: ['ignore', out, err] });
      // Answered on 'spawn', a turn later: the starts waiting here are answered together, so the
      // scheduler records their `running` in one grouped write. Answering each at once (tried,
      // decision 0015) made one transaction per run and cost a busy host 5-7 ms of CPU per run.
      child.once('spawn', () => reply({ t: 'spawned', id: m.id, pid: child.pid }));
      child.once('error', (e) => reply({ t: 'error', id: m.id, message: e.message }));
      child.once('exit', () => reply({ t: 'exit', id: m.id }));
    } catch (e) {
      reply({ t: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) });
    } finally {
      // The child holds its own copies of the descriptors from here on.
      if (out !== undefined) fs.closeSync(out);
      if (err !== undefined) fs.closeSync(err);
    }
  });
}

/**
 * Starts job processes from a small helper process instead of the platform's own.
 *
 * Why: Node starts a process with fork + exec, and fork copies the parent's page tables, so its
 * cost grows with the parent's memory: about 12 ms for the platform (400-500 MB resident, all
 * services in one process) against about 1 ms for a fresh Node process, and it blocks the event
 * loop meanwhile. At 60 runs a second that was most of a core. The helper is started on first use
 * and again after it dies; a request in flight when it dies fails (the launch fails loudly, the
 * run is not left unknown).
 */
export class ProcessSpawner {
  private helper?: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (pid: number) => void; reject: (e: Error) => void; onExit: () => void }>();
  private readonly exits = new Map<number, () => void>();

  /** Start a process; resolves with its pid once it runs. `onExit` is called when it ends. */
  spawn(request: SpawnRequest, onExit: () => void): Promise<number> {
    const helper = this.ensureHelper();
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onExit });
      helper.channel?.ref();
      helper.send({ ...request, id } satisfies ToSpawner, (error) => {
        if (error) this.settle(id, new Error(`could not reach the process spawner: ${error.message}`));
      });
    });
  }

  /** Stop the helper (the processes it started keep running). */
  close(): void {
    this.helper?.disconnect();
    this.helper = undefined;
  }

  private ensureHelper(): ChildProcess {
    if (this.helper && this.helper.connected) return this.helper;
    const helper: ChildProcess = spawn(process.execPath, ['-e', `(${spawnerProgram.toString()})()`], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // None of the platform's environment (NODE_OPTIONS, credentials): each job gets its own env with its request.
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
    });
    helper.on('message', (raw) => this.onMessage(raw as FromSpawner));
    helper.once('exit', (code, signal) => {
      if (this.helper === helper) this.helper = undefined;
      for (const id of [...this.pending.keys()]) this.settle(id, new Error(`the process spawner exited (${signal ?? `code ${code}`}) before starting the process`));
      // Processes it started keep running; their exits are seen by the scheduler's inspections.
      this.exits.clear();
    });
    helper.unref();
    helper.channel?.unref();
    this.helper = helper;
    return helper;
  }

  private onMessage(message: FromSpawner): void {
    if (message.t === 'exit') {
      const onExit = this.exits.get(message.id);
      this.exits.delete(message.id);
      onExit?.();
      return;
    }
    if (message.t === 'spawned') {
      const entry = this.pending.get(message.id);
      if (entry) this.exits.set(message.id, entry.onExit);
      this.settle(message.id, message.pid);
    } else {
      this.settle(message.id, new Error(message.message));
    }
  }

  private settle(id: number, result: number | Error): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    if (result instanceof Error) entry.reject(result);
    else entry.resolve(result);
    // Idle: the helper does not keep the platform's event loop alive.
    if (!this.pending.size) this.helper?.channel?.unref();
  }
}
