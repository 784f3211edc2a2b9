import { Injectable } from '@nestjs/common';
import { parse as parseYaml } from 'yaml';
import { checkPolyaxonfiles, CompiledSpec, formatSpecError, ParamValue, renderTrial, templateFileOf } from '@myelin/spec';
import { isFinal, PipelineOpCreate, PipelineOpMark, RunCreated, RunKind, RunStart, RunStatus } from '@myelin/contracts';
import { OutboxMessage, ProjectEntity, RunEntity, RunsRepository } from '@myelin/persistence';
import { Identity } from '@myelin/runtime';
import { ActivityService } from '../../activity/activity.service';
import { ApiException, ApiExceptionCode } from '../../api.exception';
import { CloningStrategy } from '../dto/run-update.dto';

/** Kinds the platform can execute today, and why the others wait. */
const NOT_YET: Partial<Record<RunKind, string>> = {
  notebook: 'notebooks need the Kubernetes executor (they run a notebook server image)',
  tensorboard: 'tensorboards need the Kubernetes executor (they run a tensorboard image)',
};

/** What was submitted, stored with the run so restart/resume/copy can submit it again. */
export interface Submission {
  files: Array<{ path: string; content: string }>;
  params: Record<string, string>;
  /** Pipelines: the polyaxonfiles of `template: {path}` ops, by path. */
  templateFiles?: Array<{ path: string; content: string }>;
}

export interface CreateRunInput extends Submission {
  name?: string;
  description?: string;
  tags?: string[];
  codeDir?: string;
  /** The code's version as submitted (`tree:<hex>` or a commit); a pipeline's op cache keys include it. */
  codeRef?: string;
  original?: { run: RunEntity; strategy: CloningStrategy };
  /** Pipelines: ignore the op cache (`myelin run --no-cache`). */
  noCache?: boolean;
  /** Queue priority of the run (experiments and jobs; checked by the caller). */
  priority?: number;
}

