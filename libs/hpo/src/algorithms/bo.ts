/**
 * bo: Bayesian optimisation with a Gaussian process.
 *
 * - The first `n_initial_trials` trials are distinct random draws from the space; then `n_iterations`
 *   guided ones. A guided ask needs two completed observations; until then it waits for pending
 *   trials, or draws at random if nothing is pending (so failures never stall the search).
 * - Inputs are encoded to [0, 1]^D (floats scaled in their own, possibly log, coordinate; ordinal lists
 *   by index; categoricals one-hot); targets are the metric turned into a quantity to maximise and
 *   standardised.
 * - Kernel: Matern with the spec's nu (or RBF), one length scale per param (ARD; a categorical's one-hot
 *   columns share one) starting at the spec's `length_scale`, a signal variance and a noise variance,
 *   fitted by maximising the log marginal likelihood with a weak log-normal prior on the length scales
 *   (L-BFGS from the previous optimum, a short-length-scale start, and `n_restarts_optimizer` random
 *   starts). Past 100 observations the hyperparameters are fitted on 100 of them (the best 50 and the
 *   most recent); the GP itself always conditions on all.
 * - Parallel trials: pending, failed and stopped trials enter the GP as constant liars at the worst
 *   observed value (after the hyperparameters are fitted on real observations only), so parallel asks
 *   spread out and a failing region is not proposed again.
 * - The acquisition (ucb with kappa, ei/poi with eps in metric units) is maximised on snapped points
 *   (ordinals rounded, categoricals argmaxed, quantised values rounded) over max(n_warmup, 500)
 *   random points plus perturbations of the best observations, then refined by compass search from the
 *   best min(n_iter, 3) candidates. The best point whose params were never tried is proposed.
 */
import type { BO } from '@myelin/spec';
import type { Algorithm, AlgorithmContext, Next } from '../core/algorithm';
import type { Rng } from '../core/rng';
import { acquisition, AcquisitionKind, AcquisitionParams } from '../gp/acquisition';
import { fitHyper, GaussianProcess, GPHyper, randomHyper } from '../gp/gp';
import { correlation, Correlation } from '../gp/kernels';
import { paramsKey, sampleDistinct, SearchSpace } from '../space/space';
import type { TrialRecord } from '../core/types';

export interface BOState {
  created: number;
  exhausted: boolean;
  /** Last fitted hyperparameters: the warm start of the next fit. */
  hyper?: GPHyper;
}

const MIN_WARMUP = 500;
const FIT_MAX = 100;

/**
 * Indices of the observations to fit hyperparameters on: all of them up to `max`, else the best
 * max/2 (highest y) and the most recent of the others.
 */
export function fitSubset(y: readonly number[], max: number): number[] {
  const n = y.length;
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const byValue = Array.from({ length: n }, (_, i) => i).sort((a, b) => y[b] - y[a] || a - b);
  const chosen = new Set(byValue.slice(0, Math.floor(max / 2)));
  for (let i = n - 1; i >= 0 && chosen.size < max; i--) chosen.add(i);
  return [...chosen].sort((a, b) => a - b);
}
const MAX_LOCAL = 3;

export class BOAlgorithm implements Algorithm {
  private readonly state: BOState;
  private readonly corr: Correlation;
  private keys?: Set<string>;
  /** Encoded column -> space dimension (one-hot columns of a categorical share its length scale). */
  private readonly groups: Int32Array;

  constructor(
    private readonly config: BO,
    private readonly space: SearchSpace,
    state?: BOState,
  ) {
    this.state = state ? structuredClone(state) : { created: 0, exhausted: false };
    const gp = config.utility_function.gaussian_process;
    this.corr = correlation(gp.kernel, gp.nu);
    this.groups = new Int32Array(space.encodedSize);
    space.dims.forEach((_, i) => {
      const { offset, width } = space.encodedSlot(i);
      this.groups.fill(i, offset, offset + width);
    });
  }

  private get total(): number {
    return this.config.n_initial_trials + this.config.n_iterations;
  }

  private seen(ctx: AlgorithmContext): Set<string> {
    if (!this.keys) this.keys = new Set(ctx.trials.map((t) => paramsKey(t.params)));
    return this.keys;
  }

