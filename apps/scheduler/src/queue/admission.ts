import { devicesNeeded } from './gpu-devices';

/**
 * Admission: which waiting runs may start now, which wait and why, which can never start.
 * Pure: no framework, no database. The scheduler feeds it the waiting runs in queue order and the
 * runs holding resources, and applies the verdicts.
 */

/** What one run holds while it runs: cpu in cores, memory in MB, gpu as a count. */
export interface Demand {
  cpu: number;
  memoryMb: number;
  gpu: number;
}

export interface AdmissionRun {
  runUuid: string;
  /** `owner/project`. */
  project: string;
  number: number;
  /** Username of the submitter (null when the start command did not say). */
  user: string | null;
  /** Teams of the submitter, as `org/team`. */
  teams: string[];
  /** The group or pipeline the run belongs to. */
  parentUuid: string | null;
  parentKind: 'group' | 'pipeline' | null;
  /** How many children of the parent may run at once (`hptuning.concurrency`, a pipeline's `concurrency`). */
  parentConcurrency: number | null;
  demand: Demand;
}

export interface WaitingRun extends AdmissionRun {
  priority: number;
  /** Queue time (ms since the epoch): FIFO within a priority. */
  queuedAt: number;
}

export const QUOTA_SCOPES = ['user', 'team', 'project'] as const;
export type QuotaScope = (typeof QUOTA_SCOPES)[number];

/** A ceiling on what the runs of one user, team or project hold at once; null = no ceiling. */
export interface Quota {
  scope: QuotaScope;
  /** Username, `org/team`, or `owner/project`. */
  name: string;
  maxRuns: number | null;
  cpu: number | null;
  memoryMb: number | null;
  gpu: number | null;
}

export interface Limits {
  /** Runs at once on the platform (MYELIN_MAX_PARALLEL). */
  maxParallel: number;
  /** Runs at once per project (MYELIN_MAX_PARALLEL_PER_PROJECT); null = none. */
  perProject: number | null;
  quotas: Quota[];
  /**
   * GPU devices of this host (local executor, MYELIN_GPU_DEVICES): how many there are and how many
   * no live run holds. Null or absent: devices are not counted here (Kubernetes counts its own).
   */
  gpuDevices?: { total: number; free: number } | null;
}

export type WaitReason = 'GlobalLimit' | 'ProjectLimit' | 'GroupLimit' | 'PipelineLimit' | 'Quota' | 'BehindInQuota' | 'GpuDevices';

export type Verdict =
  | { runUuid: string; decision: 'start' }
  | { runUuid: string; decision: 'wait'; reason: WaitReason; message: string }
  | { runUuid: string; decision: 'never'; reason: 'Unschedulable'; message: string };

/** Highest priority first, FIFO within a priority (ties broken by uuid so the order is total). */
export function queueOrder(a: WaitingRun, b: WaitingRun): number {
  return b.priority - a.priority || a.queuedAt - b.queuedAt || (a.runUuid < b.runUuid ? -1 : a.runUuid > b.runUuid ? 1 : 0);
}

const RESOURCES = [
  { key: 'cpu', unit: 'CPU', fmt: (n: number) => `${round(n)}` },
  { key: 'memoryMb', unit: 'MB of memory', fmt: (n: number) => `${round(n)}` },
  { key: 'gpu', unit: 'GPU', fmt: (n: number) => `${round(n)}` },
] as const;

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function quotaKey(q: { scope: QuotaScope; name: string }): string {
  return `${q.scope}:${q.name}`;
}

function describeQuota(q: Quota): string {
  return `${q.scope} ${q.name}`;
}

interface Usage {
  runs: number;
  cpu: number;
  memoryMb: number;
  gpu: number;
}

const empty = (): Usage => ({ runs: 0, cpu: 0, memoryMb: 0, gpu: 0 });