export function readSubmission(run: RunEntity): Submission {
  try {
    const parsed = JSON.parse(run.content) as Submission;
    if (Array.isArray(parsed.files)) return { files: parsed.files, params: parsed.params ?? {}, ...(parsed.templateFiles ? { templateFiles: parsed.templateFiles } : {}) };
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
    if (spec.kind === 'pipeline') return this.createPipeline(identity, project, projectName, input, spec);
    // A `kind: build` run is the image build itself: no command (the scheduler refuses it on the local executor).
    const cmd = spec.kind === 'build' ? '' : spec.run?.cmd;
    if (cmd === undefined || (spec.kind !== 'build' && !cmd)) {
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
        runCreatedEvent(projectName),
        {
          kind: 'command',
          pattern: RunStart.PATTERN,
          payload: (r) => ({ ...startPayload(r, projectName, spec, cmd), ...(input.priority !== undefined ? { priority: input.priority } : {}) }),
        },
      ],
      this.activity.creation(identity, original ? `run.${original.strategy}` : 'run.created', (created) => ({
        number: created.number,
        ...(original ? { original: original.run.uuid } : {}),
      })),
    );
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
        runCreatedEvent(projectName, { hptuning: JSON.parse(JSON.stringify(spec.hptuning ?? {})) as Record<string, unknown> }),
      ],
      this.activity.creation(identity, 'group.created', (created) => ({ number: created.number })),
    );
    return run;
  }

  /**
   * A pipeline is a parent run: the pipelines service receives its compiled spec with "run
   * created", decides with libs/dag, and asks for each op's run (PipelineOpCreate). Every op must
   * use an inline template of a kind that runs today (experiment or job); `resumeOf` is the
   * pipeline run whose succeeded ops a retry reuses.
   */
  async createPipeline(
    identity: Identity,
    project: ProjectEntity,
    projectName: string,
    input: CreateRunInput,
    spec: CompiledSpec,
    resumeOf: RunEntity | null = null,
  ): Promise<RunEntity> {
    const problems = pipelineProblems(spec, input.templateFiles ?? []);
    if (problems.length) throw new ApiException(ApiExceptionCode.UnsupportedKind, `this pipeline cannot run yet:\n${problems.join('\n')}`);
    const compiled = JSON.parse(JSON.stringify(spec)) as Record<string, unknown>;
    // `--no-cache`: every `cache: true` op runs again (its new key is still kept for later runs).
    if (input.noCache) compiled['noCache'] = true;
    // Path templates travel with the spec too: the pipelines service hashes their text for the op cache.
    if (input.templateFiles?.length) compiled['templateFiles'] = input.templateFiles;
    // The code's version for the op cache: the pipelines service hashes the code directory when it
    // can read it (what an op queued then snapshots), else uses the reference sent with the run.
    const codeDir = input.codeDir ?? resumeOf?.codeDir ?? null;
    if (codeDir) compiled['codeDir'] = codeDir;
    if (input.codeRef) compiled['codeRef'] = input.codeRef;
    const run = await this.runs.create(
      {
        projectId: project.id,
        kind: 'pipeline',
        name: input.name ?? spec.name ?? resumeOf?.name ?? null,
        description: input.description ?? spec.description ?? '',
        tags: input.tags ?? spec.tags ?? [],
        content: JSON.stringify({ files: input.files, params: input.params, ...(input.templateFiles?.length ? { templateFiles: input.templateFiles } : {}) } satisfies Submission),
        spec: compiled,
        params: spec.params as Record<string, unknown>,
        codeDir,
        createdBy: identity.userId,
        ...(resumeOf ? { originalUuid: resumeOf.uuid, cloningStrategy: 'resume' } : {}),
      },
      [
        runCreatedEvent(projectName, { pipeline: compiled, ...(resumeOf ? { resumeOf: resumeOf.uuid } : {}) }),
      ],
      this.activity.creation(identity, resumeOf ? 'pipeline.retried' : 'pipeline.created', (created) => ({
        number: created.number,
        ...(resumeOf ? { original: resumeOf.uuid } : {}),
      })),
    );
    return run;
  }

  /**
   * The child run of a pipeline for one attempt of one op (idempotent on the op key): the op's
   * inline template compiled with the resolved params and started like any run, or, for a mark,
   * created with its final status and never executed. While the pipeline run is stopping or over, a
   * start becomes a `stopped` mark: nothing starts after a stop.
   */
  async createPipelineOp(pipeline: RunEntity, projectName: string, request: PipelineOpCreate.Payload): Promise<RunEntity> {
    const marked = request.mark !== undefined || request.reusedFrom !== undefined;
    const key = opRunKey(request.op, marked ? undefined : request.attempt);
    const existing = await this.runs.findTrial(pipeline.uuid, key);
    if (existing) return existing;
    const spec = pipeline.spec as unknown as CompiledSpec;
    const op = spec.raw.ops?.find((o) => o.name === request.op);
    if (!op) throw new ApiException(ApiExceptionCode.NotFound, `pipeline run ${pipeline.number} has no op "${request.op}"`);
    const sent = templateFileOf(op.template);
    const template = sent ? sentTemplate(pipeline, sent) : spec.raw.templates?.find((t) => t.name === op.template.name);
    const late = !marked && (isFinal(pipeline.status) || pipeline.status === 'stopping');
    const mark: { status: RunStatus; reason: string; message: string } | null = request.reusedFrom
      ? { status: 'skipped', reason: request.cached ? 'Cached' : 'Reused', message: request.reason ?? `reused run ${request.reusedFrom}` }
      : request.mark
        ? { status: request.mark, reason: markReason(request.mark), message: request.reason ?? '' }
        : late
          ? { status: 'stopped', reason: 'PipelineStopped', message: `the pipeline run is ${pipeline.status}: not started` }
          : null;
    const name = `${pipeline.name ?? 'pipeline'}.${request.op}`;
    const params = request.params as Record<string, ParamValue>;
    const base = {
      projectId: pipeline.projectId,
      name,
      description: op.description ?? '',
      tags: op.tags ?? pipeline.tags,
      codeDir: pipeline.codeDir,
      createdBy: pipeline.createdBy,
      parentUuid: pipeline.uuid,
      parentRun: pipeline,
      trialKey: key,
    };
    const announce = runCreatedEvent(projectName, { parentUuid: pipeline.uuid });
    if (mark || !template) {
      const run = await this.runs.create(
        {
          ...base,
          kind: template && (template.kind === 'experiment' || template.kind === 'job') ? template.kind : 'job',
          content: JSON.stringify({ files: [], params: {} } satisfies Submission),
          spec: { kind: template?.kind ?? 'job', pipelineOp: request.op, ...(request.reusedFrom ? { reusedFrom: request.reusedFrom } : {}) },
          params,
        },
        [announce],
      );
      const final = mark ?? { status: 'failed' as RunStatus, reason: 'UnknownTemplate', message: `template "${op.template.name ?? '?'}" not found` };
      const applied = await this.runs.applyStatus(run.uuid, { ...final, at: new Date() });
      return applied.run ? Object.assign(run, applied.run) : run;
    }
    // The template is a polyaxonfile of its own: compile it, as written, with the op's params as -P overrides.
    const files = sent
      ? [{ path: sent, content: readSubmission(pipeline).templateFiles?.find((f) => f.path === sent)?.content ?? '' }]
      : [{ path: `${request.op}.template.yml`, content: JSON.stringify(writtenPipeline(pipeline).templates.get(template.name) ?? template) }];
    // The op's own `environment` / `build` go over its template's, as a second file deep-merged over it.
    const opSections = writtenPipeline(pipeline).overrides.get(request.op);
    if (opSections) files.push({ path: `${request.op}.op.yml`, content: JSON.stringify(opSections) });
    const overrides = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    const result = compiledOpTemplate(pipeline.uuid, files, overrides);
    if (result.ok && result.spec.kind === 'group') {
      // A hyperparameter search as an op: a group run under the pipeline run; the optimizer runs it.
      const groupSpec = result.spec;
      return this.runs.create(
        {
          ...base,
          kind: 'group',
          content: JSON.stringify({ files, params: overrides } satisfies Submission),
          spec: { ...(JSON.parse(JSON.stringify(groupSpec)) as Record<string, unknown>), ...(request.reason ? { pipelineDecision: request.reason } : {}) },
          params: structuredClone(groupSpec.params) as Record<string, unknown>,
        },
        [
          runCreatedEvent(projectName, { parentUuid: pipeline.uuid, hptuning: JSON.parse(JSON.stringify(groupSpec.hptuning ?? {})) as Record<string, unknown> }),
        ],
      );
    }
    const cmd = result.ok ? result.spec.run?.cmd : undefined;
    if (!result.ok || !cmd) {
      const message = result.ok ? 'the template has no run.cmd' : result.errors.map(formatSpecError).join('\n');
      const run = await this.runs.create(
        { ...base, kind: 'job', content: JSON.stringify({ files, params: overrides } satisfies Submission), spec: { kind: template.kind, pipelineOp: request.op }, params },
        [announce],
      );
      const applied = await this.runs.applyStatus(run.uuid, { status: 'failed', reason: 'InvalidParams', message: message.slice(0, 10_000), at: new Date() });
      return applied.run ? Object.assign(run, applied.run) : run;
    }
    const opSpec = result.spec;
    return this.runs.create(
      {
        ...base,
        kind: opSpec.kind,
        description: op.description ?? opSpec.description ?? '',
        content: JSON.stringify({ files, params: overrides } satisfies Submission),
        spec: { ...(JSON.parse(JSON.stringify(opSpec)) as Record<string, unknown>), ...(request.reason ? { pipelineDecision: request.reason } : {}) },
        params: structuredClone(opSpec.params) as Record<string, unknown>,
      },
      [
        announce,
        { kind: 'command', pattern: RunStart.PATTERN, payload: (r) => startPayload(r, projectName, opSpec, cmd) },
      ],
    );
  }

  /**
   * The pipeline run of one slot of a scheduled pipeline (idempotent on the slot): a child of the
   * schedule's run with the schedule's spec minus `schedule`, announced like any pipeline run.
   */
  async createScheduledRun(schedule: RunEntity, projectName: string, slot: string): Promise<RunEntity> {
    const key = `slot:${new Date(slot).toISOString()}`;
    const existing = await this.runs.findTrial(schedule.uuid, key);
    if (existing) return existing;
    if (isFinal(schedule.status) || schedule.status === 'stopping') {
      throw new ApiException(ApiExceptionCode.Conflict, `schedule ${schedule.number} is ${schedule.status}: no new runs`);
    }
    const compiled = JSON.parse(JSON.stringify(schedule.spec)) as Record<string, unknown> & { raw: Record<string, unknown> };
    delete compiled.raw['schedule'];
    return this.runs.create(
      {
        projectId: schedule.projectId,
        kind: 'pipeline',
        name: schedule.name,
        description: `run of ${new Date(slot).toISOString()}`,
        tags: schedule.tags,
        content: schedule.content,
        spec: compiled,
        params: schedule.params,
        codeDir: schedule.codeDir,
        createdBy: schedule.createdBy,
        parentUuid: schedule.uuid,
        trialKey: key,
      },
      [
        runCreatedEvent(projectName, { parentUuid: schedule.uuid, pipeline: compiled }),
      ],
    );
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
        parentRun: group,
        trialKey,
        ...(resumeOf ? { originalUuid: rootOriginal(resumeOf, 'resume'), cloningStrategy: 'resume' } : {}),
      },
      [
        runCreatedEvent(projectName, { parentUuid: group.uuid }),
        { kind: 'command', pattern: RunStart.PATTERN, payload: (r) => startPayload(r, projectName, trialSpec as CompiledSpec, rendered.cmd) },
      ],
    );
  }
}

