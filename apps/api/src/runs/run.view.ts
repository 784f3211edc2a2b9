import type { RunView } from '@myelin/contracts';
import type { RunWithoutSpec } from '@myelin/persistence';

export type { RunView };

/** A run's view: its spec and files are not part of it (a run read without them will do). */
export function toRunView(run: RunWithoutSpec, project: string): RunView {
  return {
    uuid: run.uuid,
    number: run.number,
    project,
    uniqueName: `${project.replace('/', '.')}.${run.number}`,
    kind: run.kind,
    name: run.name,
    description: run.description,
    tags: run.tags,
    status: run.status,
    statusReason: run.statusReason,
    statusMessage: run.statusMessage,
    exitCode: run.exitCode,
    params: run.params,
    parentUuid: run.parentUuid,
    originalUuid: run.originalUuid,
    managed: run.managed,
    createdAt: run.createdAt.toISOString(),
    updatedAt: run.updatedAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
  };
}
