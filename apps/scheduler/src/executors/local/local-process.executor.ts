import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, type Dirent } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { access, copyFile, cp, mkdir, readdir, readFile, rename, rm, writeFile, stat, utimes } from 'node:fs/promises';
import { delimiter, dirname, join, resolve, sep } from 'node:path';
import type { ExecutionEntity } from '@myelin/persistence';
import { CODE_TREE_MAX_BYTES, CODE_TREE_MAX_FILE_BYTES, CODE_TREE_MAX_FILES, CODE_TREE_SKIPPED } from '@myelin/sdk';
import { Executor, LaunchedProcess, ProcessState, RunSecrets } from '../executor';
import { CgroupLimiter, describeLimits, runLimits } from './cgroup-limits';
import { parseStat } from './process-sampler';
import { DEFAULT_STANDBY_PROCESSES, ProcessSpawner } from './process-spawner';
import { copySmallTreeSync, SMALL_TREE } from './small-tree-copy';
import { buildRunEnvironment } from './run-environment';

/** The bundled tracking client first on the job's PYTHONPATH (`from myelin import tracking` works as is), and where tracking is. */
function withJobExtras(env: Record<string, string>, pythonPath: string | undefined, trackingUrl: string | undefined): Record<string, string> {
  const out = trackingUrl ? { ...env, MYELIN_TRACKING_HOST: trackingUrl } : env;
  if (!pythonPath) return out;
  return { ...out, PYTHONPATH: env['PYTHONPATH'] ? `${pythonPath}${delimiter}${env['PYTHONPATH']}` : pythonPath };
}

/**
 * Queued runs remembered as prepared ahead of their launch, at most (the oldest is forgotten first;
 * its launch then finds the directory ready by its snapshot marker). Sized for a burst of thousands
 * of queued runs: at 256, three in four runs of a 1,000-run burst were prepared twice, which cost
 * 1.5-3 ms of the platform's CPU per run.
 */
const MAX_EARLY_PREPARATIONS = 10_000;

export class CodeSnapshotError extends Error {}

/** The file operations a run's preparation makes: in place (on the event loop) or through the thread pool. */
interface WorkdirFiles {
  inPlace: boolean;
  mkdir(path: string): void | Promise<void>;
  writeFile(path: string, text: string): void | Promise<void>;
  exists(path: string): boolean | Promise<boolean>;
}

const IN_PLACE: WorkdirFiles = {
  inPlace: true,
  mkdir: (path) => void mkdirSync(path, { recursive: true }),
  writeFile: (path, text) => writeFileSync(path, text),
  exists: (path) => existsSync(path),
};

const IN_THE_BACKGROUND: WorkdirFiles = {
  inPlace: false,
  mkdir: async (path) => void (await mkdir(path, { recursive: true })),
  writeFile: (path, text) => writeFile(path, text),
  exists: (path) => access(path).then(() => true, () => false),
};

/** The run's command script (`$0` of the wrapper, sourced in its subshell). */
const scriptOf = (execution: Pick<ExecutionEntity, 'cmd'>): string => `${execution.cmd}\n`;

/** How an attempt ended when its cgroup's OOM killer struck (the scheduler's reason, as on Kubernetes). */
const OOM_KILLED = { reason: 'OOMKilled', detail: 'the kernel killed a process of the run for going over its memory limit' };

/**
 * Runs each job as a local process in its own working directory and process group.
 * The command runs under a small bash wrapper that records the exit code in a file, and its
 * output goes to files rather than pipes: the job survives a scheduler crash, and a restarted
 * scheduler adopts it again (reads the rest of its output, learns its exit code).
 */
export class LocalProcessExecutor implements Executor {
  readonly name = 'local';
  private readonly exits = new EventEmitter();
  private readonly spawner: ProcessSpawner;
  /** Runs started here and not ended yet: whether in a cgroup of their own (limits). */
  private readonly inCgroup = new Map<string, boolean>();
  /**
   * Runs being prepared (or prepared) while queued, by uuid (see prepare()): whether their outputs
   * directory was made too, or `helper` when the spawner helper makes everything at launch.
   */
  private readonly early = new Map<string, Promise<boolean | 'helper'>>();
  /** Parents (groups, pipelines) whose code snapshot is being taken or was taken here: the code their children copy. */
  private readonly parentSnapshots = new Map<string, Promise<string>>();

