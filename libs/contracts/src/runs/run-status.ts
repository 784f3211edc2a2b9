import type { RunKind } from './run-kind';

/**
 * Every status a run can have. A group ends in `done` instead of `succeeded`
 * (its trials succeed or fail; the group itself is merely finished).
 */
export const RUN_STATUSES = [
  'created',
  'queued',
  'building',
  'scheduled',
  'starting',
  'running',
  'succeeded',
  'failed',
  'upstream_failed',
  'stopping',
  'stopped',
  'skipped',
  'retrying',
  'unschedulable',
  'warning',
  'unknown',
  'done',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export function isRunStatus(value: unknown): value is RunStatus {
  return typeof value === 'string' && (RUN_STATUSES as readonly string[]).includes(value);
}

/** Final statuses: once reached, nothing moves the run again. */
export const FINAL_STATUSES: ReadonlySet<RunStatus> = new Set<RunStatus>([
  'succeeded',
  'failed',
  'upstream_failed',
  'stopped',
  'skipped',
  'done',
]);
/** Waiting for resources or a retry; nothing runs yet. */
export const PENDING_STATUSES: ReadonlySet<RunStatus> = new Set<RunStatus>(['created', 'queued', 'retrying']);
/** Resources are held (a process or pod exists or is being prepared). */
export const ACTIVE_STATUSES: ReadonlySet<RunStatus> = new Set<RunStatus>([
  'building',
  'scheduled',
  'starting',
  'running',
]);
export const FAILED_STATUSES: ReadonlySet<RunStatus> = new Set<RunStatus>(['failed', 'upstream_failed']);

export const isFinal = (s: RunStatus): boolean => FINAL_STATUSES.has(s);
export const isPending = (s: RunStatus): boolean => PENDING_STATUSES.has(s);
export const isActive = (s: RunStatus): boolean => ACTIVE_STATUSES.has(s);
/** A stop request makes sense: not final and not already stopping. */
export const isStoppable = (s: RunStatus): boolean => !isFinal(s) && s !== 'stopping';

const NON_FINAL = RUN_STATUSES.filter((s) => !FINAL_STATUSES.has(s));
const except = (list: readonly RunStatus[], ...drop: RunStatus[]): RunStatus[] =>
  list.filter((s) => !drop.includes(s));

/**
 * The transitions table: for each target status, the statuses a run may come from.
 * Out-of-order events (a `running` event arriving after `succeeded`) are refused by
 * this table, which is how a status is never moved backwards or decided twice.
 */
export const RUN_STATUS_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  created: [],
  queued: ['created', 'retrying', 'unschedulable', 'warning', 'unknown'],
  building: ['created', 'queued', 'retrying', 'warning', 'unknown'],
  scheduled: ['created', 'queued', 'retrying', 'building', 'unschedulable', 'warning', 'unknown'],
  starting: ['created', 'queued', 'retrying', 'building', 'scheduled', 'unschedulable', 'warning', 'unknown'],
  running: [
    'created',
    'queued',
    'retrying',
    'building',
    'scheduled',
    'starting',
    'unschedulable',
    'warning',
    'unknown',
  ],
  unschedulable: ['created', 'queued', 'retrying', 'building', 'scheduled', 'starting', 'warning', 'unknown'],
  // An attempt failed but restarts remain: the run waits for its next attempt.
  retrying: ['queued', 'building', 'scheduled', 'starting', 'running', 'unschedulable', 'warning', 'unknown'],
  warning: except(NON_FINAL, 'warning'),
  unknown: except(NON_FINAL, 'unknown'),
  stopping: except(NON_FINAL, 'stopping'),
  succeeded: except(NON_FINAL, 'created', 'queued', 'retrying'),
  failed: NON_FINAL,
  upstream_failed: NON_FINAL,
  stopped: NON_FINAL,
  skipped: NON_FINAL,
  done: NON_FINAL,
};

/** Statuses that only some kinds may take. */
const GROUP_ONLY: ReadonlySet<RunStatus> = new Set<RunStatus>(['done']);
const NOT_FOR_GROUPS: ReadonlySet<RunStatus> = new Set<RunStatus>([
  'succeeded',
  'building',
  'scheduled',
  'starting',
  'unschedulable',
  'retrying',
]);

export function isStatusAllowedForKind(kind: RunKind, status: RunStatus): boolean {
  if (kind === 'group') return !NOT_FOR_GROUPS.has(status);
  return !GROUP_ONLY.has(status);
}

export function canTransition(from: RunStatus, to: RunStatus, kind?: RunKind): boolean {
  if (kind && !isStatusAllowedForKind(kind, to)) return false;
  return RUN_STATUS_TRANSITIONS[to].includes(from);
}

/** One entry of a run's status history (the Kubernetes/Polyaxon "condition" habit). */
export interface RunCondition {
  status: RunStatus;
  reason: string;
  message: string;
  /** ISO-8601 time at which the status was observed. */
  at: string;
}
