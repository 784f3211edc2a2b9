import { readdir, readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';

/** Metric names of the samples (a `sys/` prefix keeps them apart from the job's own metrics). */
export const CPU_METRIC = 'sys/cpu_percent';
export const MEMORY_METRIC = 'sys/memory_mb';

/** What one process group uses at one moment, summed over its live processes. */
export interface GroupUsage {
  /** Live processes in the group (zombies not counted). */
  processes: number;
  /**
   * CPU time in clock ticks: user + system of every member, plus the time of the children they
   * reaped (so work done by short-lived subprocesses is not lost between two samples).
   */
  cpuTicks: number;
  /** Resident memory in bytes (pages shared between members are counted in each, as `ps` does). */
  rssBytes: number;
  /** Start time (field 22 of /proc/<pid>/stat) of the group leader, when it still runs. */
  leaderStartTime: string | null;
  /** When the members' stat files were read (ms since the epoch): the moment the figures hold for. */
  at: number;
}

/** The host's clock ticks per second and page size, from the auxiliary vector the kernel gave this process. */
export interface ProcConstants {
  clockTicks: number;
  pageSize: number;
}

let constants: ProcConstants | undefined;
const READS_AT_ONCE = 16;

/** AT_CLKTCK and AT_PAGESZ from /proc/self/auxv (no process spawned); 100 and 4096 where it cannot be read. */
export function procConstants(): ProcConstants {
  if (constants) return constants;
  constants = { clockTicks: 100, pageSize: 4096 };
  try {
    const auxv = readFileSync('/proc/self/auxv');
    const le = endianness() === 'LE';
    for (let i = 0; i + 16 <= auxv.length; i += 16) {
      const type = Number(le ? auxv.readBigUInt64LE(i) : auxv.readBigUInt64BE(i));
      const value = Number(le ? auxv.readBigUInt64LE(i + 8) : auxv.readBigUInt64BE(i + 8));
      if (type === 6 && value > 0) constants.pageSize = value; // AT_PAGESZ
      if (type === 17 && value > 0) constants.clockTicks = value; // AT_CLKTCK
    }
  } catch {
    // no /proc (not Linux) or a 32-bit layout: the defaults of every common Linux
  }
  return constants;
}

/**
 * The usage of each of the given process groups, each stamped with when it was read. Never
 * throws: without /proc the result is empty; a process that ends while it is read is skipped.
 *
 * Two steps, because the stamp must match the ticks. Finding a group's members takes one `stat`
 * read per process on the host, and under load that scan takes long (hundreds of ms); stamped at
 * its end, a sample's window no longer matched the ticks it held, and the CPU figure was off by
 * tens of points. So the scan only finds the members, and each group's members are then read
 * again together, the group stamped between the clock readings around those few reads.
 */
export async function readProcessGroups(
  pgids: ReadonlySet<number>,
  procDir = '/proc',
  clock: () => number = Date.now,
): Promise<Map<number, GroupUsage>> {
  const usage = new Map<number, GroupUsage>();
  if (!pgids.size) return usage;
  const members = await findGroupMembers(pgids, procDir);
  const { pageSize } = procConstants();
  // One group at a time, READS_AT_ONCE of its members at a time (a run may have hundreds of
  // processes): the thread pool stays free for the scheduler's own work.
  for (const [pgid, pids] of members) {
    const before = clock();
    const stats: string[] = [];
    for (let i = 0; i < pids.length; i += READS_AT_ONCE) {
      const chunk = pids.slice(i, i + READS_AT_ONCE);
      stats.push(...(await Promise.all(chunk.map((pid) => readFile(`${procDir}/${pid}/stat`, 'utf8').catch(() => '')))));
    }
    const group: GroupUsage = { processes: 0, cpuTicks: 0, rssBytes: 0, leaderStartTime: null, at: Math.round((before + clock()) / 2) };
    stats.forEach((stat, k) => {
      const parsed = parseStat(stat);
      if (!parsed || parsed.pgid !== pgid) return; // gone meanwhile, or its pid reused by another group
      group.cpuTicks += parsed.cpuTicks;
      if (pids[k] === pgid) group.leaderStartTime = parsed.startTime;
      if (parsed.state === 'Z') return;
      group.processes += 1;
      group.rssBytes += parsed.rssPages * pageSize;
    });
    usage.set(pgid, group);
  }
  return usage;
}

/** One pass over /proc: the pids of the members of each given process group (one `stat` read per process on the host). */
async function findGroupMembers(pgids: ReadonlySet<number>, procDir: string): Promise<Map<number, number[]>> {
  const members = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = await readdir(procDir);
  } catch {
    return members;
  }
  const pids = entries.filter((e) => /^\d+$/.test(e));
  // A few reads at a time: the file system thread pool stays free for the scheduler's own work.
  for (let i = 0; i < pids.length; i += READS_AT_ONCE) {
    await Promise.all(
      pids.slice(i, i + READS_AT_ONCE).map(async (entry) => {
        const parsed = parseStat(await readFile(`${procDir}/${entry}/stat`, 'utf8').catch(() => ''));
        if (!parsed || !pgids.has(parsed.pgid)) return;
        const list = members.get(parsed.pgid) ?? [];
        list.push(Number(entry));
        members.set(parsed.pgid, list);
      }),
    );
  }
  return members;
}

