import { Injectable } from '@nestjs/common';
import { checkPolyaxonfiles, CompiledSpec, formatSpecError } from '@myelin/spec';
import { RunCreated, RunKind, RunStart } from '@myelin/contracts';
import { ProjectEntity, RunEntity, RunsRepository } from '@myelin/persistence';
import { Identity } from '@myelin/runtime';
import { CreateRunDto } from '../dto/create-run.dto';
import { RunsException, RunsExceptionCode } from '../runs.exception';

/** Kinds the platform can execute today, and why the others wait. */
const NOT_YET: Partial<Record<RunKind, string>> = {
  group: 'hyperparameter groups need the optimization engine (issue "Optimization engine")',
  pipeline: 'pipelines need the pipeline engine (issue "Pipeline engine")',
  build: 'image builds need the Kubernetes executor; the local executor has no container engine',
  notebook: 'notebooks need the Kubernetes executor (they run a notebook server image)',
  tensorboard: 'tensorboards need the Kubernetes executor (they run a tensorboard image)',
};

/**
 * Validate the polyaxonfile(s) exactly as `myelin check` does, create the run with its number,
 * and queue "run created" and "start this run" in the same transaction.
 */
@Injectable()
export class CreateRunUseCase {
  constructor(private readonly runs: RunsRepository) {}

  async execute(identity: Identity, project: ProjectEntity, projectName: string, dto: CreateRunDto): Promise<RunEntity> {
    const result = checkPolyaxonfiles(dto.files, { params: dto.params ?? {} });
    if (!result.ok) {
      throw new RunsException(
        RunsExceptionCode.InvalidSpec,
        result.errors.map(formatSpecError).join('\n'),
        result.errors,
      );
    }
    const spec = result.spec;
    const reason = NOT_YET[spec.kind];
    if (reason) throw new RunsException(RunsExceptionCode.UnsupportedKind, `kind "${spec.kind}" cannot run yet: ${reason}`);
    const cmd = spec.run?.cmd;
    if (!cmd) {
      throw new RunsException(RunsExceptionCode.InvalidSpec, `a ${spec.kind} needs a run.cmd to execute`, [
        { path: 'run.cmd', message: 'missing' },
      ]);
    }
    const specJson = JSON.parse(JSON.stringify(spec)) as Record<string, unknown>;
    return this.runs.create(
      {
        projectId: project.id,
        kind: spec.kind,
        name: dto.name ?? spec.name ?? null,
        description: dto.description ?? spec.description ?? '',
        tags: dto.tags ?? spec.tags ?? [],
        content: dto.files.map((f) => `# ${f.path}\n${f.content}`).join('\n---\n'),
        spec: specJson,
        params: spec.params as Record<string, unknown>,
        codeDir: dto.codeDir ?? null,
        createdBy: identity.userId,
      },
      [
        {
          kind: 'event',
          pattern: RunCreated.PATTERN,
          payload: (run) => ({
            runUuid: run.uuid,
            project: projectName,
            number: run.number,
            kind: run.kind,
            at: run.createdAt.toISOString(),
          }),
        },
        {
          kind: 'command',
          pattern: RunStart.PATTERN,
          payload: (run) => startPayload(run, projectName, spec, cmd),
        },
      ],
    );
  }
}

export function startPayload(run: RunEntity, projectName: string, spec: CompiledSpec, cmd: string): RunStart.Payload {
  const environment = (spec.raw as { environment?: { max_restarts?: number } } | undefined)?.environment;
  return {
    runUuid: run.uuid,
    project: projectName,
    number: run.number,
    kind: run.kind,
    cmd,
    params: run.params,
    spec: run.spec,
    ...(typeof environment?.max_restarts === 'number' ? { maxRestarts: environment.max_restarts } : {}),
    ...(run.parentUuid ? { parentUuid: run.parentUuid } : {}),
    ...(run.codeDir ? { codeDir: run.codeDir } : {}),
    tags: run.tags,
  };
}
