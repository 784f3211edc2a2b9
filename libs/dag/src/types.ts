/** Public input and decision types of the DAG engine. */
import type { RunStatus } from '@myelin/contracts';
import type { IOSpec, OpCondition, ParamValue, TemplateRef, TriggerPolicy } from '@myelin/spec';

/** Epoch milliseconds. The engine never reads a clock: every call takes `now`. */
export type Millis = number;

/**
 * One op as the engine needs it. A parsed `PipelineOp` from `@myelin/spec` fits as is; a graph built
 * in code may leave out everything but `name`.
 */
export interface DagOpInput {
  name: string;
  /** `{name}` refers to `templates`; `url`, `path`, `action`, `event` are resolved elsewhere. A string is `{name}`. */
  template?: TemplateRef | string;
  /** Raw values or `{{ ops.<op>.outputs.<name> }}` references (a reference adds the dependency). */
  params?: Record<string, ParamValue>;
  dependencies?: string[];
  trigger?: TriggerPolicy;
  conditions?: OpCondition[];
  skip_on_upstream_skip?: boolean;
  max_retries?: number;
  /** Seconds (default 60). */
  retry_delay?: number;
  retry_exp_backoff?: boolean;
  /** Seconds (default 3600); caps the exponential backoff. */
  max_retry_delay?: number;
  /** Max runs of this op at once across the runs of the pipeline (see `EngineOptions.runningElsewhere`). */
  concurrency?: number;
  /** Seconds an attempt may run before the engine asks to stop it. */
  timeout?: number;
  /** ISO 8601 datetime or epoch ms: the op does not start before. */
  execute_at?: string | number;
  /** Myelin extension: reuse an earlier identical run (see `decideCache`). */
  cache?: boolean;
}

/** An input or output declaration; a parsed `IOSpec` fits. */
export type DagIO = Pick<IOSpec, 'name'> & Partial<Omit<IOSpec, 'name'>>;

/** A template as the validator needs it; a parsed `PipelineTemplate` fits. */
export interface DagTemplateInput {
  name: string;
  inputs?: DagIO[];
  outputs?: DagIO[];
  /** Declared params (templates without inputs accept these names). */
  params?: Record<string, ParamValue>;
}

export interface PipelineInput {
  ops: DagOpInput[];
  templates?: DagTemplateInput[];
  /** Max ops of one pipeline run running at once. */
  concurrency?: number;
  /** Seconds the pipeline run may stay up. */
  timeout?: number;
  /** ISO 8601 datetime or epoch ms: nothing starts before. */
  execute_at?: string | number;
}

/** An op with its policies normalised (defaults filled in, times in ms). */
export interface DagOp {
  readonly name: string;
  readonly template?: TemplateRef;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly trigger: TriggerPolicy;
  readonly conditions: readonly OpCondition[];
  readonly skipOnUpstreamSkip: boolean;
  readonly maxRetries: number;
  /** Seconds. */
  readonly retryDelay: number;
  readonly retryExpBackoff: boolean;
  /** Seconds. */
  readonly maxRetryDelay: number;
  readonly concurrency?: number;
  /** Seconds. */
  readonly timeout?: number;
  readonly executeAt?: Millis;
  readonly cache: boolean;
  /** Ops whose outputs the params reference (data dependencies), in first-use order. */
  readonly dataUpstream: readonly string[];
}

// ---------------------------------------------------------------- decisions

export interface StartDecision {
  op: string;
  /** 1 for the first attempt, 2 for the first retry, ... */
  attempt: number;
  reason: string;
  /** When the engine will ask to stop this attempt (op `timeout`). */
  timeoutAt?: Millis;
}
export interface OpDecision {
  op: string;
  reason: string;
}
export interface RetryDecision {
  op: string;
  /** The attempt that will start at `at`. */
  attempt: number;
  at: Millis;
  reason: string;
}
export interface StopDecision {
  op: string;
  attempt: number;
  reason: string;
}
export interface DelayDecision {
  op: string;
  until: Millis;
  reason: string;
}

export type PipelineStatus = 'succeeded' | 'failed' | 'stopped' | 'skipped';

export interface PipelineDone {
  status: PipelineStatus;
  reason: string;
  at: Millis;
  counts: Record<'succeeded' | 'failed' | 'upstream_failed' | 'skipped' | 'stopped', number>;
}

/**
 * What the caller must do after one call. Every list may be empty; `done` appears once, in the call
 * that finishes the pipeline.
 */
export interface Decisions {
  /** Create/start these op runs now (already within the concurrency limits). */
  start: StartDecision[];
  /** Mark these ops `skipped` (trigger cannot hold for a non-failure reason, a condition is false, an upstream was skipped). */
  skip: OpDecision[];
  /** Mark these ops `upstream_failed`. */
  upstreamFailed: OpDecision[];
  /** These ops failed and will be retried: `tick(at)` will start them. Mark them `retrying`. */
  retryAt: RetryDecision[];
  /** Stop these running attempts (op timeout, pipeline stop or timeout). */
  stop: StopDecision[];
  /** Mark these never-started ops `stopped` (pipeline stop or timeout). */
  stopped: OpDecision[];
  /** Trigger holds but `execute_at` is in the future: `tick(until)` will queue them. */
  delayed: DelayDecision[];
  /** Trigger holds but no concurrency slot is free: they wait in the ready queue. */
  queued: string[];
  /** Ops taken as succeeded from an earlier run (resume plan), reported by `start`. */
  reused: string[];
  /** The earliest time at which `tick(now)` has something to do. */
  wakeAt?: Millis;
  done?: PipelineDone;
  /** Why a call decided nothing (a stale or duplicate status, a call after the pipeline finished, ...). */
  ignored?: string;
}

/** Where an op stands inside the engine. */
export type OpState =
  | 'waiting'
  | 'delayed'
  | 'ready'
  | 'blocked'
  | 'running'
  | 'retrying'
  | 'succeeded'
  | 'failed'
  | 'upstream_failed'
  | 'skipped'
  | 'stopped';

export interface OpView {
  op: string;
  state: OpState;
  attempt: number;
  reason?: string;
  startedAt?: Millis;
}

export interface StatusReport {
  /** The attempt the status is about; a status for an older attempt is ignored. Default: the current one. */
  attempt?: number;
  /** The op's outputs (for `{kind: outputs}` conditions and for the caller's references). */
  outputs?: Record<string, ParamValue>;
}

export type OpStatus = RunStatus;
