/**
 * The pipeline decision engine. It keeps, for every op, counts of its upstream ops' final statuses,
 * so a status event costs the out-degree of the op that changed (plus the ops it decides in turn),
 * never a walk of the graph. It reads no clock and does no I/O: the caller passes `now`, applies
 * the returned decisions and reports statuses back.
 */
import type { ParamValue } from '@myelin/spec';
import { EDGE_DATA, EDGE_GATE, PipelineGraph, toMillis } from './graph';
import {
  conditionHolds,
  describeCondition,
  describeTrigger,
  retryDelaySeconds,
  StatusClass,
  triggerVerdict,
  UpstreamCounts,
} from './policy';
import { Timer, TimerHeap, TimerKind } from './timers';
import type { Decisions, Millis, OpState, OpStatus, OpView, PipelineDone, StatusReport } from './types';

// op states, in this order: everything from SUCCEEDED on is final
const WAITING = 0;
const DELAYED = 1;
const READY = 2;
const BLOCKED = 3;
const RUNNING = 4;
const RETRYING = 5;
const SUCCEEDED = 6;
const FAILED = 7;
const UPSTREAM_FAILED = 8;
const SKIPPED = 9;
const STOPPED = 10;
const STATE_NAMES: readonly OpState[] = [
  'waiting',
  'delayed',
  'ready',
  'blocked',
  'running',
  'retrying',
  'succeeded',
  'failed',
  'upstream_failed',
  'skipped',
  'stopped',
];
const isFinalState = (s: number): boolean => s >= SUCCEEDED;

export type PipelinePhase = 'created' | 'scheduled' | 'running' | 'stopping' | 'done';

export interface EngineOptions {
  /** Overrides the pipeline's `concurrency` (max ops of this run running at once). */
  concurrency?: number;
  /** Overrides the pipeline's `timeout` (seconds). */
  timeout?: number;
  /** Overrides the pipeline's `execute_at`. */
  executeAt?: string | Millis;
  /**
   * How many runs of an op are active in other runs of the same pipeline, for the op-level
   * `concurrency` (a limit across pipeline runs that one engine cannot see). Asked only for ops
   * that set `concurrency`; when capacity frees up elsewhere, call `tick(now)`. Default: none elsewhere.
   */
  runningElsewhere?: (op: string) => number;
  /**
   * How many ops may be started beyond the pipeline's `concurrency`, for an executor that enforces
   * that concurrency itself over every op run of the pipeline run (Myelin's scheduler keeps them
   * `queued` with a `PipelineLimit` condition). The next op is then already in the executor's queue
   * when one ends, instead of being created only once that end has been seen. Only ops without an
   * op `timeout` (its clock would run while queued) or an op `concurrency` (held by the engine) go
   * past the limit, in queue order. Default 0: the engine alone holds ops at the limit.
   */
  admitAhead?: number;
  /** Resume: ops taken as succeeded from an earlier run (see `planResume`). */
  resume?: { reuse: readonly string[]; outputs?: Readonly<Record<string, Record<string, ParamValue>>> };
}

export interface OpSnapshot {
  state: OpState;
  attempt: number;
  startedAt?: Millis;
  until?: Millis;
  timedOut?: boolean;
  reason?: string;
  outputs?: Record<string, ParamValue>;
}

/**
 * One op of a version 2 snapshot: `[op index, state code, attempt, startedAt, until, timedOut,
 * reason, outputs]`, the trailing absent fields left out (null in the middle). The op index is its
 * place in the graph (the fingerprint pins the graph), the state code its place in the state list
 * below (fixed for version 2), startedAt and until are ms after the pipeline's start.
 */
export type OpRow = [
  op: number,
  state: number,
  attempt: number,
  startedAt?: number | null,
  until?: number | null,
  timedOut?: 1 | null,
  reason?: string | null,
  outputs?: Record<string, ParamValue> | null,
];

/**
 * JSON-safe state of an engine: `restorePipelineEngine(graph, snapshot)` continues exactly where it
 * was. Version 2 (written now) names ops by their index in the graph and writes an op as a row:
 * a 1,000-op pipeline's snapshot, written at every step, went from about 57 kB to 10 kB. Version 1
 * (op names, an object per op) is still read.
 */
export type EngineSnapshot = EngineSnapshotV1 | EngineSnapshotV2;

export interface EngineSnapshotV2 {
  version: 2;
  fingerprint: string;
  phase: PipelinePhase;
  startedAt?: Millis;
  stop?: { kind: 'stopped' | 'timeout'; message: string };
  done?: PipelineDone;
  firstFailed?: number;
  firstUpstreamFailed?: number;
  timerSeq: number;
  /** Ops that left `waiting`, except ready ones at their first attempt with nothing else to say (`queue` has them). */
  ops: OpRow[];
  /** Ready queue, in start order. */
  queue: number[];
  /** Ready ops held back by their op-level concurrency. */
  blocked: number[];
  timers: Array<{ at: Millis; seq: number; kind: TimerKind; op?: number; attempt: number }>;
  reused: number[];
}

