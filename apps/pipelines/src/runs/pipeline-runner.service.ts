import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { GroupStatusChanged, isFinal, PipelineOpCreate, PipelineOpMark, RunCreated, RunStatus, RunStatusChanged } from '@myelin/contracts';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';
import {
  CacheCandidate,
  CacheInput,
  CacheKey,
  cacheKey,
  createPipelineEngine,
  decideCache,
  Decisions,
  EngineSnapshot,
  pipelineGraphFromSpec,
  PipelineEngine,
  PipelineGraph,
  planResume,
  ResumePlan,
  resolveOpParams,
  restorePipelineEngine,
  scanOutputRefs,
} from '@myelin/dag';
import { OutboxRelay } from '@myelin/persistence';
import { templateFileOf } from '@myelin/spec';
import type { CompiledSpec, ParamValue } from '@myelin/spec';
import { OP_OUTPUTS, PIPELINES_ENV } from '../tokens';
import { PipelinesEnv } from '../config/env';
import { OpOutputsReader } from './op-outputs';
import { admitAheadOf } from './admit-ahead';
import { ScheduleService } from '../schedules/schedule.service';
import { ActionRow, PipelineRow, PipelinesRepository } from './pipelines.repository';

/** What the engine is told in one step (also the `input` of the decision log). */
export type EngineInput =
  | { type: 'start' }
  | { type: 'status'; op: string; attempt: number; status: RunStatus; runUuid: string; outputs?: Record<string, ParamValue>; problem?: string }
  | { type: 'tick' }
  | { type: 'cache'; op: string; attempt: number; run: string }
  | { type: 'stop'; reason: string };

const FINAL_OP_STATES = new Set(['succeeded', 'failed', 'upstream_failed', 'skipped', 'stopped']);

/** An input waiting for the step that takes it, and how to tell its sender the outcome. */
interface StepWaiter {
  input: EngineInput;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** What the inputs of one step left for its snapshot write. */
interface StepOutcome {
  decided: boolean;
  wakeAt?: number;
  done?: Decisions['done'];
}

/**
 * Runs pipeline runs with the libs/dag engine. Every step — "start", an op run's final status, a
 * due timer, "stop" — locks the pipeline's row, restores the engine from its snapshot, takes the
 * decisions, and writes the new snapshot, the decision log and one action per decision in the same
 * transaction. Only then are the actions carried out (op runs asked from the API with
 * PipelineOpCreate, stops sent with RunStop), each marked done once acknowledged. An action is
 * keyed by (pipeline run, op, attempt, kind) and the API keys op runs the same way, so a crash at
 * any point repeats an action at most, never doubles its effect.
 */
@Injectable()
export class PipelineRunnerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Pipelines');
  private readonly chains = new Map<string, Promise<void>>();
  /** Per pipeline run, the inputs gathered for its next step (see step). */
  private readonly inbox = new Map<string, StepWaiter[]>();
  private readonly graphs = new Map<string, PipelineGraph>();
  /**
   * The engine of each active pipeline run as the last committed step left it, with the row's
   * version then: the next step reuses it instead of restoring the snapshot (O(ops)) when the row
   * was not written since. Taken out while a step runs, put back only after its commit.
   */
  private readonly engines = new Map<
    string,
    { engine: PipelineEngine; row: PipelineRow; version: string; elsewhere: { counts: Map<string, number> }; written: Map<number, string> }
  >();
  private readonly limited = new Map<string, boolean>();
  /** Per pipeline run, the engine's `admitAhead` (see admitAheadOf): read from its spec once, not at every step. */
  private readonly aheads = new Map<string, number>();
  private readonly codeRefs = new Map<string, { ref: string | undefined; at: number; pinned: boolean }>();
  /** Final statuses that arrived before their op run was attached to its action (the reply was slower than the run). */
  private readonly early = new Map<string, { status: RunStatus; at: number }>();
  /** Op runs whose outputs, read through tracking, were not in its store yet: since when. */
  private readonly outputsAwaited = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private lastCheck = 0;
  private ticking = false;
  private closing = false;

