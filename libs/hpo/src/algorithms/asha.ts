/**
 * asha (Li et al., "A System for Massively Parallel Hyperparameter Tuning"): rungs at the resources of
 * `ashaRungs` from @myelin/spec (min_resource * reduction_factor^k up to max_resource). Each `ask()`
 * first looks, from the top rung down, for a completed trial in the best floor(m / reduction_factor) of
 * the m completed trials of its rung that has not been promoted yet, and promotes it (a new trial with
 * the same params and the next rung's resource, `promotedFrom` set); otherwise it starts a new random
 * configuration in the bottom rung. No rung ever waits to be full.
 *
 * `n_experiments` counts configurations (bottom-rung trials); promotions come on top of them, so the
 * search creates about n_experiments * rf / (rf - 1) trials at most. Once every configuration has been
 * started, promotions continue until nothing more qualifies.
 */
import { ashaRungs } from '@myelin/spec';
import type { ASHA, Matrix } from '@myelin/spec';
import type { Algorithm, AlgorithmContext, Next, Proposal } from '../core/algorithm';
import type { Params } from '../space/space';
import { topK, withoutResource } from './hyperband';
import { DistinctSampler } from './random';

export interface AshaState {
  rungs: number[][];
  promoted: number[];
  configs: number;
  exhausted: boolean;
}

export class AshaAlgorithm implements Algorithm {
  readonly resources: number[];
  private readonly state: AshaState;
  private sampler?: DistinctSampler;

  constructor(
    private readonly matrix: Matrix,
    private readonly config: ASHA,
    state?: AshaState,
  ) {
    this.resources = ashaRungs(config);
    this.state = state ? structuredClone(state) : { rungs: this.resources.map(() => []), promoted: [], configs: 0, exhausted: false };
  }

  private proposal(params: Params, rung: number, promotedFrom?: number): Proposal {
    const name = this.config.resource.name;
    const value = this.resources[rung];
    return {
      params: { ...params, [name]: value },
      resource: { name, value },
      rung,
      ...(promotedFrom !== undefined ? { promotedFrom } : {}),
    };
  }

  /** The next trial to promote, as [trial id, from rung], if any. */
  private promotable(ctx: AlgorithmContext): [number, number] | undefined {
    const promoted = new Set(this.state.promoted);
    for (let k = this.resources.length - 2; k >= 0; k--) {
      const ids = this.state.rungs[k];
      const completed = ids.filter((id) => ctx.loss(ctx.trials[id]) !== undefined).length;
      const keep = Math.floor(completed / this.config.reduction_factor);
      if (keep === 0) continue;
      const best = topK(ctx, ids, keep).find((id) => !promoted.has(id));
      if (best !== undefined) return [best, k];
    }
    return undefined;
  }

  next(ctx: AlgorithmContext): Next {
    const p = this.promotable(ctx);
    if (p) {
      const [id, k] = p;
      this.state.promoted.push(id);
      return this.proposal(withoutResource(ctx.trials[id], this.config.resource.name), k + 1, id);
    }
    if (!this.state.exhausted && this.state.configs < this.config.n_experiments) {
      if (!this.sampler) {
        this.sampler = new DistinctSampler(this.matrix, ctx.space);
        for (const id of this.state.rungs[0]) this.sampler.add(withoutResource(ctx.trials[id], this.config.resource.name));
      }
      const params = this.sampler.sample(ctx.rng);
      if (params) {
        this.state.configs++;
        return this.proposal(params, 0);
      }
      this.state.exhausted = true;
    }
    return ctx.pendingCount() > 0 ? 'wait' : 'done';
  }

  onCreated(id: number, p: Proposal): void {
    this.state.rungs[p.rung!].push(id);
  }

  exhausted(ctx: AlgorithmContext): boolean {
    return (this.state.exhausted || this.state.configs >= this.config.n_experiments) && !this.promotable(ctx);
  }

  toJSON(): AshaState {
    return structuredClone(this.state);
  }
}