  constructor(
    private readonly options: {
      runsDir: string;
      publicUrl: string;
      baseEnv: Record<string, string | undefined>;
      /** Prepended to the job's PYTHONPATH (the bundled tracking client); empty: untouched. */
      pythonPath?: string;
      /** MYELIN_TRACKING_HOST for jobs, when tracking is not behind the public URL. */
      trackingUrl?: string;
      /** Where runs' cpu and memory limits are enforced (cgroups), or why they cannot be on this host. */
      cgroups?: CgroupLimiter | { unavailable: string };
      /** Bash processes kept started ahead for the next runs (see ProcessSpawner); 0: each run starts a new one. */
      standbyProcesses?: number;
    },
  ) {
    this.spawner = new ProcessSpawner({ standby: options.standbyProcesses ?? DEFAULT_STANDBY_PROCESSES });
  }

  private paths(runUuid: string) {
    const workdir = join(this.options.runsDir, runUuid);
    return {
      workdir,
      code: join(workdir, 'code'),
      outputs: join(workdir, 'outputs'),
      meta: join(workdir, '.myelin'),
      stdout: join(workdir, 'logs', 'stdout.log'),
      stderr: join(workdir, 'logs', 'stderr.log'),
      exitFile: join(workdir, '.myelin', 'exit_code'),
      /** Times the kernel killed a process of the attempt for memory, kept once its cgroup is gone. */
      oomFile: join(workdir, '.myelin', 'oom_kills'),
      script: join(workdir, '.myelin', 'cmd.sh'),
      /** Written once the code snapshot is complete: the run's code is taken once, whatever launches it later. */
      snapshotDone: join(workdir, '.myelin', 'code-snapshot'),
      pidFile: join(workdir, '.myelin', 'pid'),
    };
  }

  /**
   * Prepare a queued run's directory while it waits (the code is snapshotted as it was when the run
   * was queued). Bounded: past the bound the oldest entry is dropped (its launch prepares again), so
   * entries nobody launches here (a run started by another replica) cannot fill the map for good.
   *
   * `waits`: the run is expected to wait behind others. Its directories and files are then made
   * through the thread pool, off the event loop: on a busy host each mkdir or file creation took
   * 0.2-0.3 ms of the platform's thread (the file system's journal), 15% of it while a burst of
   * submissions came in, and a run that waits does not mind the turns of the loop it waits for.
   * A run that may start at once is prepared in place (see prepareWorkdir).
   */
  prepare(
    execution: Pick<ExecutionEntity, 'runUuid' | 'cmd' | 'codeDir' | 'parentUuid' | 'codeOf' | 'outputsOf' | 'copyOutputsFrom'>,
    options: { waits?: boolean } = {},
  ): void {
    if (this.early.has(execution.runUuid)) return;
    this.spawner.start(); // its standby processes get ready while the run waits
    if (this.early.size >= MAX_EARLY_PREPARATIONS) this.early.delete(this.early.keys().next().value as string);
    // A run with fresh outputs gets its outputs directory now too; resume and copy runs get theirs
    // at launch (the original's outputs as they are then).
    const fresh = !execution.outputsOf && !execution.copyOutputsFrom;
    // Without code to snapshot, a fresh run needs only its directories and script: the spawner's
    // helper makes them just before it starts the process, in its own process. Here they cost the
    // platform's event loop 2-3 ms a run on a host with a slow file system (five mkdirs and a file,
    // 0.3-0.8 ms of kernel time each), time taken from the exits and starts of the other runs.
    if (fresh && !execution.codeDir) {
      this.early.set(execution.runUuid, Promise.resolve('helper'));
      return;
    }
    const files = options.waits ? IN_THE_BACKGROUND : IN_PLACE;
    const preparing = (async () => {
      if (fresh) await files.mkdir(this.paths(execution.runUuid).outputs);
      await this.prepareWorkdir(execution, files);
      return fresh;
    })();
    preparing.catch(() => undefined); // reported by launch, which awaits it
    this.early.set(execution.runUuid, preparing);
  }

  /** Forget a run prepared early that will not be launched (stopped or deleted while queued). */
  forget(runUuid: string): void {
    this.early.delete(runUuid);
  }

