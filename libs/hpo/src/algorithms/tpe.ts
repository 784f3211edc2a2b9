/**
 * tpe: Tree-structured Parzen Estimator (Bergstra et al. 2011), in Optuna's form with joint
 * (multivariate) kernels, tuned for small budgets.
 *
 * - Random draws from the space until `n_initial_trials` trials have completed (default 10).
 * - Then trials are split by loss: the best gamma(n) = min(ceil(0.2 n), 25) form l(x), the rest g(x);
 *   pending, failed and stopped trials count among the worst (constant liar: parallel asks do not
 *   repeat a point in flight, and failing regions are avoided).
 * - Kernel weights: l(x) by rank (the best observation weighs most), g(x) by age as in Optuna (flat for
 *   the newest 25, a ramp from 1/n for older ones); one prior kernel each.
 * - Bandwidths: 0.06 n^(-1/(d+4)) of the range per dimension, at least range / min(100, 3 (n + 2))
 *   (Optuna: 0.2 and range / min(100, n + 2)); narrower kernels exploit more, which pays at the
 *   budgets of hyperparameter searches (tools/bench/hpo).
 * - 24 candidates are drawn from l(x); the one maximising log l(x) - log g(x) whose params were never
 *   tried is proposed.
 */
import type { TPE } from '@myelin/spec';
import type { Algorithm, AlgorithmContext, Next } from '../core/algorithm';
import { paramsKey, sampleDistinct, SearchSpace } from '../space/space';
import { DEFAULT_PARZEN, ParzenEstimator, ParzenOptions } from '../tpe/parzen';

export interface TPEState {
  created: number;
  exhausted: boolean;
}

export interface TPETuning extends ParzenOptions {
  candidates: number;
  /** Fraction of trials forming l(x), and its cap. */
  gamma: number;
  gammaCap: number;
  /** Weight l(x)'s kernels by rank (best highest) instead of by age. */
  rankWeights: boolean;
}

export const DEFAULT_TPE: TPETuning = { ...DEFAULT_PARZEN, bandwidth: 0.06, clip: 3, candidates: 24, gamma: 0.2, gammaCap: 25, rankWeights: true };

/** Optuna's default observation weights: a ramp from 1/n for all but the newest 25. */
export function tpeWeights(n: number): number[] {
  if (n < 25) return new Array<number>(n).fill(1);
  const ramp = Array.from({ length: n - 25 }, (_, i) => (n - 25 === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (n - 26)));
  return [...ramp, ...new Array<number>(25).fill(1)];
}

export class TPEAlgorithm implements Algorithm {
  private readonly state: TPEState;
  private keys?: Set<string>;

  constructor(
    private readonly config: TPE,
    private readonly space: SearchSpace,
    state?: TPEState,
    private readonly tuning: TPETuning = DEFAULT_TPE,
  ) {
    this.state = state ? structuredClone(state) : { created: 0, exhausted: false };
  }

  next(ctx: AlgorithmContext): Next {
    if (this.state.exhausted || this.state.created >= this.config.n_experiments) return 'done';
    if (!this.keys) this.keys = new Set(ctx.trials.map((t) => paramsKey(t.params)));
    const keys = this.keys;
    const seen = (c: readonly number[]): boolean => keys.has(paramsKey(this.space.decode(c)));
    const modelled = ctx.trials.filter((t) => ctx.coords.has(t.id));
    const completed = modelled.filter((t) => ctx.loss(t) !== undefined).length;
    let coords: number[] | undefined;
    if (completed >= Math.max(1, this.config.n_initial_trials)) coords = this.suggest(ctx, seen);
    coords ??= sampleDistinct(this.space, ctx.rng, (p) => keys.has(paramsKey(p)));
    if (!coords) {
      this.state.exhausted = true;
      return 'done';
    }
    const params = this.space.decode(coords);
    keys.add(paramsKey(params));
    this.state.created++;
    return { params, coords };
  }

  private suggest(ctx: AlgorithmContext, seen: (c: readonly number[]) => boolean): number[] | undefined {
    const rows: Array<{ id: number; loss: number; coords: number[] }> = [];
    const finite: number[] = [];
    for (const t of ctx.trials) {
      const coords = ctx.coords.get(t.id);
      if (!coords) continue;
      const loss = ctx.loss(t) ?? Infinity;
      rows.push({ id: t.id, loss, coords });
      if (loss !== Infinity) finite.push(loss);
    }
    const nBelow = Math.min(Math.ceil(this.tuning.gamma * rows.length), this.tuning.gammaCap, finite.length);
    // The nBelow smallest losses; ties at the threshold go to the oldest trials. Rows stay in trial order.
    const threshold = nBelow > 0 ? Float64Array.from(finite).sort()[nBelow - 1] : -Infinity;
    let strictly = 0;
    for (const r of rows) if (r.loss < threshold) strictly++;
    let ties = nBelow - strictly;
    const below: typeof rows = [];
    const above: typeof rows = [];
    for (const r of rows) {
      if (r.loss < threshold || (r.loss === threshold && ties-- > 0)) below.push(r);
      else above.push(r);
    }
    let wBelow = tpeWeights(below.length);
    if (this.tuning.rankWeights) {
      const rank = new Map([...below].sort((a, b) => a.loss - b.loss || a.id - b.id).map((r, i) => [r.id, i]));
      wBelow = below.map((r) => below.length - rank.get(r.id)!);
    }
    const l = new ParzenEstimator(this.space, below.map((r) => r.coords), wBelow, this.tuning);
    const g = new ParzenEstimator(this.space, above.map((r) => r.coords), tpeWeights(above.length), this.tuning);
    for (let round = 0; round < 4; round++) {
      let best: number[] | undefined;
      let bestScore = -Infinity;
      for (const c of l.sample(ctx.rng, this.tuning.candidates)) {
        if (seen(c)) continue;
        const s = l.logPdf(c) - g.logPdf(c);
        if (s > bestScore || best === undefined) {
          best = c;
          bestScore = s;
        }
      }
      if (best) return this.space.snap(best);
    }
    return undefined;
  }

  exhausted(): boolean {
    return this.state.exhausted || this.state.created >= this.config.n_experiments;
  }

  toJSON(): TPEState {
    return structuredClone(this.state);
  }
}
