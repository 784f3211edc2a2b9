/** The contract between the optimizer (bookkeeping, ask/tell, state) and one search algorithm. */
import type { Optimization } from '@myelin/spec';
import type { Rng } from './rng';
import type { SearchSpace, Params } from '../space/space';
import type { TrialRecord } from './types';

export interface Proposal {
  params: Params;
  /** Internal coordinates (model-based algorithms keep them to refit on). */
  coords?: number[];
  resource?: { name: string; value: number };
  promotedFrom?: number;
  resumeFrom?: number;
  bracket?: number;
  rung?: number;
}

/** A proposal, or `wait` (needs results first), or `done` (will never propose again). */
export type Next = Proposal | 'wait' | 'done';

export interface AlgorithmContext {
  readonly rng: Rng;
  readonly space: SearchSpace;
  /** Every trial so far, by id (index). */
  readonly trials: readonly TrialRecord[];
  readonly coords: ReadonlyMap<number, number[]>;
  readonly concurrency: number;
  readonly optimization: Optimization;
  /** The value of a completed trial turned into a loss (lower is better); undefined otherwise. */
  loss(t: TrialRecord): number | undefined;
  pendingCount(): number;
}

export interface Algorithm {
  next(ctx: AlgorithmContext): Next;
  /** No pending trial and nothing left to propose. Called only when no trial is pending. */
  exhausted(ctx: AlgorithmContext): boolean;
  /** The optimizer created trial `id` from proposal `p`. */
  onCreated?(id: number, p: Proposal): void;
  /** A trial reached a final status (completed, failed, stopped). */
  onFinal?(ctx: AlgorithmContext, trial: TrialRecord): void;
  toJSON(): unknown;
}