/** The quotas that apply to a run: its submitter's, each of its teams', its project's. */
export function quotasFor(run: AdmissionRun, quotas: Quota[]): Quota[] {
  return quotas.filter(
    (q) =>
      (q.scope === 'user' && run.user !== null && q.name === run.user) ||
      (q.scope === 'team' && run.teams.includes(q.name)) ||
      (q.scope === 'project' && q.name === run.project),
  );
}

/** Why a run can never start under these quotas (it asks more than a ceiling), or null. */
export function neverFits(run: AdmissionRun, quotas: Quota[]): string | null {
  for (const q of quotasFor(run, quotas)) {
    if (q.maxRuns === 0) return `the quota of ${describeQuota(q)} allows no runs`;
    for (const r of RESOURCES) {
      const ceiling = q[r.key];
      const asked = run.demand[r.key];
      if (ceiling !== null && asked > ceiling) {
        return `asks ${r.fmt(asked)} ${r.unit} where the quota of ${describeQuota(q)} allows ${r.fmt(ceiling)}`;
      }
    }
  }
  return null;
}

/** Why a run can never start on this host (it asks more GPUs than the host has), or null. */
export function neverFitsDevices(run: AdmissionRun, gpuDevices: Limits['gpuDevices']): string | null {
  if (!gpuDevices) return null;
  const need = devicesNeeded(run.demand.gpu);
  if (need <= gpuDevices.total) return null;
  const has = gpuDevices.total === 0 ? 'none (MYELIN_GPU_DEVICES is empty)' : `${gpuDevices.total} (MYELIN_GPU_DEVICES)`;
  return `asks ${need} GPU where this host has ${has}`;
}

/**
 * Decide for every waiting run, in queue order (sort with `queueOrder` first). A run that waits
 * does not hold back runs of other projects or quotas (they may start around it), but within a
 * resource quota the queue is strict: a later run never takes the CPU, memory or GPU an earlier
 * waiting run of the same quota needs, so large runs are not starved by small ones.
 */
export function decideAdmission(waiting: WaitingRun[], running: AdmissionRun[], limits: Limits): Verdict[] {
  let total = 0;
  const perProject = new Map<string, number>();
  const perParent = new Map<string, number>();
  const perQuota = new Map<string, Usage>();
  const hold = (run: AdmissionRun) => {
    total += 1;
    perProject.set(run.project, (perProject.get(run.project) ?? 0) + 1);
    if (run.parentUuid) perParent.set(run.parentUuid, (perParent.get(run.parentUuid) ?? 0) + 1);
    for (const q of quotasFor(run, limits.quotas)) {
      const u = perQuota.get(quotaKey(q)) ?? empty();
      u.runs += 1;
      u.cpu += run.demand.cpu;
      u.memoryMb += run.demand.memoryMb;
      u.gpu += run.demand.gpu;
      perQuota.set(quotaKey(q), u);
    }
  };
  for (const run of running) hold(run);
  /** Quotas an earlier waiting run is queued on: later runs of that quota wait behind it. */
  const blocked = new Map<string, number>();
  /** GPU devices free now (live runs' devices already taken out), and the first run waiting for some. */
  let freeDevices = limits.gpuDevices?.free ?? 0;
  let waitingForDevices: number | null = null;

  const verdicts: Verdict[] = [];
  for (const run of waiting) {
    const never = neverFits(run, limits.quotas) ?? neverFitsDevices(run, limits.gpuDevices);
    if (never) {
      verdicts.push({ runUuid: run.runUuid, decision: 'never', reason: 'Unschedulable', message: never });
      continue;
    }
    const wait = (reason: WaitReason, message: string) =>
      verdicts.push({ runUuid: run.runUuid, decision: 'wait', reason, message: `waiting: ${message}` });
    if (total >= limits.maxParallel) {
      wait('GlobalLimit', `${total} of ${limits.maxParallel} runs running (global limit)`);
      continue;
    }
    const inProject = perProject.get(run.project) ?? 0;
    if (limits.perProject !== null && inProject >= limits.perProject) {
      wait('ProjectLimit', `project ${run.project} has ${inProject} of ${limits.perProject} runs running (project limit)`);
      continue;
    }
    if (run.parentUuid && run.parentConcurrency !== null) {
      const siblings = perParent.get(run.parentUuid) ?? 0;
      if (siblings >= run.parentConcurrency) {
        if (run.parentKind === 'pipeline') {
          wait('PipelineLimit', `pipeline ${run.parentUuid} has ${siblings} of ${run.parentConcurrency} ops running (pipeline concurrency)`);
        } else {
          wait('GroupLimit', `group ${run.parentUuid} has ${siblings} of ${run.parentConcurrency} trials running (hptuning.concurrency)`);
        }
        continue;
      }
    }
    const held = quotaWait(run, limits.quotas, perQuota, blocked);
    if (held) {
      wait(held.reason, held.message);
      for (const q of quotasFor(run, limits.quotas)) if (!blocked.has(quotaKey(q))) blocked.set(quotaKey(q), run.number);
      continue;
    }
    // GPU devices: strict order among runs that ask some (a run asking 4 is not starved by runs asking 1).
    const need = limits.gpuDevices ? devicesNeeded(run.demand.gpu) : 0;
    if (need > 0 && waitingForDevices !== null) {
      wait('GpuDevices', `behind run ${waitingForDevices}, which waits for GPU devices`);
      continue;
    }
    if (need > freeDevices) {
      wait('GpuDevices', `asks ${need} GPU; ${freeDevices} of ${limits.gpuDevices!.total} devices free on this host`);
      waitingForDevices = run.number;
      continue;
    }
    freeDevices -= need;
    hold(run);
    verdicts.push({ runUuid: run.runUuid, decision: 'start' });
  }
  return verdicts;
}

