import { Injectable } from '@nestjs/common';
import { checkPolyaxonfiles, CompiledSpec, formatSpecError, ParamValue, renderTrial } from '@myelin/spec';
import { RunCreated, RunKind, RunStart } from '@myelin/contracts';
import { ProjectEntity, RunEntity, RunsRepository } from '@myelin/persistence';
import { Identity } from '@myelin/runtime';
import { ActivityService } from '../../activity/activity.service';
import { ApiException, ApiExceptionCode } from '../../api.exception';
import { CloningStrategy } from '../dto/run-update.dto';

/** Kinds the platform can execute today, and why the others wait. */
const NOT_YET: Partial<Record<RunKind, string>> = {
  pipeline: 'pipelines need the pipeline engine (issue "Pipeline engine")',
  build: 'image builds need the Kubernetes executor; the local executor has no container engine',
  notebook: 'notebooks need the Kubernetes executor (they run a notebook server image)',
  tensorboard: 'tensorboards need the Kubernetes executor (they run a tensorboard image)',
};

/** What was submitted, stored with the run so restart/resume/copy can submit it again. */
export interface Submission {
  files: Array<{ path: string; content: string }>;
  params: Record<string, string>;
}

export interface CreateRunInput extends Submission {
  name?: string;
  description?: string;
  tags?: string[];
  codeDir?: string;
  original?: { run: RunEntity; strategy: CloningStrategy };
}

export function readSubmission(run: RunEntity): Submission {
  try {
    const parsed = JSON.parse(run.content) as Submission;
    if (Array.isArray(parsed.files)) return { files: parsed.files, params: parsed.params ?? {} };
  } catch {
    // fall through
  }
  return { files: [{ path: 'polyaxonfile.yml', content: run.content }], params: {} };
}

/**
 * Validate the polyaxonfile(s) exactly as `myelin check` does, create the run with its number
 * and its own token, and queue "run created" and "start this run" in the same transaction.
 */
@Injectable()
export class CreateRunUseCase {
  constructor(
    private readonly runs: RunsRepository,
    private readonly activity: ActivityService,
  ) {}

  async execute(identity: Identity, project: ProjectEntity, projectName: string, input: CreateRunInput): Promise<RunEntity> {
    const result = checkPolyaxonfiles(input.files, { params: input.params });
    if (!result.ok) {
      throw new ApiException(ApiExceptionCode.InvalidSpec, result.errors.map(formatSpecError).join('\n'), result.errors);
    }
    const spec = result.spec;
    const reason = NOT_YET[spec.kind];
    if (reason) throw new ApiException(ApiExceptionCode.UnsupportedKind, `kind "${spec.kind}" cannot run yet: ${reason}`);
    if (spec.kind === 'group') return this.createGroup(identity, project, projectName, input, spec);
    const cmd = spec.run?.cmd;
    if (!cmd) {
      throw new ApiException(ApiExceptionCode.InvalidSpec, `a ${spec.kind} needs a run.cmd to execute`, [{ path: 'run.cmd', message: 'missing' }]);
    }
    const original = input.original;
    const run = await this.runs.create(
      {
        projectId: project.id,
        kind: spec.kind,
        name: input.name ?? spec.name ?? original?.run.name ?? null,
        description: input.description ?? spec.description ?? '',
        tags: input.tags ?? spec.tags ?? [],
        content: JSON.stringify({ files: input.files, params: input.params } satisfies Submission),
        spec: JSON.parse(JSON.stringify(spec)) as Record<string, unknown>,
        params: spec.params as Record<string, unknown>,
        codeDir: input.codeDir ?? original?.run.codeDir ?? null,
        createdBy: identity.userId,
        parentUuid: original?.run.parentUuid ?? null,
        originalUuid: original ? rootOriginal(original.run, original.strategy) : null,
        cloningStrategy: original?.strategy ?? null,
      },
      [
        {
          kind: 'event',
          pattern: RunCreated.PATTERN,
          payload: (r) => ({ runUuid: r.uuid, project: projectName, number: r.number, kind: r.kind, at: r.createdAt.toISOString() }),
        },
        {
          kind: 'command',
          pattern: RunStart.PATTERN,
          payload: (r) => startPayload(r, projectName, spec, cmd),
        },
      ],
    );
    await this.activity.record(identity, original ? `run.${original.strategy}` : 'run.created', 'run', run.uuid, project.id, {
      number: run.number,
      ...(original ? { original: original.run.uuid } : {}),
    });
    return run;
  }

