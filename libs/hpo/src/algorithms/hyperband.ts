/**
 * hyperband (Li et al.), with the bracket arithmetic of `hyperbandPlan` from @myelin/spec:
 * s_max = floor(log_eta(max_iter)), B = (s_max + 1) max_iter; bracket s starts
 * n = ceil(B / max_iter * eta^s / (s + 1)) random configurations with resource max_iter * eta^-s, and
 * each rung keeps the best floor(n_i / eta) of the previous one with eta times the resource.
 *
 * Brackets are walked from s_max down to 0 as in Polyaxon. A rung is promoted once all of its trials
 * are done (failed or stopped trials are never promoted; if fewer succeeded than the next rung needs,
 * all that succeeded go up). While a bracket waits for results, `ask()` may start the next bracket's
 * trials if `concurrency` leaves room: with concurrency 1 the order is exactly Polyaxon's.
 *
 * The resource is injected as the param `resource.name`. With `resume: true`, a promoted trial carries
 * `resumeFrom` (the trial it continues); without it, `promotedFrom` only and the trial restarts.
 */
import { hyperbandPlan } from '@myelin/spec';
import type { Hyperband, HyperbandPlan, Matrix } from '@myelin/spec';
import type { Algorithm, AlgorithmContext, Next, Proposal } from '../core/algorithm';
import type { TrialRecord } from '../core/types';
import type { Params } from '../space/space';
import { DistinctSampler } from './random';

interface BracketState {
  /** Trial ids per started rung. */
  rungs: number[][];
  /** How many trials each started rung gets. */
  targets: number[];
  /** Ids of the previous rung's trials still to be promoted into the current rung. */
  queue: number[];
  done: boolean;
}

export interface HyperbandState {
  brackets: BracketState[];
}

/** The best `k` completed trials (lowest loss, then lowest id). */
export function topK(ctx: AlgorithmContext, ids: readonly number[], k: number): number[] {
  const scored: Array<[number, number]> = [];
  for (const id of ids) {
    const l = ctx.loss(ctx.trials[id]);
    if (l !== undefined) scored.push([id, l]);
  }
  scored.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
  return scored.slice(0, k).map(([id]) => id);
}

export function withoutResource(t: TrialRecord, resourceName: string): Params {
  const p: Params = { ...t.params };
  delete p[resourceName];
  return p;
}

export class HyperbandAlgorithm implements Algorithm {
  readonly plan: HyperbandPlan;
  private readonly state: HyperbandState;
  private samplers = new Map<number, DistinctSampler>();

  constructor(
    private readonly matrix: Matrix,
    private readonly config: Hyperband,
    state?: HyperbandState,
  ) {
    this.plan = hyperbandPlan(config);
    this.state = state
      ? structuredClone(state)
      : {
          brackets: this.plan.brackets.map((b) => ({
            rungs: [[]],
            targets: [b.rungs[0]?.n_configs ?? 0],
            queue: [],
            done: b.rungs.length === 0,
          })),
        };
  }

  private sampler(ctx: AlgorithmContext, b: number): DistinctSampler {
    let s = this.samplers.get(b);
    if (!s) {
      s = new DistinctSampler(this.matrix, ctx.space);
      for (const id of this.state.brackets[b].rungs[0]) s.add(withoutResource(ctx.trials[id], this.config.resource.name));
      this.samplers.set(b, s);
    }
    return s;
  }

  private proposal(params: Params, b: number, rung: number, extra: Partial<Proposal> = {}): Proposal {
    const value = this.plan.brackets[b].rungs[rung].resource;
    const name = this.config.resource.name;
    return { params: { ...params, [name]: value }, resource: { name, value }, bracket: this.plan.brackets[b].bracket, rung, ...extra };
  }

  next(ctx: AlgorithmContext): Next {
    for (let b = 0; b < this.state.brackets.length; b++) {
      const p = this.nextIn(ctx, b);
      if (p) return p;
    }
    return this.state.brackets.every((s) => s.done) ? 'done' : 'wait';
  }

  /** Advances a bracket whose current rung is full and done: promote into the next rung, or finish. */
  private settle(ctx: AlgorithmContext, b: number): void {
    const st = this.state.brackets[b];
    const plan = this.plan.brackets[b];
    if (st.done) return;
    const i = st.rungs.length - 1;
    if (st.rungs[i].length < st.targets[i]) return;
    if (st.rungs[i].some((id) => ctx.trials[id].status === 'pending')) return;
    const keep = i + 1 < plan.rungs.length ? topK(ctx, st.rungs[i], plan.rungs[i + 1].n_configs) : [];
    if (keep.length === 0) {
      st.done = true;
      return;
    }
    st.rungs.push([]);
    st.targets.push(keep.length);
    st.queue = keep;
  }

  private nextIn(ctx: AlgorithmContext, b: number): Proposal | undefined {
    const st = this.state.brackets[b];
    this.settle(ctx, b);
    if (st.done) return undefined;
    const i = st.rungs.length - 1;
    if (st.rungs[i].length >= st.targets[i]) return undefined;
    if (i > 0) {
      const from = st.queue.shift()!;
      return this.proposal(withoutResource(ctx.trials[from], this.config.resource.name), b, i, {
        promotedFrom: from,
        ...(this.config.resume ? { resumeFrom: from } : {}),
      });
    }
    const params = this.sampler(ctx, b).sample(ctx.rng);
    if (params) return this.proposal(params, b, 0);
    // Space exhausted: the first rung runs with what it has.
    st.targets[0] = st.rungs[0].length;
    if (st.rungs[0].length === 0) {
      st.done = true;
      return undefined;
    }
    return this.nextIn(ctx, b);
  }

  onCreated(id: number, p: Proposal): void {
    const b = this.plan.brackets.findIndex((x) => x.bracket === p.bracket);
    this.state.brackets[b].rungs[p.rung!].push(id);
  }

  exhausted(ctx: AlgorithmContext): boolean {
    this.state.brackets.forEach((_, b) => this.settle(ctx, b));
    return this.state.brackets.every((s) => s.done);
  }

  toJSON(): HyperbandState {
    return structuredClone(this.state);
  }
}