  constructor(
    private readonly repo: PipelinesRepository,
    private readonly relay: OutboxRelay,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(PIPELINES_ENV) private readonly env: PipelinesEnv,
    @Inject(OP_OUTPUTS) private readonly outputs: OpOutputsReader,
    private readonly schedules: ScheduleService,
  ) {}

  onApplicationBootstrap(): void {
    this.relay.start();
    // Catch up after a restart: unstarted runs, due timers, pending actions, op runs that ended meanwhile.
    this.lastCheck = 0;
    void this.tick(true);
    this.timer = setInterval(() => void this.tick(false), this.env.MYELIN_PIPELINES_TICK_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.chains.values()]);
    await this.relay.stop();
  }

  // ------------------------------------------------------------------ inputs

  async runCreated(event: RunCreated.Payload): Promise<void> {
    if (event.kind !== 'pipeline' || !event.pipeline) return;
    // A scheduled pipeline is a schedule: its slots become pipeline runs of their own.
    if ((event.pipeline as unknown as CompiledSpec).raw?.schedule) return this.schedules.created(event.runUuid, event.project, event.pipeline);
    await this.repo.insertRun(event.runUuid, event.project, event.pipeline, event.resumeOf ?? null);
    await this.step(event.runUuid, { type: 'start' });
  }

  async runStatusChanged(event: RunStatusChanged.Payload): Promise<void> {
    // Only op runs matter here: a run the sender says belongs to nothing, or to a group, is not looked up.
    if (!isFinal(event.status) || event.parentUuid === null || event.parentKind === 'group') return;
    const action = await this.repo.startByRun(event.runUuid);
    if (!action) {
      // Maybe an op run whose PipelineOpCreate reply is still on its way: keep the status a while.
      this.early.set(event.runUuid, { status: event.status, at: Date.now() });
      return;
    }
    await this.opEnded(action, event.runUuid, event.status);
  }

  /** An op whose template is a group ended (the optimizer reports groups, not the scheduler): its outputs come from the API. */
  async groupStatusChanged(event: GroupStatusChanged.Payload): Promise<void> {
    if (event.status === 'running') return;
    const action = await this.repo.startByRun(event.groupUuid);
    if (!action) return;
    // The API applies the same event at the same time: ask until it shows the group's final status
    // (the periodic confirmation catches up otherwise).
    for (let tries = 0; tries < 10; tries++) {
      const reply = await this.bus.request<PipelineOpCreate.Reply>(
        PipelineOpCreate.PATTERN,
        { pipelineUuid: action.pipelineUuid, op: action.op, attempt: action.attempt, params: action.params } satisfies PipelineOpCreate.Payload,
        15_000,
      );
      if (isFinal(reply.status as RunStatus)) {
        return this.opEnded(action, reply.runUuid, reply.status as RunStatus, reply.outputs as Record<string, ParamValue> | undefined);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  async stop(pipelineUuid: string, reason = 'stopped by request'): Promise<void> {
    if (await this.schedules.stop(pipelineUuid)) return;
    const row = await this.repo.find(this.repo.dataSource, pipelineUuid);
    // "run created" may not be processed yet: fail, so the bus delivers the command again later.
    if (!row) throw new Error(`pipeline run ${pipelineUuid} is not known yet`);
    await this.step(pipelineUuid, { type: 'stop', reason });
  }

  /** An op run ended: its outputs are read once, on success, then the engine decides. */
  private async opEnded(action: ActionRow, runUuid: string, status: RunStatus, given?: Record<string, ParamValue>): Promise<void> {
    const remember = async (outputs: Record<string, unknown>) => {
      if (action.cacheScope && action.cacheKey) await this.repo.remember(runUuid, action.cacheScope, action.cacheKey, status, outputs);
    };
    let outputs: Record<string, ParamValue> | undefined;
    let problem: string | undefined;
    if (status === 'done') outputs = given ?? {}; // a group op: the best trial's params and metric
    if (status === 'succeeded') {
      const read = await this.outputs.read(runUuid);
      if (read.absentElsewhere && (await this.outputsReferenced(action))) {
        // Not in the store yet, and a later op needs them: the run is not ended here, so the
        // periodic confirmation looks again (MYELIN_OP_CHECK_SECONDS), up to MYELIN_OUTPUTS_WAIT_SECONDS.
        const since = this.outputsAwaited.get(runUuid) ?? Date.now();
        this.outputsAwaited.set(runUuid, since);
        if (Date.now() - since < this.env.MYELIN_OUTPUTS_WAIT_SECONDS * 1000) {
          this.logger.log(`pipeline ${action.pipelineUuid}: op ${action.op}: outputs.json of op run ${runUuid} is not in the artifacts store yet; looking again`);
          await this.repo.touch(action.id);
          return;
        }
      }
      this.outputsAwaited.delete(runUuid);
      outputs = read.outputs;
      problem = read.problem;
      if (problem) this.logger.warn(`pipeline ${action.pipelineUuid}: op ${action.op}: ${problem}`);
    }
    // Recorded once the outputs are in hand: a read that failed (tracking not answering) leaves the
    // op run unended here, so the redelivered event or the periodic confirmation ends it again.
    await this.repo.setRunStatus(runUuid, status);
    await remember(outputs ?? {});
    await this.step(action.pipelineUuid, { type: 'status', op: action.op, attempt: action.attempt, status, runUuid, ...(outputs ? { outputs } : {}), ...(problem ? { problem } : {}) });
  }

  /** Whether a later op of the pipeline uses this op's outputs: `{{ ops.<op>.outputs.<name> }}` in its params, or an outputs condition. */
  private async outputsReferenced(action: ActionRow): Promise<boolean> {
    const row = await this.repo.find(this.repo.dataSource, action.pipelineUuid);
    const ops = (row?.spec as unknown as CompiledSpec | undefined)?.raw.ops ?? [];
    return ops.some(
      (op) =>
        scanOutputRefs(JSON.stringify(op.params ?? {})).refs.some((ref) => ref.op === action.op) ||
        (op.conditions ?? []).some((c) => c.kind === 'outputs' && c.op === action.op),
    );
  }

  // ------------------------------------------------------------------ steps

  /**
   * One decision step then the actions it asked for, never two steps at once for one pipeline run
   * in this process. Inputs that arrive while a step runs are taken together by the next one: one
   * transaction and one snapshot write for all of them (a wide pipeline's ops end by the dozen, and
   * the snapshot of a 1,000-op run is tens of kB), each input still logged and decided in order.
   */
  step(pipelineUuid: string, input: EngineInput): Promise<void> {
    const open = this.inbox.get(pipelineUuid);
    return new Promise<void>((resolve, reject) => {
      const entry = { input, resolve, reject };
      if (open) {
        open.push(entry);
        return;
      }
      const batch = [entry];
      this.inbox.set(pipelineUuid, batch);
      void this.serial(pipelineUuid, () => this.stepBatch(pipelineUuid, batch));
    });
  }

  private async stepBatch(pipelineUuid: string, batch: StepWaiter[]): Promise<void> {
    // From here on, new inputs wait for the next step.
    if (this.inbox.get(pipelineUuid) === batch) this.inbox.delete(pipelineUuid);
    try {
      await this.decide(pipelineUuid, batch.map((w) => w.input));
    } catch (error) {
      if (batch.length === 1) return batch[0].reject(error);
      // One input may be what fails: decide each alone, so the others are not held back (nor redelivered) with it.
      for (const w of batch) {
        try {
          await this.decide(pipelineUuid, [w.input]);
          w.resolve();
        } catch (alone) {
          w.reject(alone);
        }
      }
      await this.act(pipelineUuid).catch((e: unknown) => this.logger.warn(`pipeline ${pipelineUuid}: ${String(e)}`));
      return;
    }
    try {
      await this.act(pipelineUuid);
      for (const w of batch) w.resolve();
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  }

  private serial(key: string, work: () => Promise<void>): Promise<void> {
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    this.chains.set(key, next);
    void next.finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
    return next;
  }

  private graphOf(row: PipelineRow): PipelineGraph {
    let graph = this.graphs.get(row.uuid);
    if (!graph) {
      graph = pipelineGraphFromSpec(row.spec as unknown as CompiledSpec);
      this.graphs.set(row.uuid, graph);
    }
    return graph;
  }

  private async decide(pipelineUuid: string, inputs: EngineInput[]): Promise<void> {
    const cached = this.engines.get(pipelineUuid);
    this.engines.delete(pipelineUuid);
    const kept = await this.repo.dataSource.transaction(async (m) => {
      const lean = await this.repo.lockLean(m, pipelineUuid);
      if (!lean || lean.status !== 'running') return undefined;
      const fresh = cached && cached.version === lean.version ? cached : undefined;
      const row = fresh?.row ?? (await this.repo.find(m, pipelineUuid));
      if (!row) return undefined;
      let started = lean.started;
      const graph = this.graphOf(row);
      let engine: PipelineEngine;
      let reuse: Map<string, string> | undefined;
      // Op-level `concurrency` counts the op's runs in the other runs of the same pipeline (project and name).
      let limited = this.limited.get(pipelineUuid);
      if (limited === undefined) {
        limited = graph.topologicalOrder().some((op) => graph.op(op).concurrency !== undefined);
        this.limited.set(pipelineUuid, limited);
      }
      let ahead = this.aheads.get(pipelineUuid);
      if (ahead === undefined) {
        ahead = admitAheadOf(row.spec as unknown as CompiledSpec);
        this.aheads.set(pipelineUuid, ahead);
      }
      const elsewhere = fresh?.elsewhere ?? { counts: new Map<string, number>() };
      if (limited) elsewhere.counts = await this.repo.runningElsewhere(m, row);
      const options = {
        admitAhead: ahead,
        ...(limited ? { runningElsewhere: (op: string) => elsewhere.counts.get(op) ?? 0 } : {}),
      };
      if (fresh) engine = fresh.engine;
      else if (row.snapshot) engine = restorePipelineEngine(graph, row.snapshot as unknown as EngineSnapshot, options);
      else {
        const resume = row.resumeOf ? await this.resumePlan(m, row.resumeOf, graph) : undefined;
        reuse = resume?.runs;
        engine = createPipelineEngine(graph, resume ? { ...options, resume: resume.plan } : options);
      }
      const outcome: StepOutcome = { decided: false };
      for (const input of inputs) {
        const now = Date.now();
        let d: Decisions;
        switch (input.type) {
          case 'start':
            if (started) continue; // already started (a repeated "run created")
            await this.repo.announce(m, pipelineUuid, 'running', 'Running', `${graph.size} ops`);
            d = engine.start(now);
            started = true;
            break;
          case 'status':
            if (!started) continue;
            d = engine.onStatus(input.op, input.status, now, { attempt: input.attempt, ...(input.outputs ? { outputs: input.outputs } : {}) });
            break;
          case 'tick':
          case 'cache':
            if (!started) continue;
            d = engine.tick(now);
            break;
          case 'stop':
            if (!started) {
              // Stopped before its first step: start it to have every op decided, then stop at once.
              await this.repo.announce(m, pipelineUuid, 'running', 'Running', `${graph.size} ops`);
              const first = engine.start(now);
              await this.record(m, row, engine, { type: 'start' }, first, outcome, reuse);
              started = true;
            }
            d = engine.stop(now, input.reason);
            break;
        }
        await this.record(m, row, engine, input, d, outcome, reuse);
        if (engine.done) break;
      }
      if (!outcome.decided) return undefined;
      // The snapshot once per step, after every input of it (and every cache hit they led to).
      const held = !outcome.done && engine.readyQueue().some((op) => graph.op(op).concurrency !== undefined);
      // Ops held by an op-level concurrency limit wait for runs elsewhere to end: look again in a second.
      const wakeAt = held ? Math.min(outcome.wakeAt ?? Infinity, Date.now() + 1000) : outcome.wakeAt;
      // Only the op rows that changed since the last save are written (see the repository).
      const written = await this.repo.save(m, pipelineUuid, engine.toJSON(), outcome.done ? undefined : wakeAt, outcome.done?.status, fresh?.written ?? row.opsWritten);
      if (engine.done) return undefined;
      const stripped: PipelineRow = { ...row, snapshot: null, opsWritten: undefined };
      return { engine, row: stripped, version: await this.repo.version(m, pipelineUuid), elsewhere, written };
    });
    if (kept) this.engines.set(pipelineUuid, kept);
    else {
      this.graphs.delete(pipelineUuid);
      this.limited.delete(pipelineUuid);
      this.aheads.delete(pipelineUuid);
      this.codeRefs.delete(pipelineUuid);
    }
    this.relay.poke();
  }

  /**
   * Write the decisions down as actions (and the final status), before anything is acted on; what
   * the snapshot write needs goes into `outcome` (the step writes it once, in the same transaction).
   */
  private async record(
    m: EntityManager,
    row: PipelineRow,
    engine: PipelineEngine,
    input: EngineInput,
    d: Decisions,
    outcome: StepOutcome,
    reuse?: Map<string, string>,
  ): Promise<void> {
    const uuid = row.uuid;
    outcome.decided = true;
    outcome.wakeAt = d.wakeAt;
    if (d.done) outcome.done = d.done;
    const graph = engine.graph;
    const changed =
      d.start.length + d.skip.length + d.upstreamFailed.length + d.retryAt.length + d.stop.length + d.stopped.length + d.delayed.length + d.reused.length > 0 ||
      d.done !== undefined;
    if (changed || input.type !== 'tick') {
      const { ignored, ...rest } = d;
      await this.repo.logDecision(m, uuid, input.type === 'status' ? { ...input, outputs: undefined, hasOutputs: input.outputs !== undefined } : input, {
        ...rest,
        ...(ignored ? { ignored } : {}),
      });
    }
    for (const op of d.reused) {
      const from = reuse?.get(op);
      await this.repo.insertAction(m, uuid, {
        op,
        attempt: 0,
        kind: 'reuse',
        reason: from ? `succeeded in op run ${from} of the retried pipeline run` : 'succeeded in the retried pipeline run',
        ...(from ? { reusedFrom: from } : {}),
      });
    }
    const hits: Array<{ op: string; attempt: number; run: string; outputs: Record<string, ParamValue> }> = [];
    for (const s of d.start) {
      const op = graph.op(s.op);
      const resolved = resolveOpParams(op.params, (name) => engine.outputsOf(name));
      if (resolved.missing.length) {
        // The op cannot start: an upstream op succeeded without the output it needs. The attempt fails at once.
        await this.repo.insertAction(m, uuid, {
          op: s.op,
          attempt: s.attempt,
          kind: 'start',
          mark: 'failed',
          reason: `missing upstream outputs: ${resolved.missing.join(', ')} (an op writes its outputs to $MYELIN_OUTPUTS_PATH/outputs.json)`,
          params: resolved.params,
        });
        continue;
      }
      if (!op.cache) {
        await this.repo.insertAction(m, uuid, { op: s.op, attempt: s.attempt, kind: 'start', reason: s.reason, params: resolved.params });
        continue;
      }
      // `cache: true`: an earlier run of this op with the same content key is reused instead of run.
      const scope = `${row.project}/${(row.spec['name'] as string | undefined) ?? '-'}/${s.op}`;
      const input = this.cacheInput(row, s.op, resolved.params, await this.codeRefOf(row));
      const noCache = row.spec['noCache'] === true;
      const entries = noCache ? [] : await this.repo.cacheCandidates(m, scope);
      const candidates: CacheCandidate[] = entries.map((c) => ({ key: c.key as unknown as CacheKey, run: c.runUuid, status: c.status as RunStatus, finishedAt: c.finishedAt.getTime() }));
      const decision = noCache ? undefined : decideCache(input, candidates, { enabled: true });
      if (decision?.hit) {
        const entry = entries.find((c) => c.runUuid === decision.run)!;
        await this.repo.insertAction(m, uuid, { op: s.op, attempt: s.attempt, kind: 'cached', reason: `cache hit: ${decision.reason}`, params: resolved.params, reusedFrom: String(decision.run) });
        hits.push({ op: s.op, attempt: s.attempt, run: String(decision.run), outputs: entry.outputs as Record<string, ParamValue> });
        continue;
      }
      const why = decision ? `cache miss (${decision.code}): ${decision.reason}` : 'cache refresh: --no-cache was asked, the op runs again';
      await this.repo.insertAction(m, uuid, {
        op: s.op,
        attempt: s.attempt,
        kind: 'start',
        reason: why,
        params: resolved.params,
        cacheScope: scope,
        cacheKey: decision && !decision.hit && decision.key ? decision.key : cacheKey(input),
      });
    }
    const marks: Array<[PipelineOpMark, Decisions['skip']]> = [
      ['skipped', d.skip],
      ['upstream_failed', d.upstreamFailed],
      ['stopped', d.stopped],
    ];
    for (const [mark, list] of marks) {
      for (const x of list) await this.repo.insertAction(m, uuid, { op: x.op, attempt: 0, kind: 'mark', mark, reason: x.reason, params: { ...graph.op(x.op).params } });
    }
    for (const s of d.stop) await this.repo.insertAction(m, uuid, { op: s.op, attempt: s.attempt, kind: 'stop', reason: s.reason });
    if (d.done) {
      const c = d.done.counts;
      const counts = Object.entries(c)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ');
      await this.schedules.pipelineDone(m, uuid, row.resumeOf, d.done.status);
      await this.repo.announce(m, uuid, d.done.status, d.done.status === 'succeeded' ? 'Succeeded' : d.done.status[0].toUpperCase() + d.done.status.slice(1), /\bin all\b|succeeded/.test(d.done.reason) ? d.done.reason : `${d.done.reason} (${counts})`);
    }
    // Cache hits succeed at once, with the outputs of the run they reuse; their downstream ops are decided now.
    for (const hit of hits) {
      const next = engine.onStatus(hit.op, 'succeeded', Date.now(), { attempt: hit.attempt, outputs: hit.outputs });
      await this.record(m, row, engine, { type: 'cache', op: hit.op, attempt: hit.attempt, run: hit.run }, next, outcome, reuse);
    }
  }

  /**
   * The version of the code an op started now would run: the content reference of the pipeline's
   * code snapshot (taken by the executor when the first op was queued), or before that of the code
   * directory, else the reference sent with the submission when neither can be read here (another
   * host). Read inside the step's transaction, which a code directory's walk then holds: only for
   * `cache: true` ops, at most once a second per pipeline run (a step may start many of them), and
   * once only after the snapshot exists.
   */
  private async codeRefOf(row: PipelineRow): Promise<string | undefined> {
    const known = this.codeRefs.get(row.uuid);
    if (known && (known.pinned || Date.now() - known.at < 1000)) return known.ref;
    const dir = row.spec['codeDir'];
    const submitted = typeof row.spec['codeRef'] === 'string' ? row.spec['codeRef'] : undefined;
    const read = typeof dir === 'string' ? await this.outputs.codeRef(row.uuid, dir) : { ref: null, pinned: false };
    const ref = read.ref ?? submitted;
    // The snapshot's reference is final (it never changes); the directory's is read again after a second.
    this.codeRefs.set(row.uuid, { ref, at: Date.now(), pinned: read.pinned });
    return ref;
  }

  /** What an op's cache key covers: its template with the op's own environment/build, its resolved params, the code, the image. */
  private cacheInput(row: PipelineRow, opName: string, params: Record<string, ParamValue>, code: string | undefined): CacheInput {
    const spec = row.spec as unknown as CompiledSpec;
    const op = spec.raw.ops?.find((o) => o.name === opName);
    const ref = op?.template;
    const codeRef = code ? { codeRef: code } : {};
    // The op's own environment/build go over its template's (the API merges them), so they are part of what it runs.
    const own = op?.environment || op?.build ? { op: { environment: op.environment ?? null, build: op.build ?? null } } : {};
    const sent = ref && templateFileOf(ref);
    if (sent) {
      const files = (row.spec['templateFiles'] ?? []) as Array<{ path: string; content: string }>;
      const image = op?.build?.image;
      return { template: { path: sent, content: files.find((f) => f.path === sent)?.content ?? null, ...own }, params, ...codeRef, ...(image ? { image } : {}) };
    }
    const template = spec.raw.templates?.find((t) => t.name === ref?.name);
    const image = op?.build?.image ?? template?.build?.image;
    return { template: template ? { ...template, ...own } : null, params, ...codeRef, ...(image ? { image } : {}) };
  }

  /**
   * Retry from the failed node: the previous run's op states from its snapshot, planned with
   * planResume; the reused ops keep a link to the op run that succeeded (or that was itself reused).
   */
  private async resumePlan(m: EntityManager, previousUuid: string, graph: PipelineGraph): Promise<{ plan: ResumePlan; runs: Map<string, string> } | undefined> {
    const previous = await this.repo.find(m, previousUuid);
    if (!previous?.snapshot) {
      this.logger.warn(`retry of ${previousUuid}: the earlier run is unknown here; every op runs again`);
      return undefined;
    }
    let old: PipelineEngine;
    try {
      old = restorePipelineEngine(pipelineGraphFromSpec(previous.spec as unknown as CompiledSpec), previous.snapshot as unknown as EngineSnapshot);
    } catch (error) {
      this.logger.warn(`retry of ${previousUuid}: cannot restore the earlier run (${String(error)}); every op runs again`);
      return undefined;
    }
    const statuses: Record<string, RunStatus | undefined> = {};
    const outputs: Record<string, Record<string, ParamValue> | undefined> = {};
    for (const op of graph.topologicalOrder()) {
      if (!old.graph.has(op)) continue;
      const view = old.view(op);
      if (FINAL_OP_STATES.has(view.state)) statuses[op] = view.state as RunStatus;
      const outs = old.outputsOf(op);
      if (outs) outputs[op] = { ...outs };
    }
    const plan = planResume(graph, statuses, outputs);
    const runs = new Map<string, string>();
    for (const a of await this.repo.actions(m, previousUuid)) {
      if (a.kind === 'start' && a.runStatus === 'succeeded' && a.runUuid) runs.set(a.op, a.runUuid);
      if (a.kind === 'reuse') runs.set(a.op, a.reusedFrom ?? a.runUuid ?? '');
    }
    for (const [op, run] of runs) if (!run) runs.delete(op);
    return { plan, runs };
  }

  // ------------------------------------------------------------------ actions

  /** Carry out the pending actions in order; stop at the first failure (the next pass retries). */
  private async act(pipelineUuid: string): Promise<void> {
    const pending = await this.repo.pendingActions(pipelineUuid);
    for (let i = 0; i < pending.length; ) {
      if (this.closing) return;
      const action = pending[i];
      try {
        if (action.kind === 'stop') {
          const start = await this.repo.startOf(pipelineUuid, action.op, action.attempt);
          if (start?.runUuid) await this.repo.enqueueStop(this.repo.dataSource, start.runUuid, action.reason);
          else if (start && !start.doneAt) return; // its op run is not created yet
          await this.repo.complete(action.id, null, null);
          this.relay.poke();
          i++;
          continue;
        }
        // Op runs are independent of each other: up to 8 requests at once (stops wait for the starts before them).
        const batch: ActionRow[] = [];
        while (i < pending.length && pending[i].kind !== 'stop' && batch.length < 8) batch.push(pending[i++]);
        const results = await Promise.allSettled(batch.map((a) => this.createOpRun(pipelineUuid, a)));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      } catch (error) {
        if (/pipeline run \S+ not found/.test(String(error))) {
          // The pipeline run was deleted through the API: nothing left to act on.
          this.logger.warn(`pipeline ${pipelineUuid}: deleted in the API; dropping it`);
          await this.repo.drop(pipelineUuid);
          return;
        }
        this.logger.warn(`pipeline ${pipelineUuid}: ${action.kind} ${action.op}#${action.attempt} not done yet (${String(error)}); retrying later`);
        return;
      }
    }
  }

  /** Ask the API for an action's op run (idempotent), then mark the action done. */
  private async createOpRun(pipelineUuid: string, action: ActionRow): Promise<void> {
    const reply = await this.bus.request<PipelineOpCreate.Reply>(
      PipelineOpCreate.PATTERN,
      {
        pipelineUuid,
        op: action.op,
        attempt: action.attempt,
        params: action.params,
        ...(action.mark ? { mark: action.mark as PipelineOpMark } : {}),
        ...(action.reason ? { reason: action.reason } : {}),
        ...(action.reusedFrom ? { reusedFrom: action.reusedFrom } : {}),
        ...(action.kind === 'cached' ? { cached: true } : {}),
      } satisfies PipelineOpCreate.Payload,
      15_000,
    );
    await this.repo.complete(action.id, reply.runUuid, reply.status);
    if (action.kind !== 'start') return;
    const early = this.early.get(reply.runUuid);
    this.early.delete(reply.runUuid);
    const status = isFinal(reply.status as RunStatus) ? (reply.status as RunStatus) : early?.status;
    // Ended already (a mark for a failed start, a stop that came first, a status that beat the reply): tell the engine now.
    if (status) await this.later(() => this.opEnded({ ...action, runUuid: reply.runUuid }, reply.runUuid, status, reply.outputs as Record<string, ParamValue> | undefined));
  }

  /** Queue work after the current step of the same pipeline (a step must not wait on itself). */
  private later(work: () => Promise<void>): Promise<void> {
    void Promise.resolve().then(work).catch((error: unknown) => this.logger.warn(`pipelines: ${String(error)}`));
    return Promise.resolve();
  }

  // ------------------------------------------------------------------ timer

  private async tick(boot: boolean): Promise<void> {
    if (this.ticking || this.closing) return;
    this.ticking = true;
    try {
      if (boot) for (const uuid of await this.repo.unstarted()) await this.step(uuid, { type: 'start' });
      const { due, pending } = await this.repo.needingAttention(new Date());
      for (const uuid of due) await this.step(uuid, { type: 'tick' });
      for (const uuid of pending) if (!due.includes(uuid)) await this.serial(uuid, () => this.act(uuid));
      await this.schedules.pass();
      const checkMs = this.env.MYELIN_OP_CHECK_SECONDS * 1000;
      if (boot || Date.now() - this.lastCheck >= Math.min(checkMs, 1000)) {
        this.lastCheck = Date.now();
        await this.confirm(boot ? 0 : checkMs);
      }
      const cutoff = Date.now() - 60_000;
      for (const [run, e] of this.early) if (e.at < cutoff) this.early.delete(run);
      const waited = Date.now() - 2 * this.env.MYELIN_OUTPUTS_WAIT_SECONDS * 1000 - 60_000;
      for (const [run, since] of this.outputsAwaited) if (since < waited) this.outputsAwaited.delete(run);
    } catch (error) {
      this.logger.warn(`pipelines pass failed: ${String(error)}`);
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Confirm running op runs with the API (the idempotent PipelineOpCreate returns the run as it is):
   * an op run that ended while this service was down, or whose event was lost, is caught up here.
   */
  private async confirm(olderThanMs: number): Promise<void> {
    for (const action of await this.repo.staleStarts(olderThanMs)) {
      try {
        const reply = await this.bus.request<PipelineOpCreate.Reply>(
          PipelineOpCreate.PATTERN,
          { pipelineUuid: action.pipelineUuid, op: action.op, attempt: action.attempt, params: action.params } satisfies PipelineOpCreate.Payload,
          15_000,
        );
        if (isFinal(reply.status as RunStatus)) await this.opEnded(action, reply.runUuid, reply.status as RunStatus, reply.outputs as Record<string, ParamValue> | undefined);
        else await this.repo.touch(action.id);
      } catch (error) {
        this.logger.warn(`pipeline ${action.pipelineUuid}: could not confirm op ${action.op}#${action.attempt} (${String(error)})`);
        return;
      }
    }
  }
}