  /**
   * A group is a parent run: the optimizer receives its `hptuning` with "run created" and asks
   * for its trials one by one (TrialCreate); the group itself never executes a process.
   */
  private async createGroup(identity: Identity, project: ProjectEntity, projectName: string, input: CreateRunInput, spec: CompiledSpec): Promise<RunEntity> {
    const run = await this.runs.create(
      {
        projectId: project.id,
        kind: 'group',
        name: input.name ?? spec.name ?? null,
        description: input.description ?? spec.description ?? '',
        tags: input.tags ?? spec.tags ?? [],
        content: JSON.stringify({ files: input.files, params: input.params } satisfies Submission),
        spec: JSON.parse(JSON.stringify(spec)) as Record<string, unknown>,
        params: spec.params as Record<string, unknown>,
        codeDir: input.codeDir ?? null,
        createdBy: identity.userId,
      },
      [
        {
          kind: 'event',
          pattern: RunCreated.PATTERN,
          payload: (r) => ({
            runUuid: r.uuid,
            project: projectName,
            number: r.number,
            kind: r.kind,
            at: r.createdAt.toISOString(),
            hptuning: JSON.parse(JSON.stringify(spec.hptuning ?? {})) as Record<string, unknown>,
          }),
        },
      ],
    );
    await this.activity.record(identity, 'group.created', 'run', run.uuid, project.id, { number: run.number });
    return run;
  }

  /**
   * The child run of a group for one trial (idempotent on the trial key): the group's
   * polyaxonfile rendered with the trial's params, started like any run.
   */
  async createTrial(
    group: RunEntity,
    projectName: string,
    trialKey: string,
    trialParams: Record<string, unknown>,
    /** hyperband with resume: the earlier trial whose outputs (checkpoints) this one writes into. */
    resumeOf: RunEntity | null = null,
  ): Promise<RunEntity> {
    const existing = await this.runs.findTrial(group.uuid, trialKey);
    if (existing) return existing;
    const spec = group.spec as unknown as CompiledSpec;
    const rendered = renderTrial(spec, trialParams as Record<string, ParamValue>);
    const trialSpec = { ...spec, kind: 'experiment' as const, params: rendered.params, run: { cmd: rendered.cmd } };
    return this.runs.create(
      {
        projectId: group.projectId,
        kind: 'experiment',
        name: group.name ? `${group.name}.${trialKey}` : null,
        description: '',
        tags: group.tags,
        content: group.content,
        spec: JSON.parse(JSON.stringify(trialSpec)) as Record<string, unknown>,
        params: rendered.params as Record<string, unknown>,
        codeDir: group.codeDir,
        createdBy: group.createdBy,
        parentUuid: group.uuid,
        trialKey,
        ...(resumeOf ? { originalUuid: rootOriginal(resumeOf, 'resume'), cloningStrategy: 'resume' } : {}),
      },
      [
        {
          kind: 'event',
          pattern: RunCreated.PATTERN,
          payload: (r) => ({ runUuid: r.uuid, project: projectName, number: r.number, kind: r.kind, parentUuid: group.uuid, at: r.createdAt.toISOString() }),
        },
        { kind: 'command', pattern: RunStart.PATTERN, payload: (r) => startPayload(r, projectName, trialSpec as CompiledSpec, rendered.cmd) },
      ],
    );
  }
}

/** Resuming a resumed run continues the root original's outputs (Polyaxon's rule). */
function rootOriginal(run: RunEntity, strategy: CloningStrategy): string {
  return strategy === 'resume' && run.cloningStrategy === 'resume' && run.originalUuid ? run.originalUuid : run.uuid;
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
    ...(run.originalUuid && run.cloningStrategy === 'resume' ? { outputsOf: run.originalUuid } : {}),
    ...(run.originalUuid && run.cloningStrategy === 'copy' ? { copyOutputsFrom: run.originalUuid } : {}),
    tags: run.tags,
  };
}