export interface EngineSnapshotV1 {
  version: 1;
  fingerprint: string;
  phase: PipelinePhase;
  startedAt?: Millis;
  stop?: { kind: 'stopped' | 'timeout'; message: string };
  done?: PipelineDone;
  firstFailed?: string;
  firstUpstreamFailed?: string;
  timerSeq: number;
  /** Ops that left `waiting` (the others are implied). */
  ops: Record<string, OpSnapshot>;
  /** Ready queue, in start order. */
  queue: string[];
  /** Ready ops held back by their op-level concurrency. */
  blocked: string[];
  timers: Array<{ at: Millis; seq: number; kind: TimerKind; op?: string; attempt: number }>;
  reused: string[];
}

const empty = (): Decisions => ({
  start: [],
  skip: [],
  upstreamFailed: [],
  retryAt: [],
  stop: [],
  stopped: [],
  delayed: [],
  queued: [],
  reused: [],
});
const iso = (t: Millis): string => new Date(t).toISOString();

export class PipelineEngine {
  private readonly n: number;
  private readonly state: Uint8Array;
  private readonly attempt: Int32Array;
  private readonly startedAt: Float64Array;
  /** Time a delayed op is queued or a retrying op restarts. */
  private readonly until: Float64Array;
  private readonly timedOut: Uint8Array;
  private readonly reasons: Array<string | undefined>;
  private readonly outputs = new Map<number, Record<string, ParamValue>>();
  // upstream counters, per op
  private readonly upSucceeded: Int32Array;
  private readonly upFailed: Int32Array;
  private readonly upStopped: Int32Array;
  private readonly upSkipped: Int32Array;
  /** Upstream ops read by params or conditions that are not final yet. */
  private readonly gatePending: Int32Array;
  /** Upstream ops whose outputs the params read and that failed or were stopped / were skipped. */
  private readonly dataBad: Int32Array;
  private readonly dataSkipped: Int32Array;
  /** Condition op indices, per op (undefined when the op has no condition). */
  private readonly conditionOps: Array<Int32Array | undefined>;

  private queue: number[] = [];
  private qHead = 0;
  private blocked: number[] = [];
  private readonly timers = new TimerHeap();
  private readonly work: number[] = [];
  /** Waiting ops whose trigger held during the current event, admitted by `settle`. */
  private readonly candidates: number[] = [];
  private justQueued: number[] = [];

  private phase: PipelinePhase = 'created';
  private pipelineStartedAt?: Millis;
  private stopInfo?: { kind: 'stopped' | 'timeout'; message: string };
  private doneInfo?: PipelineDone;
  private firstFailed = -1;
  private firstUpstreamFailed = -1;
  private running = 0;
  private finalCount = 0;
  private readonly counts = { succeeded: 0, failed: 0, upstream_failed: 0, skipped: 0, stopped: 0 };
  private readonly limit: number;
  private readonly ahead: number;
  private readonly timeoutSec?: number;
  private readonly executeAt?: Millis;
  private readonly runningElsewhere?: (op: string) => number;
  private reused: number[] = [];

