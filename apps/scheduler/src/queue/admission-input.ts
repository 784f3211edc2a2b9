import type { ExecutionEntity, QuotaRow } from '@myelin/persistence';
import type { RunStart } from '@myelin/contracts';
import { AdmissionRun, Demand, demandOf, parentConcurrencyOf, Quota, WaitingRun } from './admission';

/** An execution row as admission sees it. */
export function toAdmissionRun(row: ExecutionEntity): AdmissionRun {
  return {
    runUuid: row.runUuid,
    project: row.project,
    number: row.number,
    user: row.submitter,
    teams: row.teams ?? [],
    parentUuid: row.parentUuid,
    parentKind: row.parentKind,
    parentConcurrency: row.parentConcurrency,
    demand: { cpu: Number(row.cpu), memoryMb: Number(row.memoryMb), gpu: Number(row.gpu) },
  };
}

export function toWaitingRun(row: ExecutionEntity): WaitingRun {
  return { ...toAdmissionRun(row), priority: row.priority, queuedAt: row.createdAt.getTime() };
}

export function toQuota(row: QuotaRow): Quota {
  return { scope: row.scope, name: row.name, maxRuns: row.maxRuns, cpu: row.cpu, memoryMb: row.memoryMb, gpu: row.gpu };
}

/**
 * The admission facts of a start command: submitter and teams, parent and its concurrency (a
 * group's `hptuning.concurrency` also travels in its trials' spec), resources (the command's, in
 * bytes of memory, else the spec's `environment.resources`, in MB).
 */
export function admissionFields(command: RunStart.Payload): {
  submitter: string | null;
  teams: string[];
  parentUuid: string | null;
  parentKind: 'group' | 'pipeline' | null;
  parentConcurrency: number | null;
  cpu: number;
  memoryMb: number;
  gpu: number;
} {
  const fromSpec = parentConcurrencyOf(command.spec);
  const parentKind = command.parentKind ?? (command.parentUuid && fromSpec !== null ? 'group' : null);
  const r = command.resources;
  const demand: Demand = r ? { cpu: r.cpu ?? 0, memoryMb: (r.memory ?? 0) / (1024 * 1024), gpu: r.gpu ?? 0 } : demandOf(command.spec);
  return {
    submitter: command.user ?? null,
    teams: command.teams ?? [],
    parentUuid: command.parentUuid ?? null,
    parentKind: command.parentUuid ? parentKind : null,
    parentConcurrency: command.parentUuid ? (command.parentConcurrency ?? (parentKind === 'group' ? fromSpec : null)) : null,
    cpu: demand.cpu,
    memoryMb: demand.memoryMb,
    gpu: demand.gpu,
  };
}

/** A process or pod was started for the current attempt (a retry clears both): the run holds resources even while held by a condition. */
export const launched = (e: Pick<ExecutionEntity, 'pid' | 'pidStartTime'>): boolean => Boolean(e.pid) || (e.pidStartTime ?? null) !== null;