function quotaWait(
  run: AdmissionRun,
  quotas: Quota[],
  usage: Map<string, Usage>,
  blocked: Map<string, number>,
): { reason: WaitReason; message: string } | null {
  for (const q of quotasFor(run, quotas)) {
    const u = usage.get(quotaKey(q)) ?? empty();
    if (q.maxRuns !== null && u.runs >= q.maxRuns) {
      return { reason: 'Quota', message: `${describeQuota(q)} has ${u.runs} of ${q.maxRuns} runs running (quota)` };
    }
    for (const r of RESOURCES) {
      const ceiling = q[r.key];
      if (ceiling === null || run.demand[r.key] === 0) continue;
      if (u[r.key] + run.demand[r.key] > ceiling) {
        return {
          reason: 'Quota',
          message: `asks ${r.fmt(run.demand[r.key])} ${r.unit}; ${describeQuota(q)} uses ${r.fmt(u[r.key])} of ${r.fmt(ceiling)} (quota)`,
        };
      }
    }
  }
  for (const q of quotasFor(run, quotas)) {
    const before = blocked.get(quotaKey(q));
    if (before !== undefined) {
      return { reason: 'BehindInQuota', message: `behind run ${before}, which waits for the quota of ${describeQuota(q)}` };
    }
  }
  return null;
}

/** cpu, memory (MB) and gpu a polyaxonfile's `environment.resources` asks for: requests, else limits, else 0. */
export function demandOf(spec: unknown): Demand {
  const raw = (spec as { raw?: { environment?: { resources?: Record<string, { requests?: unknown; limits?: unknown } | undefined> } } } | null)
    ?.raw;
  const resources = raw?.environment?.resources ?? {};
  const amount = (key: string): number => {
    const r = resources[key];
    const v = typeof r?.requests === 'number' ? r.requests : typeof r?.limits === 'number' ? r.limits : 0;
    return Number.isFinite(v) && v > 0 ? v : 0;
  };
  return { cpu: amount('cpu'), memoryMb: amount('memory'), gpu: amount('gpu') };
}

/** A group's `hptuning.concurrency` carried in a trial's spec, or null. */
export function parentConcurrencyOf(spec: unknown): number | null {
  const c = (spec as { hptuning?: { concurrency?: unknown } } | null)?.hptuning?.concurrency;
  return typeof c === 'number' && Number.isInteger(c) && c > 0 ? c : null;
}