  /** Use `createPipelineEngine` or `restorePipelineEngine`. */
  constructor(
    readonly graph: PipelineGraph,
    options: EngineOptions = {},
  ) {
    const n = (this.n = graph.size);
    this.state = new Uint8Array(n);
    this.attempt = new Int32Array(n);
    this.startedAt = new Float64Array(n).fill(NaN);
    this.until = new Float64Array(n).fill(NaN);
    this.timedOut = new Uint8Array(n);
    this.reasons = new Array<string | undefined>(n);
    this.upSucceeded = new Int32Array(n);
    this.upFailed = new Int32Array(n);
    this.upStopped = new Int32Array(n);
    this.upSkipped = new Int32Array(n);
    this.gatePending = new Int32Array(n);
    this.dataBad = new Int32Array(n);
    this.dataSkipped = new Int32Array(n);
    this.conditionOps = new Array<Int32Array | undefined>(n);
    for (let e = 0; e < graph.down.length; e++)
      if (graph.downFlags[e] & EDGE_GATE) this.gatePending[graph.down[e]]++;
    graph.ops.forEach((op, i) => {
      if (op.conditions.length)
        this.conditionOps[i] = Int32Array.from(op.conditions, (c) => graph.indexOf(c.op));
    });
    const limit = options.concurrency ?? graph.settings.concurrency;
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1))
      throw new Error(`concurrency must be an integer >= 1, got ${limit}`);
    this.limit = limit ?? Infinity;
    const ahead = options.admitAhead ?? 0;
    if (!(Number.isInteger(ahead) && ahead >= 0)) throw new Error(`admitAhead must be an integer >= 0, got ${ahead}`);
    this.ahead = ahead;
    this.timeoutSec = options.timeout ?? graph.settings.timeout;
    this.executeAt = options.executeAt !== undefined ? toMillis(options.executeAt) : graph.settings.executeAt;
    this.runningElsewhere = options.runningElsewhere;
    if (options.resume) {
      for (const name of options.resume.reuse) {
        const v = graph.indexOf(name);
        if (this.state[v] === SUCCEEDED) continue;
        this.state[v] = SUCCEEDED;
        this.reasons[v] = 'reused from the previous run';
        const outs = options.resume.outputs?.[name];
        if (outs) this.outputs.set(v, outs);
        this.finalCount++;
        this.counts.succeeded++;
        this.reused.push(v);
        this.propagateCounts(v);
      }
    }
  }

  // ------------------------------------------------------------------ commands

  /** Starts the pipeline run: the ops whose trigger holds (roots first) start, within the limits. */
  start(now: Millis): Decisions {
    const out = this.begin();
    if (this.phase !== 'created') return this.ignore(out, `the pipeline is already ${this.phase}`);
    if (this.executeAt !== undefined && this.executeAt > now) {
      this.phase = 'scheduled';
      this.timers.push(this.executeAt, 'pipeline_start', -1, 0);
    } else this.doStart(now, out);
    return this.finish(now, out);
  }

  /**
   * A status of an op run. Final statuses drive the decisions; others (`queued`, `running`, ...)
   * are acknowledged. A status for an older attempt, or for an op that is already final, is ignored
   * (with `ignored` saying why), so duplicate and out-of-order events are harmless.
   */
  onStatus(op: string, status: OpStatus, now: Millis, report: StatusReport = {}): Decisions {
    const out = this.begin();
    const v = this.graph.indexOf(op);
    if (this.phase === 'done') return this.ignore(out, 'the pipeline is done');
    if (this.phase === 'created' || this.phase === 'scheduled')
      return this.ignore(out, 'the pipeline has not started');
    if (report.attempt !== undefined && report.attempt !== this.attempt[v]) {
      return this.ignore(
        out,
        `status \`${status}\` is for attempt ${report.attempt} of \`${op}\`, whose current attempt is ${this.attempt[v]}`,
      );
    }
    const st = this.state[v];
    if (isFinalState(st)) return this.ignore(out, `\`${op}\` is already ${STATE_NAMES[st]}`);
    const notStarted = (): Decisions =>
      this.ignore(out, `\`${op}\` is ${STATE_NAMES[st]}, not running: status \`${status}\` ignored`);
    switch (status) {
      case 'succeeded':
      case 'done':
        if (st !== RUNNING) return notStarted();
        this.running--;
        if (report.outputs) this.outputs.set(v, report.outputs);
        this.finalize(
          v,
          SUCCEEDED,
          this.attempt[v] > 1 ? `succeeded on attempt ${this.attempt[v]}` : 'succeeded',
          out,
        );
        break;
      case 'failed':
        if (st !== RUNNING) return notStarted();
        this.running--;
        this.failAttempt(v, now, this.timedOut[v] ? 'timed out' : 'failed', out);
        break;
      case 'stopped':
        if (st === RUNNING) {
          this.running--;
          if (this.timedOut[v]) this.failAttempt(v, now, 'timed out', out);
          else this.finalize(v, STOPPED, 'stopped', out);
        } else this.finalize(v, STOPPED, `stopped while ${STATE_NAMES[st]}`, out);
        break;
      case 'skipped':
        if (st === RUNNING) this.running--;
        this.finalize(v, SKIPPED, 'skipped by request', out, false);
        break;
      case 'upstream_failed':
        if (st === RUNNING) this.running--;
        this.finalize(v, UPSTREAM_FAILED, 'marked upstream_failed by the caller', out, false);
        break;
      default:
        if (st !== RUNNING) return notStarted();
    }
    return this.finish(now, out);
  }

  /**
   * Fires what is due at `now`: retries, `execute_at` delays, op and pipeline timeouts, a delayed
   * pipeline start; re-checks op-level concurrency; starts what fits. Call it at `wakeAt`, and when
   * a run of another pipeline run frees an op-level slot.
   */
  tick(now: Millis): Decisions {
    const out = this.begin();
    if (this.phase === 'done') return this.ignore(out, 'the pipeline is done');
    for (let t = this.timers.peek(); t && t.at <= now; t = this.timers.peek()) {
      this.timers.pop();
      this.fire(t, now, out);
    }
    if (this.blocked.length && this.phase === 'running') {
      const back = this.blocked.filter((v) => this.state[v] === BLOCKED); // not those stopped or skipped meanwhile
      for (const v of back) this.state[v] = READY;
      this.queue = [...back, ...this.queue.slice(this.qHead)];
      this.qHead = 0;
      this.blocked = [];
    }
    return this.finish(now, out);
  }

  /**
   * Stops the pipeline run: running attempts get a stop decision, every other op not final is
   * `stopped`. The run is done once the running attempts report a final status.
   */
  stop(now: Millis, message = 'stopped by request'): Decisions {
    const out = this.begin();
    if (this.phase === 'done') return this.ignore(out, 'the pipeline is done');
    if (this.phase === 'stopping') return this.ignore(out, 'the pipeline is already stopping');
    this.stopAll('stopped', message, out);
    return this.finish(now, out);
  }

  // ------------------------------------------------------------------ queries

  get status(): PipelinePhase {
    return this.phase;
  }
  /** Set once every op is final. */
  get done(): PipelineDone | undefined {
    return this.doneInfo;
  }
  /** Attempts started and not yet final. */
  get runningCount(): number {
    return this.running;
  }

  /** Where an op stands and why (for waiting ops: what it waits for). */
  view(op: string): OpView {
    const v = this.graph.indexOf(op);
    const st = this.state[v];
    const out: OpView = { op, state: STATE_NAMES[st], attempt: this.attempt[v] };
    if (!Number.isNaN(this.startedAt[v])) out.startedAt = this.startedAt[v];
    out.reason = this.reasons[v] ?? this.explainPending(v);
    return out;
  }

  /** The ready queue in start order: ops whose trigger holds, waiting for a concurrency slot. */
  readyQueue(): string[] {
    const names: string[] = [];
    for (const v of this.blocked) if (this.state[v] === BLOCKED) names.push(this.graph.ops[v].name);
    for (let i = this.qHead; i < this.queue.length; i++)
      if (this.state[this.queue[i]] === READY) names.push(this.graph.ops[this.queue[i]].name);
    return names;
  }

  /** Outputs reported for an op (or reused from the previous run). */
  outputsOf(op: string): Readonly<Record<string, ParamValue>> | undefined {
    return this.outputs.get(this.graph.indexOf(op));
  }

  toJSON(): EngineSnapshotV2 {
    const base = this.pipelineStartedAt ?? 0;
    const ops: OpRow[] = [];
    for (let v = 0; v < this.n; v++) {
      const st = this.state[v];
      const outputs = this.outputs.get(v);
      if (st === WAITING && this.attempt[v] === 0 && !outputs) continue;
      const row: OpRow = [
        v,
        st,
        this.attempt[v],
        Number.isNaN(this.startedAt[v]) ? null : this.startedAt[v] - base,
        Number.isNaN(this.until[v]) ? null : this.until[v] - base,
        this.timedOut[v] ? 1 : null,
        this.reasons[v] ?? null,
        outputs ?? null,
      ];
      while (row.length > 3 && row[row.length - 1] === null) row.pop();
      // A ready op at its first attempt with nothing else to say: its place in the queue says it all.
      if (st === READY && this.attempt[v] === 0 && row.length === 3) continue;
      ops.push(row);
    }
    const snap: EngineSnapshotV2 = {
      version: 2,
      fingerprint: this.graph.fingerprint,
      phase: this.phase,
      timerSeq: this.timers.seq,
      ops,
      queue: this.queue.slice(this.qHead).filter((v) => this.state[v] === READY),
      blocked: this.blocked.filter((v) => this.state[v] === BLOCKED),
      timers: this.timers
        .all()
        .filter((t) => this.timerLive(t))
        .sort((x, y) => x.at - y.at || x.seq - y.seq)
        .map((t) => ({ at: t.at, seq: t.seq, kind: t.kind, ...(t.op >= 0 ? { op: t.op } : {}), attempt: t.attempt })),
      reused: [...this.reused],
    };
    if (this.pipelineStartedAt !== undefined) snap.startedAt = this.pipelineStartedAt;
    if (this.stopInfo) snap.stop = { ...this.stopInfo };
    if (this.doneInfo) snap.done = this.doneInfo;
    if (this.firstFailed >= 0) snap.firstFailed = this.firstFailed;
    if (this.firstUpstreamFailed >= 0) snap.firstUpstreamFailed = this.firstUpstreamFailed;
    return snap;
  }

  /** @internal used by `restorePipelineEngine`. */
  static restore(
    graph: PipelineGraph,
    snap: EngineSnapshot,
    options: Omit<EngineOptions, 'resume'> = {},
  ): PipelineEngine {
    const version = (snap as { version: unknown }).version;
    if (version !== 1 && version !== 2) throw new Error(`unsupported engine snapshot version ${String(version)}`);
    if (snap.fingerprint !== graph.fingerprint) {
      throw new Error(
        `the snapshot was taken on another graph (fingerprint ${snap.fingerprint}, this graph ${graph.fingerprint})`,
      );
    }
    const v2 = snap.version === 2 ? snap : upgradeSnapshot(graph, snap);
    const e = new PipelineEngine(graph, options);
    const at = (v: unknown): number => {
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) >= e.n) throw new Error(`no op ${String(v)} in the snapshot's graph`);
      return v as number;
    };
    const base = v2.startedAt ?? 0;
    e.phase = v2.phase;
    e.pipelineStartedAt = v2.startedAt;
    e.stopInfo = v2.stop ? { ...v2.stop } : undefined;
    e.doneInfo = v2.done;
    e.firstFailed = v2.firstFailed !== undefined ? at(v2.firstFailed) : -1;
    e.firstUpstreamFailed = v2.firstUpstreamFailed !== undefined ? at(v2.firstUpstreamFailed) : -1;
    e.reused = v2.reused.map(at);
    e.queue = v2.queue.map(at);
    // Ready ops at their first attempt are in the queue only.
    for (const v of e.queue) e.state[v] = READY;
    for (const [op, st, attempt, startedAt, until, timedOut, reason, outputs] of v2.ops) {
      const v = at(op);
      if (!(Number.isInteger(st) && st >= 0 && st < STATE_NAMES.length)) throw new Error(`unknown op state code ${String(st)} for \`${graph.ops[v].name}\` in the snapshot`);
      e.state[v] = st;
      e.attempt[v] = attempt;
      if (startedAt !== undefined && startedAt !== null) e.startedAt[v] = base + startedAt;
      if (until !== undefined && until !== null) e.until[v] = base + until;
      if (timedOut) e.timedOut[v] = 1;
      if (reason !== undefined && reason !== null) e.reasons[v] = reason;
      if (outputs) e.outputs.set(v, outputs);
    }
    for (let v = 0; v < e.n; v++) {
      const st = e.state[v];
      if (st === RUNNING) e.running++;
      if (isFinalState(st)) {
        e.finalCount++;
        e.counts[STATE_NAMES[st] as keyof PipelineEngine['counts']]++;
      }
    }
    for (let v = 0; v < e.n; v++) if (isFinalState(e.state[v])) e.propagateCounts(v);
    e.blocked = v2.blocked.map(at);
    e.timers.seq = v2.timerSeq;
    for (const t of v2.timers)
      e.timers.insert({ at: t.at, seq: t.seq, kind: t.kind, op: t.op !== undefined ? at(t.op) : -1, attempt: t.attempt });
    return e;
  }

  // ------------------------------------------------------------------ internals

  private begin(): Decisions {
    this.justQueued = [];
    return empty();
  }

  private ignore(out: Decisions, why: string): Decisions {
    out.ignored = why;
    const wake = this.nextWake();
    if (wake !== undefined) out.wakeAt = wake;
    return out;
  }

  private finish(now: Millis, out: Decisions): Decisions {
    this.settle(now, out);
    this.fill(now, out);
    this.checkDone(now, out);
    for (const v of this.justQueued)
      if (this.state[v] === READY || this.state[v] === BLOCKED) out.queued.push(this.graph.ops[v].name);
    const wake = this.nextWake();
    if (wake !== undefined) out.wakeAt = wake;
    return out;
  }

  private doStart(now: Millis, out: Decisions): void {
    this.phase = 'running';
    this.pipelineStartedAt = now;
    if (this.timeoutSec !== undefined)
      this.timers.push(now + this.timeoutSec * 1000, 'pipeline_timeout', -1, 0);
    for (const v of this.reused) out.reused.push(this.graph.ops[v].name);
    for (const v of this.graph.order) {
      if (this.state[v] === WAITING) this.evaluate(v, -1, now, out);
      if (this.work.length) this.drain(now, out);
    }
    this.settle(now, out);
  }

  /** Adds a final op's status to its downstream ops' counters, without deciding anything. */
  private propagateCounts(u: number): void {
    const g = this.graph;
    const st = this.state[u];
    for (let e = g.downOff[u]; e < g.downOff[u + 1]; e++) this.count(st, g.down[e], g.downFlags[e]);
  }

  private count(st: number, w: number, flags: number): void {
    if (st === SUCCEEDED) this.upSucceeded[w]++;
    else if (st === FAILED || st === UPSTREAM_FAILED) this.upFailed[w]++;
    else if (st === STOPPED) this.upStopped[w]++;
    else this.upSkipped[w]++;
    if (flags & EDGE_GATE) this.gatePending[w]--;
    if (flags & EDGE_DATA) {
      if (st === SKIPPED) this.dataSkipped[w]++;
      else if (st !== SUCCEEDED) this.dataBad[w]++;
    }
  }

  /**
   * Propagates every op finalised so far to its downstream ops, deciding them in turn, then admits
   * the ops whose trigger holds. Admission waits for the whole cascade (skips and upstream failures
   * caused by this event), so what starts does not depend on the order of the edges: an op whose
   * trigger held early in the cascade but that a later skip (skip_on_upstream_skip) or failure rules
   * out is re-evaluated while still waiting and decided on the complete picture.
   */
  private settle(now: Millis, out: Decisions): void {
    this.drain(now, out);
    for (const v of this.candidates) if (this.state[v] === WAITING) this.admit(v, now, out);
    this.candidates.length = 0;
  }

  private drain(now: Millis, out: Decisions): void {
    const g = this.graph;
    while (this.work.length) {
      const u = this.work.pop()!;
      const st = this.state[u];
      for (let e = g.downOff[u]; e < g.downOff[u + 1]; e++) {
        const w = g.down[e];
        this.count(st, w, g.downFlags[e]);
        if (this.state[w] === WAITING && this.phase === 'running') this.evaluate(w, u, now, out);
      }
    }
  }

  private upCounts(v: number): UpstreamCounts {
    const g = this.graph;
    return {
      considered: g.upOff[v + 1] - g.upOff[v] - this.upSkipped[v],
      succeeded: this.upSucceeded[v],
      failed: this.upFailed[v],
      stopped: this.upStopped[v],
    };
  }

  /** An upstream op of `v` in state `st` (the one that just changed if it qualifies). */
  private upstreamIn(v: number, cause: number, test: (st: number) => boolean): string {
    const g = this.graph;
    if (cause >= 0 && test(this.state[cause])) return g.ops[cause].name;
    for (let e = g.upOff[v]; e < g.upOff[v + 1]; e++)
      if (test(this.state[g.up[e]])) return g.ops[g.up[e]].name;
    return '?';
  }

  private dataUpstreamIn(v: number, test: (st: number) => boolean): string {
    for (const name of this.graph.ops[v].dataUpstream) {
      const j = this.graph.index.get(name)!;
      if (test(this.state[j])) return name;
    }
    return '?';
  }

  /** Decides a waiting op if its upstream allows: skip, upstream_failed, or ready (or delayed). */
  private evaluate(v: number, cause: number, now: Millis, out: Decisions): void {
    const g = this.graph;
    const op = g.ops[v];
    const nUp = g.upOff[v + 1] - g.upOff[v];
    const skipped = this.upSkipped[v];
    if (skipped > 0) {
      if (op.skipOnUpstreamSkip) {
        const who = this.upstreamIn(v, cause, (s) => s === SKIPPED);
        return this.finalize(v, SKIPPED, `upstream op \`${who}\` was skipped (skip_on_upstream_skip)`, out);
      }
      if (skipped === nUp) {
        return this.finalize(
          v,
          SKIPPED,
          nUp === 1
            ? `its only upstream op \`${this.upstreamIn(v, cause, (s) => s === SKIPPED)}\` was skipped`
            : `all ${nUp} upstream ops were skipped`,
          out,
        );
      }
    }
    const counts = this.upCounts(v);
    const verdict = triggerVerdict(op.trigger, counts);
    if (verdict === 'wait') return;
    if (verdict === 'upstream_failed' || verdict === 'skip') {
      const why = `trigger cannot hold (${describeTrigger(op.trigger, counts, skipped)})`;
      return this.finalize(v, verdict === 'skip' ? SKIPPED : UPSTREAM_FAILED, why, out);
    }
    if (this.gatePending[v] > 0) return;
    const conds = this.conditionOps[v];
    if (conds) {
      for (let k = 0; k < conds.length; k++) {
        const j = conds[k];
        const c = op.conditions[k];
        if (!conditionHolds(c, classOf(this.state[j]), this.outputs.get(j))) {
          return this.finalize(
            v,
            SKIPPED,
            `condition not met: ${describeCondition(c)} (\`${c.op}\` ${STATE_NAMES[this.state[j]]})`,
            out,
          );
        }
      }
    }
    if (this.dataSkipped[v] > 0) {
      return this.finalize(
        v,
        SKIPPED,
        `needs the outputs of \`${this.dataUpstreamIn(v, (s) => s === SKIPPED)}\`, which was skipped`,
        out,
      );
    }
    if (this.dataBad[v] > 0) {
      const who = this.dataUpstreamIn(v, (s) => isFinalState(s) && s !== SUCCEEDED && s !== SKIPPED);
      const j = g.index.get(who);
      return this.finalize(
        v,
        UPSTREAM_FAILED,
        `needs the outputs of \`${who}\`, which ${j !== undefined && this.state[j] === STOPPED ? 'was stopped' : 'did not succeed'}`,
        out,
      );
    }
    // the trigger holds: admitted once the event has fully propagated (see `settle`)
    this.candidates.push(v);
  }

  /** The trigger of `v` holds: queue it, or delay it until its execute_at. */
  private admit(v: number, now: Millis, out: Decisions): void {
    const op = this.graph.ops[v];
    if (op.executeAt !== undefined && op.executeAt > now) {
      this.state[v] = DELAYED;
      this.until[v] = op.executeAt;
      this.timers.push(op.executeAt, 'delay', v, 0);
      out.delayed.push({ op: op.name, until: op.executeAt, reason: `execute_at ${iso(op.executeAt)}` });
      return;
    }
    this.enqueue(v);
  }

  private enqueue(v: number): void {
    this.state[v] = READY;
    this.until[v] = NaN;
    this.queue.push(v);
    this.justQueued.push(v);
  }

  private hasOpCapacity(v: number): boolean {
    const op = this.graph.ops[v];
    if (op.concurrency === undefined) return true;
    const elsewhere = this.runningElsewhere?.(op.name) ?? 0;
    return elsewhere < op.concurrency;
  }

  /** Starts ready ops while the pipeline has free slots (and, past them, `admitAhead` eligible ones). */
  private fill(now: Millis, out: Decisions): void {
    if (this.phase !== 'running') return;
    while (this.qHead < this.queue.length) {
      const v = this.queue[this.qHead];
      if (this.state[v] !== READY) {
        this.qHead++;
        continue;
      }
      // In queue order: an op that may not go past the limit holds the ones behind it.
      if (this.running >= this.limit && !(this.running < this.limit + this.ahead && this.mayGoAhead(v))) break;
      this.qHead++;
      if (!this.hasOpCapacity(v)) {
        this.state[v] = BLOCKED;
        this.blocked.push(v);
        continue;
      }
      this.startOp(v, now, out);
    }
    if (this.qHead > 1024 && this.qHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.qHead);
      this.qHead = 0;
    }
  }

  private mayGoAhead(v: number): boolean {
    const op = this.graph.ops[v];
    return op.timeout === undefined && op.concurrency === undefined;
  }

  private startOp(v: number, now: Millis, out: Decisions): void {
    const op = this.graph.ops[v];
    const a = ++this.attempt[v];
    this.state[v] = RUNNING;
    this.startedAt[v] = now;
    this.timedOut[v] = 0;
    this.reasons[v] = undefined;
    this.running++;
    let reason: string;
    if (a > 1) reason = `retry ${a - 1} of ${op.maxRetries}`;
    else {
      reason = describeTrigger(op.trigger, this.upCounts(v), this.upSkipped[v]);
      if (op.conditions.length)
        reason += `; conditions hold: ${op.conditions.map(describeCondition).join(', ')}`;
    }
    const d: Decisions['start'][number] = { op: op.name, attempt: a, reason };
    if (op.timeout !== undefined) {
      d.timeoutAt = now + op.timeout * 1000;
      this.timers.push(d.timeoutAt, 'timeout', v, a);
    }
    out.start.push(d);
  }

  private failAttempt(v: number, now: Millis, what: string, out: Decisions): void {
    const op = this.graph.ops[v];
    const a = this.attempt[v];
    if (this.phase === 'running' && a <= op.maxRetries) {
      const delay = retryDelaySeconds(op, a);
      const at = now + delay * 1000;
      this.state[v] = RETRYING;
      this.until[v] = at;
      out.retryAt.push({
        op: op.name,
        attempt: a + 1,
        at,
        reason: `attempt ${a} ${what}; retry ${a} of ${op.maxRetries} after ${delay}s`,
      });
      if (at <= now) this.enqueue(v);
      else this.timers.push(at, 'retry', v, a + 1);
      return;
    }
    const why =
      op.maxRetries > 0 && this.phase === 'running' ? `${what} on attempt ${a} (no retries left)` : what;
    this.finalize(v, FAILED, why, out);
  }

  /** Makes `v` final; `decided` puts skip/upstream_failed into the decisions (not for statuses the caller reported). */
  private finalize(v: number, st: number, reason: string, out: Decisions, decided = true): void {
    this.state[v] = st;
    this.reasons[v] = reason;
    this.until[v] = NaN;
    this.finalCount++;
    const name = this.graph.ops[v].name;
    switch (st) {
      case SUCCEEDED:
        this.counts.succeeded++;
        break;
      case FAILED:
        this.counts.failed++;
        if (this.firstFailed < 0) this.firstFailed = v;
        break;
      case UPSTREAM_FAILED:
        this.counts.upstream_failed++;
        if (this.firstUpstreamFailed < 0) this.firstUpstreamFailed = v;
        if (decided) out.upstreamFailed.push({ op: name, reason });
        break;
      case SKIPPED:
        this.counts.skipped++;
        if (decided) out.skip.push({ op: name, reason });
        break;
      case STOPPED:
        this.counts.stopped++;
        break;
    }
    this.work.push(v);
  }

  private stopAll(kind: 'stopped' | 'timeout', message: string, out: Decisions): void {
    this.phase = 'stopping';
    this.stopInfo = { kind, message };
    const g = this.graph;
    for (let v = 0; v < this.n; v++) {
      const st = this.state[v];
      if (st === RUNNING) out.stop.push({ op: g.ops[v].name, attempt: this.attempt[v], reason: message });
      else if (!isFinalState(st)) {
        this.state[v] = STOPPED;
        this.reasons[v] = message;
        this.until[v] = NaN;
        this.finalCount++;
        this.counts.stopped++;
        out.stopped.push({ op: g.ops[v].name, reason: message });
      }
    }
    this.queue = [];
    this.qHead = 0;
    this.blocked = [];
  }

  private timerLive(t: Timer): boolean {
    switch (t.kind) {
      case 'retry':
        return this.state[t.op] === RETRYING && this.attempt[t.op] + 1 === t.attempt;
      case 'delay':
        return this.state[t.op] === DELAYED;
      case 'timeout':
        return this.state[t.op] === RUNNING && this.attempt[t.op] === t.attempt && !this.timedOut[t.op];
      case 'pipeline_start':
        return this.phase === 'scheduled';
      case 'pipeline_timeout':
        return this.phase === 'running';
    }
  }

  private fire(t: Timer, now: Millis, out: Decisions): void {
    if (!this.timerLive(t)) return;
    const g = this.graph;
    switch (t.kind) {
      case 'retry':
      case 'delay':
        this.enqueue(t.op);
        break;
      case 'timeout': {
        this.timedOut[t.op] = 1;
        out.stop.push({
          op: g.ops[t.op].name,
          attempt: t.attempt,
          reason: `timed out after ${g.ops[t.op].timeout}s`,
        });
        break;
      }
      case 'pipeline_start':
        this.doStart(now, out);
        break;
      case 'pipeline_timeout':
        this.stopAll('timeout', `the pipeline timed out after ${this.timeoutSec}s`, out);
        break;
    }
  }

  private nextWake(): Millis | undefined {
    for (let t = this.timers.peek(); t; t = this.timers.peek()) {
      if (this.timerLive(t)) return t.at;
      this.timers.pop();
    }
    return undefined;
  }

  private checkDone(now: Millis, out: Decisions): void {
    if (this.phase === 'done' || this.finalCount < this.n) return;
    this.phase = 'done';
    const c = { ...this.counts };
    const name = (v: number): string => this.graph.ops[v].name;
    let status: PipelineDone['status'];
    let reason: string;
    if (this.stopInfo?.kind === 'timeout') {
      status = 'failed';
      reason = this.stopInfo.message;
    } else if (this.stopInfo) {
      status = 'stopped';
      reason = this.stopInfo.message;
    } else if (c.failed > 0 || c.upstream_failed > 0) {
      status = 'failed';
      const first =
        this.firstFailed >= 0
          ? `op \`${name(this.firstFailed)}\` failed`
          : `op \`${name(this.firstUpstreamFailed)}\` is upstream_failed`;
      const more = c.failed + c.upstream_failed - 1;
      reason =
        more > 0 ? `${first} (${c.failed} failed, ${c.upstream_failed} upstream_failed in all)` : first;
    } else if (c.stopped > 0) {
      status = 'stopped';
      reason = `${c.stopped} op${c.stopped > 1 ? 's were' : ' was'} stopped`;
    } else if (c.succeeded === 0) {
      status = 'skipped';
      reason = 'every op was skipped';
    } else {
      status = 'succeeded';
      reason =
        `${c.succeeded} op${c.succeeded > 1 ? 's' : ''} succeeded` +
        (c.skipped ? `, ${c.skipped} skipped` : '');
    }
    this.doneInfo = { status, reason, at: now, counts: c };
    out.done = this.doneInfo;
  }

  private explainPending(v: number): string | undefined {
    const g = this.graph;
    const op = g.ops[v];
    switch (this.state[v]) {
      case WAITING: {
        if (this.phase === 'created' || this.phase === 'scheduled') return 'the pipeline has not started';
        const base = describeTrigger(op.trigger, this.upCounts(v), this.upSkipped[v]);
        return this.gatePending[v] > 0
          ? `${base}; waiting for ${this.gatePending[v]} op(s) its params or conditions read`
          : base;
      }
      case DELAYED:
        return `execute_at ${iso(this.until[v])}`;
      case READY:
        return this.ahead > 0
          ? `waiting for a pipeline concurrency slot (${this.running} started: ${this.limit} may run at once, ${this.ahead} more may wait in the executor's queue)`
          : `waiting for a pipeline concurrency slot (${this.running} of ${this.limit} running)`;
      case BLOCKED:
        return `op concurrency ${op.concurrency} reached in other runs of the pipeline`;
      case RUNNING:
        return `attempt ${this.attempt[v]} running since ${iso(this.startedAt[v])}`;
      case RETRYING:
        return `attempt ${this.attempt[v] + 1} at ${iso(this.until[v])}`;
    }
    return undefined;
  }
}