/** The fields of /proc/<pid>/stat a sample needs; null for an empty or malformed line. */
export function parseStat(
  line: string,
): { state: string; pgid: number; cpuTicks: number; rssPages: number; startTime: string } | null {
  const close = line.lastIndexOf(')'); // the command name may hold spaces and parentheses
  if (close < 0) return null;
  // Fields from 3 (state) on: index = field number - 3.
  const f = line.slice(close + 2).split(' ');
  if (f.length < 22) return null;
  const n = (i: number) => Number(f[i]);
  const pgid = n(2);
  const cpuTicks = n(11) + n(12) + n(13) + n(14); // utime, stime, cutime, cstime
  const rssPages = n(21);
  if (!Number.isInteger(pgid) || !Number.isFinite(cpuTicks) || !Number.isFinite(rssPages)) return null;
  return { state: f[0], pgid, cpuTicks, rssPages: Math.max(0, rssPages), startTime: f[19] };
}

/** A live run as the sampler sees it: its process group is its wrapper's pid (the executor starts it detached). */
export interface SampledRun {
  runUuid: string;
  pid: number | null;
  pidStartTime: string | null;
}

export interface RunSample {
  runUuid: string;
  at: Date;
  processes: number;
  memoryMb: number;
  /** Percent of one core over the time since the previous sample (200 = two cores busy); null on a run's first sample. */
  cpuPercent: number | null;
}

/**
 * Samples the process groups of live runs and turns CPU ticks into a percentage between two
 * samples. Keeps only the previous sample of each run it was last given.
 */
export class ProcessSampler {
  private previous = new Map<string, { ticks: number; at: number }>();

  constructor(private readonly procDir = '/proc') {}

  async sample(runs: readonly SampledRun[], now: () => Date = () => new Date()): Promise<RunSample[]> {
    const withPid = runs.filter((r): r is SampledRun & { pid: number } => r.pid !== null && r.pid > 0);
    const groups = await readProcessGroups(new Set(withPid.map((r) => r.pid)), this.procDir, () => now().getTime());
    const { clockTicks } = procConstants();
    const samples: RunSample[] = [];
    const next = new Map<string, { ticks: number; at: number }>();
    for (const run of withPid) {
      const group = groups.get(run.pid);
      if (!group || group.processes === 0) continue; // ended (or not started yet): nothing to say
      // The leader still runs but is another process than the run's (a reused pid): not ours.
      if (
        group.leaderStartTime !== null &&
        run.pidStartTime !== null &&
        group.leaderStartTime !== run.pidStartTime
      )
        continue;
      const at = new Date(group.at);
      const before = this.previous.get(run.runUuid);
      const seconds = before ? (group.at - before.at) / 1000 : 0;
      // Children reaped by a process outside the group take their time with them: never below zero.
      const cpuPercent =
        before && seconds > 0
          ? round((Math.max(0, group.cpuTicks - before.ticks) / clockTicks / seconds) * 100)
          : null;
      next.set(run.runUuid, { ticks: group.cpuTicks, at: group.at });
      samples.push({
        runUuid: run.runUuid,
        at,
        processes: group.processes,
        memoryMb: round(group.rssBytes / (1024 * 1024)),
        cpuPercent,
      });
    }
    this.previous = next;
    return samples;
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** The metric points of a sample (memory always; CPU from the second sample of a run on). */
export function samplePoints(
  sample: RunSample,
  step: number,
): Array<{ name: string; value: number; step: number; at: string }> {
  const at = sample.at.toISOString();
  const points = [{ name: MEMORY_METRIC, value: sample.memoryMb, step, at }];
  if (sample.cpuPercent !== null) points.unshift({ name: CPU_METRIC, value: sample.cpuPercent, step, at });
  return points;
}
