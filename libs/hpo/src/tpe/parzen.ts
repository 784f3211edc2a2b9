/**
 * The Parzen estimator of TPE: a weighted mixture with one kernel per observation plus a prior kernel,
 * over the coordinates of a `SearchSpace`.
 *
 * - float dimensions: normal kernels truncated to [low, high] (normal-prior options: the box), centred
 *   on the observations; the prior kernel is centred mid-range with sigma = high - low (or the option's
 *   own normal prior).
 * - ordinal dimensions: the same on the index axis [-0.5, k - 0.5], discretised (each index gets the
 *   kernel's mass over its unit cell).
 * - categorical dimensions: each kernel puts 1 + a on its observed category and a elsewhere
 *   (a = prior_weight / (n + 1), scaled by the pvalues weights), the prior kernel is the prior.
 *
 * Bandwidths (Optuna's multivariate rule with its "magic clip"): sigma = 0.2 n^(-1/(d+4)) (high - low),
 * clipped to [(high - low) / min(100, n + 2), high - low]. Kernels are joint (multivariate TPE): a
 * sample picks one kernel and draws every dimension from it, and densities multiply across dimensions
 * inside each kernel, so interactions between params are kept.
 */
import type { Rng } from '../core/rng';
import { logSumExp, normCdf, normCdfFast, normQuantile } from '../core/stats';
import type { Dim, SearchSpace } from '../space/space';

export interface ParzenOptions {
  priorWeight: number;
  /** Bandwidth factor of the multivariate rule (0.2 in Optuna). */
  bandwidth: number;
  /** The smallest bandwidth is span / min(100, clip * (n + 2)) (Optuna's magic clip: 1). */
  clip: number;
  /** `scott`: one bandwidth per dimension (multivariate rule); `neighbour`: per kernel, the larger gap to its neighbours in that dimension (Optuna's univariate rule). */
  rule: 'scott' | 'neighbour';
}

export const DEFAULT_PARZEN: ParzenOptions = { priorWeight: 1, bandwidth: 0.2, clip: 1, rule: 'scott' };

interface NumericDim {
  kind: 'numeric';
  discrete: boolean;
  low: number;
  high: number;
  mus: Float64Array;
  sigmas: Float64Array;
  invSigmas: Float64Array;
  /** log of the kernel's mass inside [low, high]. */
  logZ: Float64Array;
  /** log(sigma) + logZ + log(sqrt(2 pi)): the continuous log density is -z^2/2 - logNorm. */
  logNorm: Float64Array;
}
interface CategoricalKernels {
  kind: 'categorical';
  /** n_kernels x n_choices, row-normalised; stored as logs too. */
  probs: Float64Array[];
  logProbs: Float64Array[];
}
type DimKernels = NumericDim | CategoricalKernels;

/** Phi(b) - Phi(a) without cancellation in the upper tail. */
function normMass(a: number, b: number): number {
  if (a <= 0 && b >= 0) {
    // Both tails are below 1/2: 1 - Phi(a) - Phi(-b), and tails past 9 sd are exactly 0 in double.
    return 1 - (a < -9 ? 0 : normCdfFast(a)) - (b > 9 ? 0 : normCdfFast(-b));
  }
  return a > 0 ? normCdfFast(-a) - normCdfFast(-b) : normCdfFast(b) - normCdfFast(a);
}

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

function numericRange(d: Dim): [number, number] {
  if (d.kind === 'float') return [d.low, d.high];
  return [-0.5, d.values.length - 0.5];
}

export class ParzenEstimator {
  readonly logWeights: Float64Array;
  readonly weights: Float64Array;
  private readonly dims: DimKernels[];
  readonly nKernels: number;

