import { ChildProcess, spawn } from 'node:child_process';

export interface SpawnRequest {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Files the process's stdout and stderr are appended to. */
  stdout: string;
  stderr: string;
  /**
   * Directories (made with their parents) and files (written) the helper makes before it starts
   * the process: a run's directories and script, made in the helper's process rather than on the
   * platform's event loop (see LocalProcessExecutor.prepare). Anything that fails fails the spawn.
   */
  prepare?: { dirs: string[]; files: Array<[path: string, text: string]> };
}

type ToSpawner = SpawnRequest & { id: number };
type FromSpawner = { t: 'spawned'; id: number; pid: number } | { t: 'error'; id: number; message: string } | { t: 'exit'; id: number };

/**
 * What a standby bash runs before it has a job. It reads a line on its stdin: the path of the job's
 * file (NUL-separated: the env count, cwd, stdout file, stderr file, the `-c` script, `$0`, the env
 * entries, the positional arguments). It says on its stdout that it has read it (the helper then
 * removes the file: it holds the run's token), takes the job's output files, directory and env,
 * and runs the script as `bash -c script $0 args...` would. EOF (the helper went away): it exits.
 *
 * Why a file: bash reads a pipe one byte per system call (it must not read past what it uses), and
 * a job's few kilobytes of env took 12 ms that way, as long as the program start saved; a regular
 * file is read in blocks (about 1 ms). Only builtins run here (no program start, and the standby's
 * own environment is empty). The script is expanded into the `eval` before the reading's variables
 * are unset, so the job sees none of them.
 */
export const STANDBY_PRELUDE = [
  `IFS= read -r __myelin_f || exit 0`,
  `mapfile -d '' -t __myelin_go < "$__myelin_f" || exit 127`,
  `printf x`,
  `__myelin_e=\${__myelin_go[0]}`,
  `exec </dev/null >>"\${__myelin_go[2]}" 2>>"\${__myelin_go[3]}" || exit 127`,
  // `cd` sets OLDPWD, which a job started in its directory does not have (unless its env says so: next line).
  `cd -- "\${__myelin_go[1]}" || exit 127`,
  `unset OLDPWD`,
  `for __myelin_kv in "\${__myelin_go[@]:6:__myelin_e}"; do export "$__myelin_kv"; done`,
  `BASH_ARGV0=\${__myelin_go[5]}`,
  `set -- "\${__myelin_go[@]:6+__myelin_e}"`,
  `eval "unset BASH_EXECUTION_STRING __myelin_f __myelin_e __myelin_kv __myelin_go; \${__myelin_go[4]}"`,
].join('\n');

/** Standby processes kept by default (MYELIN_STANDBY_PROCESSES): runs submitted one after the other each find one. */
export const DEFAULT_STANDBY_PROCESSES = 2;

