import type { RunEntity } from '@myelin/persistence';

/** The JSON shape of a run in every response. */
export interface RunView {
  uuid: string;
  number: number;
  project: string;
  uniqueName: string;
  kind: string;
  name: string | null;
  description: string;
  tags: string[];
  status: string;
  statusReason: string;
  statusMessage: string;
  exitCode: number | null;
  params: Record<string, unknown>;
  parentUuid: string | null;
  originalUuid: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export function toRunView(run: RunEntity, project: string): RunView {
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
    createdAt: run.createdAt.toISOString(),
    updatedAt: run.updatedAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
  };
}
