import { execFile } from 'node:child_process';
import { access, mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';

/**
 * CPU and memory limits of local runs, enforced with Linux control groups where the host lets
 * this process make them (root, or a delegated cgroup). `environment.resources` limits keep their
 * Kubernetes meaning: `requests` is what admission counts, `limits` is the cap; a run without
 * limits gets no cgroup at all. Decision 0013.
 */

/** The caps a run asks for: cores and MB, null when it sets none. */
export interface RunLimits {
  cpu: number | null;
  memoryMb: number | null;
}

/** `environment.resources.cpu.limits` and `.memory.limits` of a run's spec (the raw polyaxonfile kept with it). */
export function runLimits(spec: unknown): RunLimits {
  const resources = (spec as { raw?: { environment?: { resources?: Record<string, { limits?: unknown } | undefined> } } } | null)?.raw?.environment
    ?.resources;
  const limit = (key: string): number | null => {
    const v = resources?.[key]?.limits;
    return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null;
  };
  return { cpu: limit('cpu'), memoryMb: limit('memory') };
}

/** Where run cgroups are made: one parent on the unified hierarchy, or one per controller on v1. */
export type CgroupLayout = { version: 2; parent: string } | { version: 1; memory: string; cpu: string };

/** CFS period for cpu quotas (the kernel's default). */
const CPU_PERIOD_US = 100_000;

interface Mount {
  dir: string;
  type: string;
  options: string[];
}

/** cgroup and cgroup2 mounts from /proc/self/mountinfo (octal escapes in paths decoded). */
export function parseCgroupMounts(mountinfo: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const dir = (left.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const [type, , superOptions] = right.split(' ');
    if (type !== 'cgroup' && type !== 'cgroup2') continue;
    mounts.push({ dir, type, options: (superOptions ?? '').split(',') });
  }
  return mounts;
}

const writable = (path: string) =>
  access(path, constants.W_OK).then(
    () => true,
    () => false,
  );

/**
 * Find (and make) the parent cgroup of runs. `setting`: `off`; `auto` (the cgroup2 mount with
 * the memory and cpu controllers, else the v1 memory and cpu hierarchies, each with a `myelin`
 * child); or the absolute path of a delegated cgroup2 directory this process may make children in.
 * Answers why not when it cannot (not Linux, no such controllers, not permitted).
 */
export async function detectCgroups(
  setting: string,
  mountinfoPath = '/proc/self/mountinfo',
  ownCgroupPath = '/proc/self/cgroup',
): Promise<{ layout: CgroupLayout } | { unavailable: string }> {
  if (setting === 'off') return { unavailable: 'MYELIN_CGROUP_PARENT=off' };
  let mounts: Mount[];
  try {
    mounts = parseCgroupMounts(await readFile(mountinfoPath, 'utf8'));
  } catch {
    return { unavailable: 'no /proc/self/mountinfo (not Linux)' };
  }
  try {
    if (setting !== 'auto') {
      const controllers = (await readFile(join(setting, 'cgroup.controllers'), 'utf8')).split(/\s+/);
      if (!controllers.includes('memory') || !controllers.includes('cpu')) return { unavailable: `${setting} has no memory and cpu controllers` };
      await writeFile(join(setting, 'cgroup.subtree_control'), '+memory +cpu');
      return (await probe([setting])) ?? { layout: { version: 2, parent: setting } };
    }
    const unified = mounts.find((m) => m.type === 'cgroup2');
    let unifiedReadOnly: string | null = null;
    if (unified) {
      const controllers = (await readFile(join(unified.dir, 'cgroup.controllers'), 'utf8').catch(() => '')).split(/\s+/);
      const usable = controllers.includes('memory') && controllers.includes('cpu');
      if (usable && !(await writable(join(unified.dir, 'cgroup.subtree_control')))) unifiedReadOnly = unified.dir;
      if (usable && !unifiedReadOnly) {
        const parent = join(unified.dir, 'myelin');
        await writeFile(join(unified.dir, 'cgroup.subtree_control'), '+memory +cpu');
        await mkdir(parent, { recursive: true });
        await writeFile(join(parent, 'cgroup.subtree_control'), '+memory +cpu');
        return (await probe([parent])) ?? { layout: { version: 2, parent } };
      }
    }
    const memory = mounts.find((m) => m.type === 'cgroup' && m.options.includes('memory'));
    const cpu = mounts.find((m) => m.type === 'cgroup' && m.options.includes('cpu'));
    if (unifiedReadOnly) return { unavailable: `${unifiedReadOnly} is not writable by this process (run the scheduler as root, or set MYELIN_CGROUP_PARENT to a delegated cgroup)` };
    if (!memory || !cpu) return { unavailable: 'no cgroup hierarchy with the memory and cpu controllers' };
    if (!(await writable(memory.dir)) || !(await writable(cpu.dir))) return { unavailable: `${memory.dir} and ${cpu.dir} are not writable by this process` };
    // Under the scheduler's own cgroup of each hierarchy (v1 allows children beside processes): a run
    // stays inside whatever caps and accounting the scheduler's service or container has.
    const own = ownCgroups(await readFile(ownCgroupPath, 'utf8').catch(() => ''));
    const under = (mount: Mount) => join(mount.dir, own.get(mount.options.find((o) => o === 'memory' || o === 'cpu') ?? '') ?? '/', 'myelin');
    const layout: CgroupLayout = { version: 1, memory: under(memory), cpu: under(cpu) };
    await mkdir(layout.memory, { recursive: true });
    await mkdir(layout.cpu, { recursive: true });
    return (await probe([layout.memory, layout.cpu])) ?? { layout };
  } catch (error) {
    return { unavailable: `cannot make cgroups: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** The v1 controller -> cgroup path of this process, from /proc/self/cgroup (`4:memory:/a/b`; `1:cpu,cpuacct:/`). */
export function ownCgroups(text: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [, controllers, path] = line.split(':');
    if (!controllers || path === undefined) continue;
    for (const controller of controllers.split(',')) paths.set(controller, path);
  }
  return paths;
}

/**
 * A child made under each parent, a short-lived process moved into it the way a run's wrapper
 * joins its cgroup (the kernel also checks the move, not only the directory), and the child
 * removed: null when all that works, else why not.
 */
async function probe(parents: string[]): Promise<{ unavailable: string } | null> {
  const children = parents.map((parent) => join(parent, `probe-${process.pid}`));
  try {
    for (const child of children) await mkdir(child, { recursive: true });
    const joinAll = children.map((child) => `printf "%s" "$$" > "${join(child, 'cgroup.procs')}"`).join(' && ');
    await new Promise<void>((resolve, reject) =>
      execFile('/bin/sh', ['-c', joinAll], (error, _stdout, stderr) => (error ? reject(new Error(stderr.trim() || error.message)) : resolve())),
    );
    return null;
  } catch (error) {
    return { unavailable: `cannot move a process into a cgroup under ${parents.join(' and ')}: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    // Empty again once the probe process is gone (the kernel may take a moment to let go of it).
    for (const child of children) {
      for (let tries = 0; tries < 20; tries++) {
        const removed = await rmdir(child).then(
          () => true,
          (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
        );
        if (removed) break;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }
}

/** "cpu limited to 1.5 cores, memory to 512 MB" (what a run's history says). */
export function describeLimits(limits: RunLimits): string {
  const parts = [];
  if (limits.cpu !== null) parts.push(`cpu limited to ${limits.cpu} core${limits.cpu === 1 ? '' : 's'}`);
  if (limits.memoryMb !== null) parts.push(`${parts.length ? 'memory to' : 'memory limited to'} ${limits.memoryMb} MB`);
  return parts.join(', ');
}

/** Makes, reads and removes the cgroups of runs under a layout from `detectCgroups`. */
export class CgroupLimiter {
  constructor(readonly layout: CgroupLayout) {}

  /**
   * An attempt's cgroup directories (one per hierarchy). One per attempt: the kernel's OOM count of
   * a cgroup only grows, so a retry must not inherit the count of an attempt killed before it.
   */
  dirs(runUuid: string, attempt: number): string[] {
    const name = `run-${runUuid}-${attempt}`;
    return this.layout.version === 2 ? [join(this.layout.parent, name)] : [join(this.layout.memory, name), join(this.layout.cpu, name)];
  }

  /**
   * Make the run's cgroup with its limits (again, for a retry: an existing one is reused) and
   * answer the `cgroup.procs` files the job's wrapper writes its pid to, so the job and every
   * process it starts are inside before the job's first line.
   */
  async create(runUuid: string, attempt: number, limits: RunLimits): Promise<string[]> {
    const dirs = this.dirs(runUuid, attempt);
    for (const dir of dirs) await mkdir(dir, { recursive: true });
    const memoryBytes = limits.memoryMb === null ? null : String(Math.floor(limits.memoryMb * 1024 * 1024));
    const quota = limits.cpu === null ? null : Math.max(1000, Math.round(limits.cpu * CPU_PERIOD_US));
    if (this.layout.version === 2) {
      const [dir] = dirs;
      await writeFile(join(dir, 'memory.max'), memoryBytes ?? 'max');
      // Swap would let the run go past its limit slowly instead of failing (Kubernetes runs without it).
      if (memoryBytes !== null) await writeFile(join(dir, 'memory.swap.max'), '0').catch(() => undefined);
      await writeFile(join(dir, 'cpu.max'), `${quota ?? 'max'} ${CPU_PERIOD_US}`);
    } else {
      const [memoryDir, cpuDir] = dirs;
      // memsw (memory + swap) must stay >= the memory limit, so it is lifted first and set last.
      await writeFile(join(memoryDir, 'memory.memsw.limit_in_bytes'), '-1').catch(() => undefined);
      await writeFile(join(memoryDir, 'memory.limit_in_bytes'), memoryBytes ?? '-1');
      if (memoryBytes !== null) await writeFile(join(memoryDir, 'memory.memsw.limit_in_bytes'), memoryBytes).catch(() => undefined);
      await writeFile(join(cpuDir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
      await writeFile(join(cpuDir, 'cpu.cfs_quota_us'), String(quota ?? -1));
    }
    return dirs.map((dir) => join(dir, 'cgroup.procs'));
  }

  /** How many times the kernel killed a process of the run for memory (its cgroup's OOM killer); 0 when unknown. */
  async oomKills(runUuid: string, attempt: number): Promise<number> {
    const [dir] = this.dirs(runUuid, attempt); // the memory controller's directory in both layouts
    const file = this.layout.version === 2 ? 'memory.events' : 'memory.oom_control';
    const text = await readFile(join(dir, file), 'utf8').catch(() => '');
    const match = /^oom_kill (\d+)$/m.exec(text);
    return match ? Number(match[1]) : 0;
  }

  /**
   * Send `signal` to every process in an attempt's cgroup, wherever it is in the process tree: one
   * that left the run's process group (setsid, a daemon the job started) is still inside. Answers
   * how many processes were signalled (0: none left, or no cgroup).
   */
  async signal(runUuid: string, attempt: number, signal: NodeJS.Signals): Promise<number> {
    // The wrapper joins every hierarchy, so the first one (memory on v1) lists them all.
    const [dir] = this.dirs(runUuid, attempt);
    const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    let signalled = 0;
    for (const pid of text.split('\n').filter(Boolean).map(Number)) {
      try {
        process.kill(pid, signal);
        signalled += 1;
      } catch {
        // gone meanwhile
      }
    }
    return signalled;
  }

  /**
   * An attempt ends as a container does: what is still running in its cgroup (processes that left
   * the run's process group, which supervision does not see) is killed, then the cgroup is
   * removed. False when a process outlived the kills (the clean-up tries again).
   */
  async end(runUuid: string, attempt: number): Promise<boolean> {
    for (let round = 0; round < 10; round++) {
      if ((await this.signal(runUuid, attempt, 'SIGKILL')) === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20)); // the kernel takes them out as they die
    }
    return this.remove(runUuid, attempt);
  }

  /** Remove an attempt's cgroup; false while a process is still in it (the kernel refuses). */
  async remove(runUuid: string, attempt: number): Promise<boolean> {
    return this.removeDirs(this.dirs(runUuid, attempt));
  }

  /** Remove the cgroups of every attempt of a run (clean-up after its end); false when one is still busy. */
  async removeAll(runUuid: string): Promise<boolean> {
    const parents = this.layout.version === 2 ? [this.layout.parent] : [this.layout.memory, this.layout.cpu];
    const dirs: string[] = [];
    for (const parent of parents) {
      const names = await readdir(parent).catch(() => [] as string[]);
      for (const name of names) if (name.startsWith(`run-${runUuid}-`)) dirs.push(join(parent, name));
    }
    return this.removeDirs(dirs);
  }

  private async removeDirs(dirs: string[]): Promise<boolean> {
    let removed = true;
    for (const dir of dirs) {
      try {
        await rmdir(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') removed = false;
      }
    }
    return removed;
  }
}