  /**
   * @param obs coordinates of the observations
   * @param obsWeights their (unnormalised) weights
   */
  constructor(
    space: SearchSpace,
    obs: readonly (readonly number[])[],
    obsWeights: readonly number[],
    o: ParzenOptions = DEFAULT_PARZEN,
  ) {
    const n = obs.length;
    this.nKernels = n + 1;
    const w = new Float64Array(n + 1);
    let total = 0;
    for (let i = 0; i < n; i++) total += w[i] = obsWeights[i];
    w[n] = o.priorWeight;
    total += o.priorWeight;
    for (let i = 0; i <= n; i++) w[i] /= total;
    this.weights = w;
    this.logWeights = new Float64Array(n + 1);
    for (let i = 0; i <= n; i++) this.logWeights[i] = Math.log(w[i]);
    const nParams = space.dims.length;
    this.dims = space.dims.map((d, j) => {
      if (d.kind === 'categorical') {
        const K = d.values.length;
        const a = o.priorWeight / (n + 1);
        const probs: Float64Array[] = [];
        for (let i = 0; i < n; i++) {
          const row = new Float64Array(K);
          for (let k = 0; k < K; k++) row[k] = a * K * d.weights[k];
          row[obs[i][j]] += 1;
          probs.push(normalise(row));
        }
        probs.push(normalise(Float64Array.from(d.weights)));
        const logProbs = probs.map((r) => {
          const out = new Float64Array(K);
          for (let k = 0; k < K; k++) out[k] = Math.log(r[k]);
          return out;
        });
        return { kind: 'categorical', probs, logProbs };
      }
      const [low, high] = numericRange(d);
      const span = high - low;
      const mus = new Float64Array(n + 1);
      const sigmas = new Float64Array(n + 1);
      const sigma0 = o.bandwidth * Math.pow(Math.max(n, 1), -1 / (nParams + 4)) * span;
      const minSigma = span / Math.min(100, o.clip * (n + 2));
      for (let i = 0; i < n; i++) {
        mus[i] = obs[i][j];
        sigmas[i] = sigma0;
      }
      if (o.rule === 'neighbour' && n > 0) {
        const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => mus[a] - mus[b]);
        for (let r = 0; r < n; r++) {
          const left = r > 0 ? mus[order[r]] - mus[order[r - 1]] : mus[order[r]] - low;
          const right = r < n - 1 ? mus[order[r + 1]] - mus[order[r]] : high - mus[order[r]];
          sigmas[order[r]] = n === 1 ? Math.max(left, right) : r === 0 ? right : r === n - 1 ? left : Math.max(left, right);
        }
      }
      for (let i = 0; i < n; i++) sigmas[i] = Math.min(span, Math.max(minSigma, sigmas[i]));
      if (d.kind === 'float' && d.prior) {
        mus[n] = d.prior.mu;
        sigmas[n] = d.prior.sigma;
      } else {
        mus[n] = 0.5 * (low + high);
        sigmas[n] = span;
      }
      // (typed-array loops: TypedArray.from with a map function is slow in V8)
      const logZ = new Float64Array(n + 1);
      const invSigmas = new Float64Array(n + 1);
      const logNorm = new Float64Array(n + 1);
      for (let i = 0; i <= n; i++) {
        logZ[i] = Math.log(Math.max(normMass((low - mus[i]) / sigmas[i], (high - mus[i]) / sigmas[i]), 1e-300));
        invSigmas[i] = 1 / sigmas[i];
        logNorm[i] = Math.log(sigmas[i]) + logZ[i] + LOG_SQRT_2PI;
      }
      return { kind: 'numeric', discrete: d.kind === 'ordinal', low, high, mus, sigmas, invSigmas, logZ, logNorm };
    });
  }

  /** `count` coordinate vectors drawn from the mixture. */
  sample(rng: Rng, count: number): number[][] {
    const out: number[][] = [];
    for (let s = 0; s < count; s++) {
      const c = rng.weighted(this.weights);
      out.push(
        this.dims.map((k) => {
          if (k.kind === 'categorical') return rng.weighted(k.probs[c]);
          const mu = k.mus[c];
          const sigma = k.sigmas[c];
          const a = normCdf((k.low - mu) / sigma);
          const b = normCdf((k.high - mu) / sigma);
          let x = mu + sigma * normQuantile(a + rng.uniform() * (b - a));
          if (!Number.isFinite(x)) x = Math.min(k.high, Math.max(k.low, mu));
          x = Math.min(k.high, Math.max(k.low, x));
          if (k.discrete) x = Math.min(Math.round(k.high - 0.5), Math.max(0, Math.round(x)));
          return x;
        }),
      );
    }
    return out;
  }

  /** log density (log mass for discrete dimensions) of a coordinate vector. */
  logPdf(x: readonly number[]): number {
    const terms = this.logWeights.slice();
    this.dims.forEach((k, j) => {
      const v = x[j];
      if (k.kind === 'categorical') {
        for (let c = 0; c < terms.length; c++) terms[c] += k.logProbs[c][v];
        return;
      }
      const { mus, invSigmas, logZ, logNorm } = k;
      if (k.discrete) {
        for (let c = 0; c < terms.length; c++) {
          const m = normMass((v - 0.5 - mus[c]) * invSigmas[c], (v + 0.5 - mus[c]) * invSigmas[c]);
          terms[c] += Math.log(Math.max(m, 1e-300)) - logZ[c];
        }
      } else {
        for (let c = 0; c < terms.length; c++) {
          const z = (v - mus[c]) * invSigmas[c];
          terms[c] -= 0.5 * z * z + logNorm[c];
        }
      }
    });
    return logSumExp(terms);
  }
}

function normalise(row: Float64Array): Float64Array {
  let s = 0;
  for (const v of row) s += v;
  for (let i = 0; i < row.length; i++) row[i] /= s;
  return row;
}
