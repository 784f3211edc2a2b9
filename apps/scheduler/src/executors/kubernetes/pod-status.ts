import type { ExecutorCondition, ProcessState } from '../executor';
import { LABELS } from './kubernetes-objects';

/** The fields of a Pod this mapping reads (as the API returns them). */
export interface PodView {
  metadata?: { name?: string; labels?: Record<string, string>; deletionTimestamp?: string | Date };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }>;
    containerStatuses?: ContainerStatusView[];
    initContainerStatuses?: ContainerStatusView[];
  };
}
interface ContainerStatusView {
  name?: string;
  state?: {
    waiting?: { reason?: string; message?: string };
    running?: { startedAt?: string | Date };
    terminated?: { exitCode?: number; signal?: number; reason?: string; message?: string };
  };
}

export interface RunObservation {
  state: ProcessState;
  condition: ExecutorCondition;
}

/** Waiting reasons that end the run once they last longer than the grace period (the registry may recover). */
export const PULL_ERRORS = new Set(['ErrImagePull', 'ImagePullBackOff', 'CreateContainerConfigError', 'CreateContainerError', 'RegistryUnavailable']);
/** Waiting reasons that cannot get better by waiting. */
const HOPELESS = new Set(['InvalidImageName', 'ErrImageNeverPull']);

export interface ObserveOptions {
  now: number;
  imagePullGraceMs: number;
  /** When a pod was first seen waiting with one of PULL_ERRORS (the executor remembers it). */
  waitingSince: (podName: string) => number;
}

const nameOf = (pod: PodView) => pod.metadata?.name ?? '?';
const roleOf = (pod: PodView) => `${pod.metadata?.labels?.[LABELS.role] ?? 'master'}.${pod.metadata?.labels?.[LABELS.index] ?? '0'}`;

function terminated(pod: PodView) {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].find((c) => c.state?.terminated && (c.state.terminated.exitCode ?? 0) !== 0)?.state?.terminated
    ?? pod.status?.containerStatuses?.find((c) => c.state?.terminated)?.state?.terminated;
}

export function waitingReason(pod: PodView): { reason: string; message: string } | undefined {
  for (const c of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const w = c.state?.waiting;
    if (w?.reason && (PULL_ERRORS.has(w.reason) || HOPELESS.has(w.reason))) return { reason: w.reason, message: w.message ?? '' };
  }
  return undefined;
}

/** `exit code 137 (OOMKilled)` and the like, with the replica when the run has several. */
function describeExit(pod: PodView, t: { exitCode?: number; reason?: string; message?: string }, many: boolean): string {
  const parts = [`exit code ${t.exitCode ?? 'unknown'}`];
  if (t.reason && t.reason !== 'Error' && t.reason !== 'Completed') parts.push(`(${t.reason})`);
  let text = parts.join(' ');
  if (many) text += ` in ${roleOf(pod)}`;
  if (t.message) text += `: ${t.message.trim().slice(0, 500)}`;
  return text;
}

function failedPod(pod: PodView, many: boolean): RunObservation {
  const t = terminated(pod);
  if (t) {
    const exitCode = t.exitCode ?? 1;
    const reason = t.reason === 'OOMKilled' ? 'OOMKilled' : exitCode > 128 ? 'Killed' : 'Error';
    return { state: { state: 'exited', exitCode }, condition: { status: 'failed', reason, message: describeExit(pod, t, many), exitCode } };
  }
  // Failed without a terminated container: evicted, deadline exceeded, node lost.
  const reason = pod.status?.reason ?? 'Failed';
  return { state: { state: 'vanished' }, condition: { status: 'failed', reason, message: pod.status?.message ?? `pod ${nameOf(pod)} failed (${reason})` } };
}

/**
 * A run's status from its pods (the master's end decides; any failed replica fails the run).
 * Pure: the watch feeds it the pods it knows.
 */
export function observeRun(pods: PodView[], options: ObserveOptions): RunObservation {
  if (!pods.length) {
    return { state: { state: 'vanished' }, condition: { status: 'failed', reason: 'Lost', message: 'the run has no pod any more (deleted outside Myelin, or its node was lost)' } };
  }
  const many = pods.length > 1;
  const master = pods.find((p) => (p.metadata?.labels?.[LABELS.role] ?? 'master') === 'master');
  const failed = pods.find((p) => p.status?.phase === 'Failed');
  if (failed) return failedPod(failed, many);
  if (master?.status?.phase === 'Succeeded') {
    return { state: { state: 'exited', exitCode: 0 }, condition: { status: 'succeeded', reason: 'Succeeded', message: 'exit code 0', exitCode: 0 } };
  }
  for (const pod of pods) {
    const waiting = waitingReason(pod);
    if (!waiting) continue;
    const text = `${waiting.reason} in ${roleOf(pod)}${waiting.message ? `: ${waiting.message}` : ''}`;
    const waited = options.now - options.waitingSince(nameOf(pod));
    if (HOPELESS.has(waiting.reason) || waited >= options.imagePullGraceMs) {
      return { state: { state: 'vanished' }, condition: { status: 'failed', reason: waiting.reason, message: text } };
    }
    return { state: { state: 'running' }, condition: { status: 'warning', reason: waiting.reason, message: `${text} (the run fails if this lasts ${Math.round(options.imagePullGraceMs / 1000)} s)` } };
  }
  for (const pod of pods) {
    const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (pod.status?.phase === 'Pending' && scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
      return { state: { state: 'running' }, condition: { status: 'unschedulable', reason: 'Unschedulable', message: scheduled.message ?? `${roleOf(pod)} cannot be scheduled` } };
    }
  }
  if (!master || master.status?.phase === 'Pending' || !master.status?.phase) {
    const scheduled = master?.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'True');
    return scheduled
      ? { state: { state: 'running' }, condition: { status: 'starting', reason: 'ContainerCreating', message: 'pulling the image and starting the container' } }
      : { state: { state: 'running' }, condition: { status: 'scheduled', reason: 'Pending', message: 'waiting for a node' } };
  }
  if (master.status?.phase === 'Unknown') {
    return { state: { state: 'running' }, condition: { status: 'unknown', reason: master.status.reason ?? 'Unknown', message: master.status.message ?? 'the node of the master stopped reporting' } };
  }
  return { state: { state: 'running' }, condition: { status: 'running', reason: 'Running', message: many ? `${pods.length} replicas` : `pod ${nameOf(master)}` } };
}