  async launch(execution: ExecutionEntity, secrets: RunSecrets | Promise<RunSecrets> = {}): Promise<LaunchedProcess> {
    const p = this.paths(execution.runUuid);
    // Prepared while the run was queued (the first attempt), else now.
    const early = this.early.get(execution.runUuid);
    this.early.delete(execution.runUuid);
    const prepared = early ? await early : false;
    const inHelper = prepared === 'helper' && execution.attempt === 0;
    // A first attempt prepared early goes straight to the spawn: no trip through the thread pool
    // after `starting` is written, where the status work that write set off would get in first.
    if (!inHelper && (prepared !== true || execution.attempt > 0)) {
      await Promise.all([
        early && prepared !== 'helper' ? undefined : this.prepareWorkdir(execution),
        this.prepareOutputs(execution, p.outputs),
        // A retried run starts again in the same directory: the last attempt's exit code must not end this one.
        rm(p.exitFile, { force: true }),
        rm(p.oomFile, { force: true }),
      ]);
    }
    // $0: the command script, $1: the exit-code file, $2: the pid file (read if we crash before storing the pid).
    // The script runs in a subshell of the wrapper (sourced, with no positional arguments), not in
    // a new bash, and the exit code is written in place rather than renamed into place with mv: two
    // fewer programs started per run (fork + exec cost ~4 ms of CPU each on a small VM). The file is
    // read only once the wrapper is gone, and an empty one (killed mid-write) counts as none.
    // $3...: the cgroup.procs files of the run's cgroups (limits): the wrapper joins them before the
    // script runs, so the job and everything it starts are inside from its first line.
    const wrapper =
      'printf "%s" "$$" > "$2"; for f in "${@:3}"; do printf "%s" "$$" > "$f" || { echo "myelin: could not join the run\'s cgroup ($f)" >&2; printf 125 > "$1"; exit 125; }; done; ( set --; . "$0" ); code=$?; printf "%s" "$code" > "$1"; exit $code';
    const { procs, notice } = await this.limit(execution);
    const { runToken } = await secrets;
    // Output goes to files, appended (a retried run keeps earlier attempts' output; the shipper
    // resumes from its stored offsets); the process is detached in its own process group, so stop
    // signals reach the whole tree and it survives a scheduler restart.
    const pid = await this.spawner.spawn(
      {
        file: '/bin/bash',
        // --norc: a job's env can say it came through ssh (SSH_CLIENT, when the platform was started
        // over ssh), and bash would then run the system's and the user's bashrc before the command.
        args: ['--norc', '-c', wrapper, p.script, p.exitFile, p.pidFile, ...procs],
        cwd: p.code,
        env: withJobExtras(
          buildRunEnvironment(this.options.baseEnv, execution, { ...p, outputs: await this.outputsPath(execution) }, this.options.publicUrl, runToken),
          this.options.pythonPath,
          this.options.trackingUrl,
        ),
        stdout: p.stdout,
        stderr: p.stderr,
        ...(inHelper ? { prepare: { dirs: [p.outputs, p.code, p.meta, dirname(p.stdout)], files: [[p.script, scriptOf(execution)]] } } : {}),
      },
      () => this.exits.emit('exit', execution.runUuid),
    );
    return { pid, pidStartTime: processStartTime(pid), workdir: p.workdir, ...(notice ? { notice } : {}) };
  }

  /**
   * The run's cpu and memory limits (`environment.resources.*.limits`): its cgroup made, with the
   * files the wrapper joins it through, and what the run's history says; nothing for a run without limits.
   */
  private async limit(execution: ExecutionEntity): Promise<{ procs: string[]; notice?: string }> {
    const limits = runLimits(execution.spec);
    const cgroups = this.options.cgroups;
    this.inCgroup.set(execution.runUuid, false);
    if (limits.cpu === null && limits.memoryMb === null) return { procs: [] };
    if (!(cgroups instanceof CgroupLimiter)) {
      return { procs: [], notice: `${describeLimits(limits)} asked; not enforced on this host (${cgroups?.unavailable ?? 'no cgroups configured'}): admission counts the requests only` };
    }
    try {
      const procs = await cgroups.create(execution.runUuid, execution.attempt, limits);
      this.inCgroup.set(execution.runUuid, true);
      return { procs, notice: `${describeLimits(limits)} (cgroup v${cgroups.layout.version})` };
    } catch (error) {
      // A cgroup that cannot be made now (a controller gone since start-up) does not cost the run its
      // start: it runs without the limits, and its history says why.
      await cgroups.remove(execution.runUuid, execution.attempt);
      const reason = error instanceof Error ? error.message : String(error);
      return { procs: [], notice: `${describeLimits(limits)} asked; not enforced (the run's cgroup could not be made: ${reason}): admission counts the requests only` };
    }
  }

