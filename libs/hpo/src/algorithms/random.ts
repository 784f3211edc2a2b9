/**
 * random_search: `n_experiments` distinct configurations from the optimizer's seeded generator.
 * Distributions are drawn with the reference sampler of @myelin/spec (`sampleMatrixOption`: quantised
 * options rounded to q, log kinds exponentiated); discrete options uniformly over their values (expanded
 * once, not per draw), pvalues by weight. A finite space smaller than n_experiments ends the search
 * once every configuration has been tried.
 */
import { expandMatrixOption, isContinuous, sampleMatrixOption } from '@myelin/spec';
import type { Matrix, ParamValue } from '@myelin/spec';
import type { Algorithm, AlgorithmContext, Next } from '../core/algorithm';
import type { Rng } from '../core/rng';
import { paramsKey, Params, SearchSpace } from '../space/space';

export interface RandomState {
  created: number;
  exhausted: boolean;
}

/** -0 (from rounding a small negative draw) becomes 0: JSON has no -0, and states must round-trip. */
function positiveZero(v: ParamValue): ParamValue {
  if (Array.isArray(v)) return v.map(positiveZero);
  return typeof v === 'number' ? v + 0 : v;
}

/** Draws distinct configurations; shared by random search, hyperband and asha. */
export class DistinctSampler {
  private readonly seen = new Set<string>();
  private readonly drawers: Array<[string, (rng: Rng) => ParamValue]>;

  constructor(
    matrix: Matrix,
    private readonly space: SearchSpace,
  ) {
    this.drawers = Object.entries(matrix).map(([name, option]): [string, (rng: Rng) => ParamValue] => {
      if (isContinuous(option)) return [name, (rng) => positiveZero(sampleMatrixOption(option, rng.fn))];
      if (option.kind === 'pvalues') return [name, (rng) => option.values[rng.weighted(option.probabilities)]];
      const values = expandMatrixOption(option);
      return [name, (rng) => values[rng.int(values.length)]];
    });
  }

  add(params: Params): void {
    this.seen.add(paramsKey(params));
  }

  has(params: Params): boolean {
    return this.seen.has(paramsKey(params));
  }

  draw(rng: Rng): Params {
    const out: Params = {};
    for (const [name, draw] of this.drawers) out[name] = draw(rng);
    return out;
  }

  /** A configuration not seen yet, or undefined when the space is (practically) exhausted. */
  sample(rng: Rng): Params | undefined {
    for (let i = 0; i < 200; i++) {
      const p = this.draw(rng);
      if (!this.has(p)) return this.take(p);
    }
    const size = this.space.finiteSize();
    if (size <= 200_000) return this.fromRemaining(rng);
    for (let i = 0; i < 10_000; i++) {
      const p = this.draw(rng);
      if (!this.has(p)) return this.take(p);
    }
    return undefined;
  }

  private take(p: Params): Params {
    this.add(p);
    return p;
  }

  /** Weighted pick among the configurations not seen yet (finite spaces). */
  private fromRemaining(rng: Rng): Params | undefined {
    const dims = this.space.dims;
    const sizes = dims.map((d) => (d.kind === 'float' ? 0 : d.values.length));
    const total = sizes.reduce((a, b) => a * b, 1);
    const candidates: Params[] = [];
    const weights: number[] = [];
    const coords = new Array<number>(dims.length).fill(0);
    for (let i = 0; i < total; i++) {
      let rest = i;
      let w = 1;
      for (let k = dims.length - 1; k >= 0; k--) {
        coords[k] = rest % sizes[k];
        rest = Math.floor(rest / sizes[k]);
        const d = dims[k];
        w *= d.kind === 'categorical' ? d.weights[coords[k]] : 1;
      }
      const p = this.space.decode(coords);
      if (!this.has(p) && w > 0) {
        candidates.push(p);
        weights.push(w);
      }
    }
    if (candidates.length === 0) return undefined;
    return this.take(candidates[rng.weighted(weights)]);
  }
}

export class RandomSearchAlgorithm implements Algorithm {
  private created: number;
  private done: boolean;
  private sampler?: DistinctSampler;

  constructor(
    private readonly matrix: Matrix,
    private readonly n: number,
    state?: RandomState,
  ) {
    this.created = state?.created ?? 0;
    this.done = state?.exhausted ?? false;
  }

  private samplerFor(ctx: AlgorithmContext): DistinctSampler {
    if (!this.sampler) {
      this.sampler = new DistinctSampler(this.matrix, ctx.space);
      for (const t of ctx.trials) this.sampler.add(t.params);
    }
    return this.sampler;
  }

  next(ctx: AlgorithmContext): Next {
    if (this.done || this.created >= this.n) return 'done';
    const p = this.samplerFor(ctx).sample(ctx.rng);
    if (!p) {
      this.done = true;
      return 'done';
    }
    this.created++;
    return { params: p };
  }

  exhausted(): boolean {
    return this.done || this.created >= this.n;
  }

  toJSON(): RandomState {
    return { created: this.created, exhausted: this.done };
  }
}