/**
 * A pipeline's inline templates and its ops' `environment`/`build` overrides as the user wrote them
 * (the compiled spec keeps a normalised form that is not always a valid polyaxonfile again, e.g.
 * matrix options): for each, the last submitted file that has it.
 */
interface WrittenPipeline {
  templates: Map<string, Record<string, unknown>>;
  overrides: Map<string, Record<string, unknown>>;
}

function writtenPipeline(pipeline: RunEntity): WrittenPipeline {
  const cache = opsCacheOf(pipeline.uuid);
  if (cache.written) return cache.written;
  const written: WrittenPipeline = { templates: new Map(), overrides: new Map() };
  for (const file of readSubmission(pipeline).files) {
    try {
      const doc = parseYaml(file.content) as { version?: unknown; templates?: Array<Record<string, unknown>>; ops?: Array<Record<string, unknown>> } | null;
      for (const t of doc?.templates ?? []) if (t && typeof t['name'] === 'string') written.templates.set(t['name'], { version: doc?.version ?? 1, ...t });
      for (const op of doc?.ops ?? []) {
        if (!op || typeof op['name'] !== 'string') continue;
        const override = Object.fromEntries(OP_OVERRIDES.filter((k) => op[k] !== undefined && op[k] !== null).map((k) => [k, op[k]]));
        if (Object.keys(override).length) written.overrides.set(op['name'], { ...(written.overrides.get(op['name']) ?? {}), ...override });
      }
    } catch {
      // not YAML we can read here: the compiled template is used
    }
  }
  // Parsed once per pipeline run (a 1,000-op file is parsed once, not per op).
  cache.written = written;
  return written;
}