  /**
   * An ended attempt's cgroup: how often the kernel killed one of its processes for memory (kept
   * in a file, as the cgroup goes now), then the cgroup removed. 0 for a run without one.
   */
  private async settleCgroup(runUuid: string, attempt: number, oomFile: string): Promise<number> {
    // Started here without a cgroup (most runs): nothing to read. Unknown here (adopted after a
    // restart, or asked again after its end): the kept answer, else its cgroup if it has one.
    const started = this.inCgroup.get(runUuid);
    this.inCgroup.delete(runUuid);
    if (started === false) return 0;
    const kept = started ? null : await readFile(oomFile, 'utf8').catch(() => null);
    if (kept !== null) return Number(kept) || 0;
    const cgroups = this.options.cgroups;
    if (!(cgroups instanceof CgroupLimiter)) return 0;
    const kills = await cgroups.oomKills(runUuid, attempt);
    if (kills > 0) await writeFile(oomFile, String(kills));
    // Processes that left the run's process group die with it, as in a container; one that
    // outlives the kills keeps the cgroup until the clean-up.
    await cgroups.end(runUuid, attempt);
    return kills;
  }

  /** Stop the process spawner (the runs it started keep running). */
  close(): void {
    this.spawner.close();
  }

  /**
   * Directories, code snapshot and command script. The code is copied once per run, when it is
   * first prepared (queued): a retry, a launch by a restarted scheduler or one whose early
   * preparation was forgotten keeps that copy, so edits the author makes meanwhile never reach the run.
   */
  private async prepareWorkdir(execution: Pick<ExecutionEntity, 'runUuid' | 'cmd' | 'codeDir' | 'parentUuid' | 'codeOf'>, files: WorkdirFiles = IN_PLACE): Promise<void> {
    const p = this.paths(execution.runUuid);
    // A few directories and two small files under the runs directory: in place by default, on the
    // event loop (about 0.2 ms); through the thread pool they were six trips, and on a busy
    // platform each waits its turn of the event loop: the run's start waited ~5 ms for them.
    for (const dir of [p.code, p.meta, dirname(p.stdout)]) await files.mkdir(dir);
    await files.writeFile(p.script, scriptOf(execution));
    const codeDir = execution.codeDir;
    if (!codeDir || (await files.exists(p.snapshotDone))) return;
    // A pipeline's ops and a group's trials run their parent's code (the trials of a search that is
    // a pipeline's op, the pipeline's): one snapshot for all of them.
    const parent = codeOwner(execution);
    if (parent) {
      await this.copyParentCode(parent, codeDir, p.code, files.inPlace);
    } else {
      await this.snapshotCode(codeDir, p.code, files.inPlace);
    }
    await files.writeFile(p.snapshotDone, `${codeDir}\n`);
  }

  /**
   * Outputs: a fresh directory (new run, restart), the original's directory itself (resume: its
   * checkpoints are found where they were written) or a copy of it (copy).
   */
  private async prepareOutputs(execution: ExecutionEntity, outputs: string): Promise<void> {
    const resumeOf = execution.outputsOf;
    if (resumeOf) {
      await mkdir(this.paths(resumeOf).outputs, { recursive: true });
      return;
    }
    await mkdir(outputs, { recursive: true });
    if (execution.copyOutputsFrom) {
      const from = this.paths(execution.copyOutputsFrom).outputs;
      if (await stat(from).then((st) => st.isDirectory(), () => false)) await cp(from, outputs, { recursive: true });
    }
  }

  private async outputsPath(execution: ExecutionEntity): Promise<string> {
    return execution.outputsOf ? this.paths(execution.outputsOf).outputs : this.paths(execution.runUuid).outputs;
  }

  async purge(execution: ExecutionEntity): Promise<void> {
    await this.kill(execution);
    await rm(this.paths(execution.runUuid).workdir, { recursive: true, force: true });
    if (this.options.cgroups instanceof CgroupLimiter) await this.options.cgroups.removeAll(execution.runUuid);
  }

