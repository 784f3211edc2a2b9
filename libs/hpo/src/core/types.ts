import type { EarlyStopping, Optimization, ParamValue, SearchAlgorithm, SearchMetric } from '@myelin/spec';

export type { Optimization, ParamValue, SearchAlgorithm, SearchMetric };

/** What `ask()` hands out: one configuration to run. */
export interface Trial {
  /** 0, 1, 2 ... in the order trials were asked. */
  id: number;
  /** Matrix params, plus the resource param for hyperband/asha. */
  params: Record<string, ParamValue>;
  /** hyperband/asha: the resource given to this trial (also in `params` under its name). */
  resource?: { name: string; value: number };
  /** hyperband/asha: the trial whose configuration this one continues with more resource. */
  promotedFrom?: number;
  /**
   * hyperband with `resume: true`: continue from this earlier trial's outputs/checkpoints instead of
   * training from scratch (the resource then means the total to reach, not the extra amount).
   */
  resumeFrom?: number;
  /** hyperband: bracket s (s_max down to 0); hyperband/asha: rung index from 0. */
  bracket?: number;
  rung?: number;
}

/**
 * What `tell()` accepts:
 * - `{ value }`: the final value of the search metric (the trial is done);
 * - `{ value, step }`: an intermediate value at `step` (the trial keeps running; early-stopping input);
 * - `{ failed: true }`: the trial failed (never observed, never promoted; the search goes on);
 * - `{ stopped: true }`: the trial was stopped early (an early-stopping decision, a user); its last
 *   intermediate value, or `value` if given, is kept for information but it never counts as best.
 * `metrics` carries other metrics by name, for early-stopping rules on a metric other than the search's.
 */
export type TrialReport =
  | { value: number; step?: number; metrics?: Record<string, number> }
  | { failed: true; error?: string }
  | { stopped: true; value?: number; metrics?: Record<string, number> };

export type TrialStatus = 'pending' | 'completed' | 'failed' | 'stopped';

/** A trial with what is known about it. */
export interface TrialRecord extends Trial {
  status: TrialStatus;
  /** Final value (completed), else the last intermediate value, if any. */
  value?: number;
  /** Step of the last intermediate value. */
  step?: number;
  error?: string;
}

/** An early-stopping verdict. `scope: 'group'` means a Polyaxon threshold was crossed: stop everything. */
export interface StopDecision {
  trialId: number;
  scope: 'trial' | 'group';
  rule: EarlyStopping['kind'];
  metric: string;
  /** Human-readable, e.g. "loss 0.81 at step 4 is worse than the median 0.52 of 6 trials". */
  reason: string;
  step?: number;
}

export interface OptimizerOptions {
  /** Overrides `hptuning.seed`. Without either, a random seed is drawn once and kept in the state. */
  seed?: number;
  /**
   * The metric `value` refers to, for algorithms whose section has none (grid_search, random_search).
   * Default: the first early-stopping rule's metric, else `{ name: 'value', optimization: 'maximize' }`.
   */
  metric?: SearchMetric;
}

export interface OptimizerProgress {
  algorithm: SearchAlgorithm;
  asked: number;
  pending: number;
  completed: number;
  failed: number;
  stopped: number;
  finished: boolean;
  /** Set once a Polyaxon threshold stopped the whole search. */
  stoppedBy?: StopDecision;
}

/** The JSON form of an optimizer (`toJSON()`), accepted by `restoreOptimizer`. */
export interface OptimizerState {
  format: 'myelin.hpo/v1';
  algorithm: SearchAlgorithm;
  seed: number;
  rng: number[];
  metric: SearchMetric;
  trials: TrialRecord[];
  /** Internal coordinates of model-based trials, by trial id. */
  coords: Record<string, number[]>;
  algo: unknown;
  stopper: unknown;
}

export interface Optimizer {
  readonly algorithm: SearchAlgorithm;
  /** The metric `value` means and its direction. */
  readonly metric: SearchMetric;
  /**
   * The next trial to run, or null: either `concurrency` trials are pending, or the algorithm needs
   * results before it can go on, or the search is over (`isFinished()`).
   */
  ask(): Trial | null;
  /** Reports a result of a pending trial (see `TrialReport`). Throws on an unknown or finished trial. */
  tell(trialId: number, report: TrialReport): void;
  /** No trial pending and none left to ask. */
  isFinished(): boolean;
  /** The best completed trial by the metric and its optimization, or null. */
  best(): TrialRecord | null;
  trial(trialId: number): TrialRecord | undefined;
  trials(): TrialRecord[];
  /** Should this pending trial be stopped now (early-stopping policies or a group threshold)? */
  shouldStop(trialId: number): StopDecision | undefined;
  /** Every pending trial that should be stopped now. */
  stopDecisions(): StopDecision[];
  progress(): OptimizerProgress;
  toJSON(): OptimizerState;
}