/**
 * An op's template compiled with the op's params: the same files and params always compile the
 * same, and a wide pipeline's ops mostly share both (1,000 ops of one template compiled it 1,000
 * times). A bounded number of distinct ops kept per pipeline run; callers copy what they keep of
 * the result.
 */
function compiledOpTemplate(pipelineUuid: string, files: Array<{ path: string; content: string }>, params: Record<string, string>): CompileResult {
  const { compiled } = opsCacheOf(pipelineUuid);
  const key = JSON.stringify([files, params]);
  let result = compiled.get(key);
  if (!result) {
    result = checkPolyaxonfiles(files, { params });
    if (compiled.size >= 256) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, result);
  }
  return result;
}

type CompileResult = ReturnType<typeof checkPolyaxonfiles>;

/** What creating a pipeline's op runs keeps of it in this process: its written file as read, and its op templates as compiled. */
interface PipelineOpsCache {
  written?: WrittenPipeline;
  compiled: Map<string, CompileResult>;
}

/** The cache of a pipeline run; a few runs are kept, the least recently started dropped. */
function opsCacheOf(pipelineUuid: string): PipelineOpsCache {
  let cache = pipelineOpsCaches.get(pipelineUuid);
  if (!cache) {
    if (pipelineOpsCaches.size >= 20) pipelineOpsCaches.delete(pipelineOpsCaches.keys().next().value!);
    cache = { compiled: new Map() };
    pipelineOpsCaches.set(pipelineUuid, cache);
  }
  return cache;
}
const pipelineOpsCaches = new Map<string, PipelineOpsCache>();