  async inspect(execution: ExecutionEntity): Promise<ProcessState> {
    // The pid, exit-code and /proc files are read in place (microseconds each): through the thread
    // pool each read waited a turn of the event loop, and while the API takes a flood of
    // submissions a turn lasts 20-100 ms, so recording a wave of ends took seconds (decision 0015).
    const p = this.paths(execution.runUuid);
    let pid = execution.pid;
    let startTime = execution.pidStartTime;
    if (!pid) {
      // Crashed between spawning and recording the pid: the wrapper wrote it.
      pid = Number(readSmallFile(p.pidFile) ?? '') || null;
      startTime = null;
    }
    if (pid && isSameProcessAlive(pid, startTime)) return { state: 'running' };
    // The wrapper is gone but members of its process group live on (children that ignored
    // SIGTERM, or daemons the job forked): the run is not over until the group is empty.
    if (pid && groupAlive(pid)) return { state: 'running' };
    const text = readSmallFile(p.exitFile)?.trim();
    // No exit file: the wrapper itself was killed (stop, OOM killer, reboot).
    if (text !== undefined) {
      const code = text === '' ? NaN : Number(text);
      if (Number.isInteger(code)) {
        const exited: ProcessState = code > 128 ? { state: 'exited', exitCode: code, signal: signalName(code - 128) } : { state: 'exited', exitCode: code };
        return (await this.settleCgroup(execution.runUuid, execution.attempt, p.oomFile)) ? { ...exited, ...OOM_KILLED } : exited;
      }
    }
    // No pid recorded and no pid file: whether a process was ever started is unknown (the scheduler
    // stopped between claiming the run and spawning it, or the files are not visible from here).
    if (!pid) return { state: 'unknown', message: 'no process id was recorded for the run and no process of it can be found' };
    // The wrapper killed with the job: by the memory limit, when the run's cgroup says so.
    if (await this.settleCgroup(execution.runUuid, execution.attempt, p.oomFile)) return { state: 'vanished', ...OOM_KILLED };
    return { state: 'vanished' };
  }

  /**
   * The code a parent's children run (`<runs>/<parent>/code`): the code directory as it was when the
   * parent's first child was prepared here, taken once. An author editing their code while a
   * pipeline or a search runs changes none of its later ops or trials (nor their cache keys). The
   * copy is made beside and renamed into place, so two schedulers on one host, or a crash mid-copy,
   * never leave a half snapshot; its marker's time says when a child last took it (see cleanWorkdir).
   */
  private parentSnapshot(parentUuid: string, codeDir: string): Promise<string> {
    let taking = this.parentSnapshots.get(parentUuid);
    if (!taking) {
      taking = this.takeParentSnapshot(parentUuid, codeDir);
      taking.catch(() => this.parentSnapshots.delete(parentUuid));
      if (this.parentSnapshots.size >= MAX_EARLY_PREPARATIONS) this.parentSnapshots.delete(this.parentSnapshots.keys().next().value as string);
      this.parentSnapshots.set(parentUuid, taking);
    }
    return taking.then(async (dir) => {
      const now = new Date();
      await utimes(this.paths(parentUuid).snapshotDone, now, now).catch(() => undefined);
      return dir;
    });
  }

  /** The parent's snapshot into a child's code directory; taken anew once if the TTL clean-up removed it meanwhile. */
  private async copyParentCode(parentUuid: string, codeDir: string, to: string, inPlace = true): Promise<void> {
    const copy = async (snapshot: string): Promise<void> => {
      // Most code is a few files: copied in one go (see SMALL_TREE), else through the thread pool
      // (also a small one, for a run prepared in the background).
      const small = inPlace ? copySmallTreeSync(snapshot, to, SMALL_TREE) : 'too-big';
      if (small === 'missing') throw Object.assign(new Error(`${snapshot} is gone`), { code: 'ENOENT' });
      if (small === 'too-big') await cp(snapshot, to, { recursive: true });
    };
    try {
      await copy(await this.parentSnapshot(parentUuid, codeDir));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      this.parentSnapshots.delete(parentUuid);
      await rm(to, { recursive: true, force: true });
      await mkdir(to, { recursive: true });
      await copy(await this.parentSnapshot(parentUuid, codeDir));
    }
  }