function classOf(st: number): StatusClass {
  if (st === SUCCEEDED) return 'succeeded';
  if (st === FAILED || st === UPSTREAM_FAILED) return 'failed';
  if (st === STOPPED) return 'stopped';
  return 'skipped';
}

/** A new engine for one run of the pipeline. */
export function createPipelineEngine(graph: PipelineGraph, options: EngineOptions = {}): PipelineEngine {
  return new PipelineEngine(graph, options);
}

/** A version 1 snapshot (op names, an object per op) in version 2's terms. */
function upgradeSnapshot(graph: PipelineGraph, snap: EngineSnapshotV1): EngineSnapshotV2 {
  const base = snap.startedAt ?? 0;
  const ops: OpRow[] = Object.entries(snap.ops).map(([name, o]) => {
    const st = STATE_NAMES.indexOf(o.state);
    if (st < 0) throw new Error(`unknown op state \`${o.state}\` for \`${name}\` in the snapshot`);
    return [
      graph.indexOf(name),
      st,
      o.attempt,
      o.startedAt !== undefined ? o.startedAt - base : null,
      o.until !== undefined ? o.until - base : null,
      o.timedOut ? 1 : null,
      o.reason ?? null,
      o.outputs ?? null,
    ];
  });
  return {
    version: 2,
    fingerprint: snap.fingerprint,
    phase: snap.phase,
    ...(snap.startedAt !== undefined ? { startedAt: snap.startedAt } : {}),
    ...(snap.stop ? { stop: snap.stop } : {}),
    ...(snap.done ? { done: snap.done } : {}),
    ...(snap.firstFailed !== undefined ? { firstFailed: graph.indexOf(snap.firstFailed) } : {}),
    ...(snap.firstUpstreamFailed !== undefined ? { firstUpstreamFailed: graph.indexOf(snap.firstUpstreamFailed) } : {}),
    timerSeq: snap.timerSeq,
    ops,
    queue: snap.queue.map((name) => graph.indexOf(name)),
    blocked: snap.blocked.map((name) => graph.indexOf(name)),
    timers: snap.timers.map((t) => ({ at: t.at, seq: t.seq, kind: t.kind, ...(t.op !== undefined ? { op: graph.indexOf(t.op) } : {}), attempt: t.attempt })),
    reused: snap.reused.map((name) => graph.indexOf(name)),
  };
}

/** An engine continuing from `toJSON()` output (after a service restart): nothing decided before is decided again. */
export function restorePipelineEngine(
  graph: PipelineGraph,
  snapshot: EngineSnapshot,
  options: Omit<EngineOptions, 'resume'> = {},
): PipelineEngine {
  return PipelineEngine.restore(graph, snapshot, options);
}