  next(ctx: AlgorithmContext): Next {
    if (this.state.exhausted || this.state.created >= this.total) return 'done';
    const keys = this.seen(ctx);
    let coords: number[] | undefined;
    if (this.state.created >= this.config.n_initial_trials) {
      const obs = ctx.trials.filter((t) => ctx.coords.has(t.id) && ctx.loss(t) !== undefined);
      if (obs.length >= 2) coords = this.suggest(ctx, obs, keys);
      else if (ctx.pendingCount() > 0) return 'wait';
    }
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

  /** The fitted GP and the standardisation used, on the observations plus liars. */
  model(ctx: AlgorithmContext, obs: readonly TrialRecord[]): { gp: GaussianProcess; best: number; scale: number } {
    const D = this.space.encodedSize;
    const n = obs.length;
    const x = new Float64Array(n * D);
    obs.forEach((t, i) => this.space.encode(ctx.coords.get(t.id)!, x.subarray(i * D, (i + 1) * D)));
    const raw = obs.map((t) => -ctx.loss(t)!);
    const mu = raw.reduce((a, b) => a + b, 0) / n;
    let sd = Math.sqrt(raw.reduce((a, b) => a + (b - mu) * (b - mu), 0) / n);
    if (!(sd > 1e-12)) sd = 1;
    const y = raw.map((v) => (v - mu) / sd);
    const gpc = this.config.utility_function.gaussian_process;
    const G = this.space.dims.length;
    const groups = this.groups;
    const init: GPHyper =
      this.state.hyper && this.state.hyper.logLength.length === G
        ? this.state.hyper
        : { logLength: new Array<number>(G).fill(Math.log(gpc.length_scale)), logSignal: 0, logNoise: Math.log(1e-3) };
    const starts = [init];
    // A short-length-scale start guards against the "everything is noise" optimum of rough objectives:
    // on every fit while observations are few, then on every 5th.
    if (n <= 40 || n % 5 === 0) starts.push({ logLength: init.logLength.map((v) => v - Math.log(10)), logSignal: 0, logNoise: Math.log(1e-4) });
    for (let i = 0; i < gpc.n_restarts_optimizer; i++) starts.push(randomHyper(G, ctx.rng));
    // Hyperparameters are global: past FIT_MAX observations they are fitted on a subset (the best half
    // and the most recent others), which keeps a suggestion in tens of milliseconds at a few hundred.
    const fitIdx = fitSubset(y, FIT_MAX);
    const xf = new Float64Array(fitIdx.length * D);
    fitIdx.forEach((k, i) => xf.set(x.subarray(k * D, (k + 1) * D), i * D));
    const maxIter = fitIdx.length <= 40 ? 100 : 30;
    const { hyper } = fitHyper(this.corr, xf, fitIdx.length, D, fitIdx.map((k) => y[k]), { starts, maxIter, groups });
    this.state.hyper = hyper;
    // Constant liars: pending, failed and stopped trials at the worst observed value.
    const liars = ctx.trials.filter((t) => ctx.coords.has(t.id) && t.status !== 'completed');
    const worst = Math.min(...y);
    const m = n + liars.length;
    const xa = new Float64Array(m * D);
    xa.set(x);
    liars.forEach((t, i) => this.space.encode(ctx.coords.get(t.id)!, xa.subarray((n + i) * D, (n + i + 1) * D)));
    const ya = [...y, ...liars.map(() => worst)];
    return { gp: new GaussianProcess(this.corr, xa, m, D, ya, hyper, groups), best: Math.max(...y), scale: sd };
  }

  private suggest(ctx: AlgorithmContext, obs: readonly TrialRecord[], keys: Set<string>): number[] | undefined {
    const { gp, best, scale } = this.model(ctx, obs);
    const uf = this.config.utility_function;
    const kind: AcquisitionKind = uf.acquisition_function;
    const p: AcquisitionParams = { kappa: uf.kappa ?? 2.576, eps: (uf.eps ?? 0) / scale };
    const score = (x: Float64Array): number => {
      const { mean, variance } = gp.predict(x);
      return acquisition(kind, mean, Math.sqrt(variance), best, p);
    };
    const incumbents = [...obs].sort((a, b) => ctx.loss(a)! - ctx.loss(b)!).slice(0, 5).map((t) => ctx.coords.get(t.id)!);
    const ranked = maximizeAcquisition(this.space, score, ctx.rng, {
      warmup: Math.max(uf.n_warmup, MIN_WARMUP),
      localStarts: Math.max(1, Math.min(uf.n_iter, MAX_LOCAL)),
      incumbents,
    });
    for (const c of ranked) {
      if (!keys.has(paramsKey(this.space.decode(c)))) return c;
    }
    return undefined;
  }

  exhausted(): boolean {
    return this.state.exhausted || this.state.created >= this.total;
  }

  toJSON(): BOState {
    return structuredClone(this.state);
  }
}

export interface AcqSearchOptions {
  warmup: number;
  localStarts: number;
  /** Coordinates of the best observations: their neighbourhoods are searched too. */
  incumbents: readonly number[][];
}

/**
 * Candidate coordinates ranked by the acquisition `score` (evaluated at snapped points): random
 * warm-up, perturbed incumbents, then compass-search refinement of the best few.
 */
export function maximizeAcquisition(
  space: SearchSpace,
  score: (x: Float64Array) => number,
  rng: Rng,
  o: AcqSearchOptions,
): number[][] {
  const pool: Array<{ c: number[]; s: number; key: string }> = [];
  const seen = new Set<string>();
  const push = (c: number[]): number => {
    const snapped = space.snap(c);
    const key = JSON.stringify(snapped);
    if (seen.has(key)) return -Infinity;
    seen.add(key);
    const s = score(space.encode(snapped));
    pool.push({ c: snapped, s, key });
    return s;
  };
  for (let i = 0; i < o.warmup; i++) push(space.sample(rng));
  for (const inc of o.incumbents) {
    for (let i = 0; i < 20; i++) push(perturb(space, inc, rng, 0.05));
  }
  pool.sort((a, b) => b.s - a.s);
  const starts = pool.slice(0, o.localStarts).map((p) => p.c);
  for (const start of starts) compassSearch(space, start, score, push);
  pool.sort((a, b) => b.s - a.s);
  return pool.map((p) => p.c);
}

function perturb(space: SearchSpace, c: readonly number[], rng: Rng, sigma: number): number[] {
  return space.dims.map((d, i) => {
    switch (d.kind) {
      case 'float': {
        const span = d.high - d.low;
        return Math.min(d.high, Math.max(d.low, c[i] + sigma * span * rng.normal()));
      }
      case 'ordinal': {
        const span = Math.max(1, d.values.length - 1);
        return Math.min(d.values.length - 1, Math.max(0, Math.round(c[i] + sigma * span * rng.normal())));
      }
      case 'categorical':
        return rng.uniform() < 0.1 ? rng.int(d.values.length) : c[i];
    }
  });
}

/** Coordinate-wise pattern search on the snapped acquisition; every evaluated point joins the pool. */
function compassSearch(space: SearchSpace, start: number[], score: (x: Float64Array) => number, push: (c: number[]) => number): void {
  let x = [...start];
  let fx = score(space.encode(space.snap(x)));
  let step = 0.1;
  let evals = 0;
  const budget = 20 * space.dims.length + 20;
  while (step > 1e-3 && evals < budget) {
    let improved = false;
    for (let i = 0; i < space.dims.length && evals < budget; i++) {
      const d = space.dims[i];
      const moves: number[] = [];
      if (d.kind === 'categorical') {
        for (let k = 0; k < d.values.length; k++) if (k !== x[i]) moves.push(k);
      } else if (d.kind === 'ordinal') {
        const delta = Math.max(1, Math.round(step * (d.values.length - 1)));
        moves.push(x[i] + delta, x[i] - delta);
      } else {
        const span = d.high - d.low;
        moves.push(x[i] + step * span, x[i] - step * span);
      }
      for (const mv of moves) {
        const lo = d.kind === 'float' ? d.low : 0;
        const hi = d.kind === 'float' ? d.high : d.values.length - 1;
        if (mv < lo || mv > hi) continue;
        const y = [...x];
        y[i] = mv;
        const s = push(y);
        evals++;
        if (s > fx) {
          x = space.snap(y);
          fx = s;
          improved = true;
          break;
        }
      }
    }
    if (!improved) step /= 2;
  }
}