/** An env entry a standby can export (a shell identifier); a job with any other runs in a new process. */
const EXPORTABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The spawner's own program, run with `node -e` (so it needs no file of its own on disk, under
 * the build as under the tests): it starts each job detached, in its own process group, with its
 * output appended to the given files, answers with the pid, and reports the exit. It quits when
 * the platform goes away; the jobs, detached, keep running and are adopted again from their pid
 * and exit-code files.
 *
 * Standby processes: it keeps `standby` bash processes started ahead, each waiting for a job on its
 * stdin. A `bash --norc -c` job (the local executor's wrapper) goes to one of them: the program
 * start (fork and exec of bash, 8-9 ms of a busy small VM) is then not between the submission and
 * the job's first line. Standbys are started again once starts pause (below). Idle standbys read
 * EOF and exit when the helper goes away.
 */
function spawnerProgram(options: { standby: number; prelude: string; exportable: string }): void {
  // This body runs as a script of its own (`node -e`): no imports around it, hence require().
  const childProcess = require('node:child_process') as typeof import('node:child_process');
  const fs = require('node:fs') as typeof import('node:fs');
  const { join } = require('node:path') as typeof import('node:path');
  const { tmpdir } = require('node:os') as typeof import('node:os');
  const exportable = new RegExp(options.exportable);
  // With a callback a failed send (the platform went away meanwhile: EPIPE) is handed to it instead
  // of being thrown as an 'error' event that would end the helper with a stack trace; the
  // 'disconnect' handler ends the helper quietly.
  const reply = (message: unknown): void => {
    if (process.connected) process.send?.(message, undefined, undefined, () => undefined);
  };
  // The jobs' files for standbys, in a directory only this user can read (they hold run tokens).
  const jobFiles = options.standby > 0 ? fs.mkdtempSync(join(tmpdir(), 'myelin-standby-jobs-')) : '';
  process.on('disconnect', () => {
    if (jobFiles) fs.rmSync(jobFiles, { recursive: true, force: true });
    process.exit(0);
  });

  const idle: import('node:child_process').ChildProcess[] = [];
  /** The job each used standby runs (its exit is that job's). */
  const jobOf = new Map<import('node:child_process').ChildProcess, number>();
  // `$0` is set through BASH_ARGV0, which bash has from version 5.0: an older bash gets no standbys.
  let standbyBroken =
    options.standby > 0 && !(Number(childProcess.spawnSync('/bin/bash', ['-c', 'echo "${BASH_VERSINFO[0]}"'], { encoding: 'utf8', env: {} }).stdout) >= 5);
  const removeJobFile = (standby: import('node:child_process').ChildProcess): void => {
    const id = jobOf.get(standby);
    if (id !== undefined) fs.rm(join(jobFiles, String(id)), { force: true }, () => undefined);
  };
  const forget = (standby: import('node:child_process').ChildProcess): void => {
    const at = idle.indexOf(standby);
    if (at >= 0) idle.splice(at, 1);
  };
  const fill = (): void => {
    while (!standbyBroken && idle.length < options.standby) {
      // --norc: with its stdin a socket (Node's pipes are socket pairs) bash would take itself for a
      // shell started by rshd and run the system's and the user's bashrc; a job's stdin is /dev/null.
      const standby = childProcess.spawn('/bin/bash', ['--norc', '-c', options.prelude, 'myelin-standby'], {
        cwd: '/',
        env: {},
        detached: true,
        stdio: ['pipe', 'pipe', 'ignore'],
      });
      standby.stdin?.on('error', () => undefined); // gone before its job was written: its exit says so
      // Its one line of output: it has read its job's file.
      standby.stdout?.once('data', () => removeJobFile(standby));
      standby.once('error', () => {
        standbyBroken = true; // no bash here: every job starts as a new process
        forget(standby);
      });
      standby.once('exit', () => {
        removeJobFile(standby);
        const id = jobOf.get(standby);
        jobOf.delete(standby);
        if (id !== undefined) reply({ t: 'exit', id });
        else forget(standby);
      });
      idle.push(standby);
    }
  };
  fill();
  // Standbys are started again once starts have paused for a moment: in a burst each start would
  // otherwise also pay for a standby that the next start takes at once (no latency gained, CPU
  // spent); the burst's starts go the new-process way, and the runs submitted after it find standbys.
  let fillTimer: NodeJS.Timeout | undefined;
  const fillWhenQuiet = (): void => {
    if (standbyBroken || !options.standby) return;
    if (fillTimer) clearTimeout(fillTimer);
    fillTimer = setTimeout(fill, 20);
  };

  /** Hand the job to a standby; false when it must start as a new process. */
  const toStandby = (m: ToSpawner): boolean => {
    // `bash --norc -c script $0 args...` (the local executor's wrapper): what a standby runs as.
    if (!idle.length || m.file !== '/bin/bash' || m.args[0] !== '--norc' || m.args[1] !== '-c' || m.args.length < 4) return false;
    const names = Object.keys(m.env);
    if (!names.every((name) => exportable.test(name))) return false;
    const env = names.map((name) => `${name}=${m.env[name]}`);
    const fields = [String(env.length), m.cwd, m.stdout, m.stderr, m.args[2], m.args[3], ...env, ...m.args.slice(4)];
    // What a new process would refuse (a missing directory, a NUL in an argument) is left to that
    // path, which reports it as it always did; the output files are opened as there (below).
    if (!fs.statSync(m.cwd, { throwIfNoEntry: false })?.isDirectory() || fields.some((field) => field.includes('\0'))) return false;
    fs.closeSync(fs.openSync(m.stdout, 'a'));
    fs.closeSync(fs.openSync(m.stderr, 'a'));
    let standby = idle.shift();
    while (standby && (standby.exitCode !== null || standby.signalCode !== null)) standby = idle.shift();
    if (!standby?.stdin) return false;
    const file = join(jobFiles, String(m.id));
    try {
      fs.writeFileSync(file, `${fields.join('\0')}\0`, { mode: 0o600 });
    } catch {
      idle.unshift(standby);
      return false; // (a full disk): a new process needs no file
    }
    jobOf.set(standby, m.id);
    standby.stdin.end(`${file}\n`);
    const pid = standby.pid;
    // Answered a turn later, as a new process is (below): the starts of one turn are answered together.
    setImmediate(() => reply({ t: 'spawned', id: m.id, pid }));
    return true;
  };

  process.on('message', (raw) => {
    const m = raw as ToSpawner;
    let out: number | undefined;
    let err: number | undefined;
    fillWhenQuiet();
    try {
      if (m.prepare) {
        for (const dir of m.prepare.dirs) fs.mkdirSync(dir, { recursive: true });
        for (const [path, text] of m.prepare.files) fs.writeFileSync(path, text);
      }
      if (toStandby(m)) return;
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

  /** Standby bash processes kept ready for `bash --norc -c` jobs (0: each job starts as a new process). */
  constructor(private readonly options: { standby?: number } = {}) {}

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

  /** The helper's pid while it runs (its standbys are its children). */
  get helperPid(): number | undefined {
    return this.helper?.connected ? this.helper.pid : undefined;
  }

  /** Start the helper (and its standbys) ahead of the first job, e.g. when a run is queued. */
  start(): void {
    this.ensureHelper();
  }

  /** Stop the helper (the processes it started keep running). */
  close(): void {
    this.helper?.disconnect();
    this.helper = undefined;
  }

  private ensureHelper(): ChildProcess {
    if (this.helper && this.helper.connected) return this.helper;
    const program = { standby: this.options.standby ?? 0, prelude: STANDBY_PRELUDE, exportable: EXPORTABLE_NAME.source };
    const helper: ChildProcess = spawn(process.execPath, ['-e', `(${spawnerProgram.toString()})(${JSON.stringify(program)})`], {
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