  private async takeParentSnapshot(parentUuid: string, codeDir: string): Promise<string> {
    // The parent's directory has the layout of a run's: its snapshot in code/, the marker in .myelin/.
    const p = this.paths(parentUuid);
    const exists = (path: string) => access(path).then(() => true, () => false);
    if ((await exists(p.snapshotDone)) && (await exists(p.code))) return p.code;
    await mkdir(p.meta, { recursive: true });
    const partial = `${p.code}.${process.pid}-${randomUUID().slice(0, 8)}.partial`;
    try {
      await mkdir(partial, { recursive: true });
      await this.snapshotCode(codeDir, partial);
      await rename(partial, p.code).catch((error: NodeJS.ErrnoException) => {
        // Another scheduler on this host took it first: theirs is the parent's code.
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      });
      await writeFile(p.snapshotDone, `${codeDir}\n`);
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
    return p.code;
  }

  /**
   * After the TTL: the code snapshot, the log files (already shipped to tracking) and the wrapper's
   * bookkeeping go; `outputs/` stays (the user's artifacts, and what resume/copy runs read). A
   * child's parent snapshot goes with it when no other child took it since this one ended (more than
   * the TTL ago): a child prepared later takes a new one from the code directory.
   */
  async cleanWorkdir(execution: Pick<ExecutionEntity, 'runUuid' | 'workdir'> & Partial<Pick<ExecutionEntity, 'parentUuid' | 'codeOf' | 'finishedAt'>>): Promise<void> {
    const p = this.paths(execution.runUuid);
    for (const dir of [p.code, p.meta, join(p.workdir, 'logs')]) await rm(dir, { recursive: true, force: true });
    const owner = codeOwner(execution);
    if (owner && execution.finishedAt) {
      const parent = this.paths(owner);
      const takenAt = await stat(parent.snapshotDone).then((st) => st.mtimeMs, () => null);
      if (takenAt !== null && takenAt <= execution.finishedAt.getTime()) {
        this.parentSnapshots.delete(owner);
        // Moved aside first: a child copying it right now fails whole (and takes the code anew), never half.
        const removing = `${parent.code}.${randomUUID().slice(0, 8)}.removing`;
        const moved = await rename(parent.code, removing).then(() => true, () => false);
        await rm(parent.snapshotDone, { force: true });
        if (moved) await rm(removing, { recursive: true, force: true });
      }
    }
    // A run that ended without its end being read here (failed as a zombie, or settled by a
    // scheduler without cgroups) may have left its cgroup behind, empty by now.
    if (this.options.cgroups instanceof CgroupLimiter) await this.options.cgroups.removeAll(execution.runUuid);
  }

  async terminate(execution: ExecutionEntity): Promise<void> {
    signalGroup(await this.resolvePid(execution), 'SIGTERM');
    await this.signalCgroup(execution, 'SIGTERM');
  }

  async kill(execution: ExecutionEntity): Promise<void> {
    signalGroup(await this.resolvePid(execution), 'SIGKILL');
    await this.signalCgroup(execution, 'SIGKILL');
  }

  /**
   * A stop reaches every process of a run with limits, also those that left its process group
   * (they are still in its cgroup). Runs without limits have no cgroup: nothing to read.
   */
  private async signalCgroup(execution: ExecutionEntity, signal: NodeJS.Signals): Promise<void> {
    const cgroups = this.options.cgroups;
    // Unknown here (adopted after a restart): the run may have one; a missing cgroup costs one failed read.
    if (!(cgroups instanceof CgroupLimiter) || this.inCgroup.get(execution.runUuid) === false) return;
    await cgroups.signal(execution.runUuid, execution.attempt, signal);
  }

  private async resolvePid(execution: ExecutionEntity): Promise<number | null> {
    if (execution.pid) return execution.pid;
    return Number(readSmallFile(this.paths(execution.runUuid).pidFile) ?? '') || null;
  }

  logFiles(execution: ExecutionEntity): { stdout: string; stderr: string } {
    const p = this.paths(execution.runUuid);
    return { stdout: p.stdout, stderr: p.stderr };
  }

  onExit(listener: (runUuid: string) => void): void {
    this.exits.on('exit', listener);
  }

  /**
   * Copy the code directory into the run, skipping VCS/dependency folders, Myelin's own runs
   * directory (which may live inside it) and oversized files; refuse a directory too big to be code.
   */
  private async snapshotCode(from: string, to: string, inPlace = true): Promise<void> {
    const runsDir = resolve(this.options.runsDir);
    let files = 0;
    let bytes = 0;
    const skip = (path: string, name: string): boolean => CODE_TREE_SKIPPED.has(name) || path === runsDir || runsDir.startsWith(path + sep);
    // The entries of a directory are copied 32 at a time: a small code directory (the common case,
    // often one polyaxonfile) is copied in three trips through the thread pool, not five per file.
    const walk = async (src: string, dest: string, entries: Dirent[]): Promise<void> => {
      for (let i = 0; i < entries.length; i += 32) {
        await Promise.all(
          entries.slice(i, i + 32).map(async (entry) => {
            const s = join(src, entry.name);
            if (skip(s, entry.name)) return;
            if (entry.isDirectory()) {
              const d = join(dest, entry.name);
              const [children] = await Promise.all([readdir(s, { withFileTypes: true }), mkdir(d, { recursive: true })]);
              await walk(s, d, children);
            } else if (entry.isFile()) {
              const size = (await stat(s)).size;
              if (size > CODE_TREE_MAX_FILE_BYTES) return;
              files += 1;
              bytes += size;
              if (files > CODE_TREE_MAX_FILES || bytes > CODE_TREE_MAX_BYTES) {
                throw new CodeSnapshotError(
                  `the code directory ${from} holds more than ${CODE_TREE_MAX_FILES} files or ${CODE_TREE_MAX_BYTES / 1024 / 1024} MiB; run from your project's directory`,
                );
              }
              await copyFile(s, join(dest, entry.name));
            }
          }),
        );
      }
    };
    // Most code is a few files: copied in one go (see SMALL_TREE), else walked through the thread pool.
    if (inPlace) {
      const small = copySmallTreeSync(resolve(from), to, { ...SMALL_TREE, skip });
      // Not a directory on this host (remote submission): the run starts with an empty code directory.
      if (small !== 'too-big') return;
    }
    const entries = await readdir(resolve(from), { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
      throw error;
    });
    if (entries) await walk(resolve(from), to, entries);
  }
}

/** The run whose code snapshot a run copies: the one its start command named, else its parent; none for a run of its own. */
function codeOwner(execution: Partial<Pick<ExecutionEntity, 'parentUuid' | 'codeOf'>>): string | null {
  return execution.codeOf ?? execution.parentUuid ?? null;
}

function signalGroup(pid: number | null, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Does any live process remain in the group? On Linux, zombies do not count: in a container whose
 * PID 1 does not reap orphans they would otherwise keep a finished run "running" forever.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // kill(0) also reaches zombies, and the usual member it finds is the wrapper itself, ended and
  // not yet reaped by its parent: a member counts only if it is not one. The scan reads /proc in
  // place (about 10 us a process; it runs only when kill says the group has members). Through the
  // thread pool it took one turn of the event loop per process, and while the API took a flood of
  // submissions that was seconds, during which the whole supervision pass waited (decision 0015).
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true; // no /proc: trust kill(0)
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = parseStat(readSmallFile(`/proc/${entry}/stat`) ?? '');
    if (stat?.pgid === pgid && stat.state !== 'Z') return true;
  }
  return false;
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks); null where /proc does not exist. */
export function processStartTime(pid: number): string | null {
  return parseStat(readSmallFile(`/proc/${pid}/stat`) ?? '')?.startTime ?? null;
}

function isSameProcessAlive(pid: number, startTime: string | null): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = parseStat(readSmallFile(`/proc/${pid}/stat`) ?? '');
  if (!stat) return true; // no /proc here: trust kill(0)
  // A zombie (exited, not yet reaped by its parent) is not running, nor, when its start time is
  // known, another process that got the pid since (reused).
  return stat.state !== 'Z' && (startTime === null || stat.startTime === startTime);
}

/**
 * A small file's text read in place, or undefined when it cannot be read (missing). For the files
 * of a run's `.myelin` directory and /proc, on the hot paths of supervision and launch.
 */
function readSmallFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function signalName(n: number): string {
  const names: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 15: 'SIGTERM' };
  return names[n] ?? `signal ${n}`;
}