/** Sections an op may override in its template (Polyaxon's per-op `environment` and `build`), deep-merged over it. */
const OP_OVERRIDES = ['environment', 'build'] as const;

/** The key of an op run under its pipeline run: `<op>:<attempt>` for an attempt, `<op>:mark` for an op that never ran. */
export function opRunKey(op: string, attempt?: number): string {
  return attempt === undefined ? `${op}:mark` : `${op}:${attempt}`;
}

function markReason(mark: PipelineOpMark): string {
  return mark === 'upstream_failed' ? 'UpstreamFailed' : mark === 'skipped' ? 'Skipped' : mark === 'stopped' ? 'PipelineStopped' : 'Failed';
}

/** A `template: {path}` or `{url}` op's polyaxonfile from the submission: its kind and name (enough to decide how to run it). */
function sentTemplate(pipeline: RunEntity, path: string): { name: string; kind: string } | undefined {
  const file = readSubmission(pipeline).templateFiles?.find((f) => f.path === path);
  if (!file) return undefined;
  try {
    const doc = parseYaml(file.content) as { kind?: unknown } | null;
    return { name: path, kind: typeof doc?.kind === 'string' ? doc.kind : 'experiment' };
  } catch {
    return { name: path, kind: 'experiment' };
  }
}

/**
 * Why a pipeline cannot run on this platform yet (empty when it can): ops must use inline templates
 * or `path` templates sent with the run (`myelin run` sends them), of a kind that runs today.
 */
export function pipelineProblems(spec: CompiledSpec, templateFiles: Array<{ path: string; content: string }> = []): string[] {
  const problems: string[] = [];
  const templates = new Map<string, { name: string; kind: string }>((spec.raw.templates ?? []).map((t) => [t.name, t]));
  for (const file of templateFiles) {
    let kind = 'experiment';
    try {
      const doc = parseYaml(file.content) as { kind?: unknown } | null;
      if (typeof doc?.kind === 'string') kind = doc.kind;
    } catch {
      problems.push(`template ${file.path}: not valid YAML`);
    }
    templates.set(`path:${file.path}`, { name: file.path, kind });
  }
  for (const op of spec.raw.ops ?? []) {
    const ref = op.template;
    const sent = templateFileOf(ref);
    if (sent && !templates.has(`path:${sent}`)) {
      const how = ref.path ? '`myelin run` sends path templates from the code directory' : '`myelin run` fetches url templates and sends them';
      problems.push(`op "${op.name}": template ${sent} was not sent with the run (${how})`);
      continue;
    }
    if (!ref.name && !sent) {
      const how = ref.action ? `action ${ref.action}` : `event ${ref.event ?? '?'}`;
      problems.push(`op "${op.name}": template ${how}: only inline templates (template: {name: ...}), path and url templates run today`);
      continue;
    }
    const t = templates.get(sent ? `path:${sent}` : ref.name!);
    if (t && t.kind !== 'experiment' && t.kind !== 'job' && t.kind !== 'group') {
      problems.push(`op "${op.name}": template "${t.name}" is a ${t.kind}; ops run experiments, jobs and groups today`);
    }
  }
  return problems;
}

/** Resuming a resumed run continues the root original's outputs (Polyaxon's rule). */
function rootOriginal(run: RunEntity, strategy: CloningStrategy): string {
  return strategy === 'resume' && run.cloningStrategy === 'resume' && run.originalUuid ? run.originalUuid : run.uuid;
}

/** The "run created" event of a run, with what its kind adds (a parent, a group's hptuning, a pipeline's spec). */
export function runCreatedEvent(projectName: string, extra: Omit<Partial<RunCreated.Payload>, 'runUuid' | 'project' | 'number' | 'kind' | 'at'> = {}): OutboxMessage {
  return {
    kind: 'event',
    pattern: RunCreated.PATTERN,
    payload: (r) => ({ runUuid: r.uuid, project: projectName, number: r.number, kind: r.kind, at: r.createdAt.toISOString(), ...extra }) satisfies RunCreated.Payload,
  };
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
