/**
 * Gaussian-process regression with an ARD stationary kernel
 *   k(x, x') = s2 * corr(sum_c ((x_c - x'_c) / l_group(c))^2) + n2 * [x = x'],
 * where input columns are grouped (the one-hot columns of a categorical share one length scale),
 * hyperparameters theta = (log l_1..l_G, log s2, log n2) fitted by maximising the log marginal
 * likelihood plus a weak log-normal prior on the length scales (analytic gradient, box-constrained
 * L-BFGS, restarts). Targets are expected standardised, inputs in [0, 1].
 */
import { cholesky, choleskyJitter, cholInverse, solveLower, solveUpperT } from '../core/linalg';
import type { Rng } from '../core/rng';
import type { Correlation } from './kernels';
import { minimizeBox } from './lbfgs';

export interface GPHyper {
  logLength: number[];
  logSignal: number;
  logNoise: number;
}

/** Log-space bounds of the hyperparameters (inputs scaled to [0, 1], targets standardised). */
export const HYPER_BOUNDS = {
  length: [Math.log(0.01), Math.log(10)] as const,
  signal: [Math.log(0.05), Math.log(20)] as const,
  noise: [Math.log(1e-6), Math.log(1)] as const,
};

/**
 * log l ~ N(log 0.5, 1.5^2): a weak prior that keeps a few observations from declaring a dimension
 * irrelevant (l at its upper bound) or rough (l at its lower bound) on no evidence.
 */
export const LENGTH_PRIOR = { mean: Math.log(0.5), sd: 1.5 };

const JITTER = 1e-8;
const LOG_2PI = Math.log(2 * Math.PI);

/** Which hyperparameter (length scale) each input column uses; identity when omitted. */
export type ColumnGroups = Int32Array;

export function identityGroups(dim: number): ColumnGroups {
  return Int32Array.from({ length: dim }, (_, i) => i);
}

export function hyperToVector(h: GPHyper): Float64Array {
  return Float64Array.from([...h.logLength, h.logSignal, h.logNoise]);
}

export function vectorToHyper(v: ArrayLike<number>, dim: number): GPHyper {
  return { logLength: Array.from({ length: dim }, (_, i) => v[i]), logSignal: v[dim], logNoise: v[dim + 1] };
}

/** Squared per-dimension differences of every pair i < j (pair-major, dim-minor). */
export function pairDiffs(x: Float64Array, n: number, dim: number): Float64Array {
  const out = new Float64Array(((n * (n - 1)) / 2) * dim);
  let p = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      for (let d = 0; d < dim; d++) {
        const diff = x[i * dim + d] - x[j * dim + d];
        out[p++] = diff * diff;
      }
    }
  }
  return out;
}

/**
 * Negative log marginal likelihood and its gradient with respect to theta.
 * `sq` is `pairDiffs(x)` (kept across evaluations of one fit).
 */
export function negLogMarginal(
  corr: Correlation,
  sq: Float64Array,
  n: number,
  dim: number,
  y: ArrayLike<number>,
  theta: ArrayLike<number>,
  withGrad = true,
  groups: ColumnGroups = identityGroups(dim),
  prior = true,
): { f: number; g: Float64Array } {
  const G = theta.length - 2;
  const g = new Float64Array(G + 2);
  const invL2 = new Float64Array(dim);
  for (let d = 0; d < dim; d++) invL2[d] = Math.exp(-2 * theta[groups[d]]);
  const s2 = Math.exp(theta[G]);
  const n2 = Math.exp(theta[G + 1]);
  const P = (n * (n - 1)) / 2;
  const r2s = new Float64Array(P);
  const k = new Float64Array(n * n);
  let p = 0;
  for (let i = 0; i < n; i++) {
    k[i * n + i] = s2 + n2 + JITTER;
    for (let j = i + 1; j < n; j++, p++) {
      let r2 = 0;
      const base = p * dim;
      for (let d = 0; d < dim; d++) r2 += sq[base + d] * invL2[d];
      r2s[p] = r2;
      const v = s2 * corr.k(r2);
      k[i * n + j] = v;
      k[j * n + i] = v;
    }
  }
  const l = cholesky(k, n);
  if (!l) return { f: Infinity, g };
  const alpha = solveUpperT(l, n, solveLower(l, n, y));
  let f = 0.5 * n * LOG_2PI;
  for (let i = 0; i < n; i++) f += 0.5 * y[i] * alpha[i] + Math.log(l[i * n + i]);
  if (prior) {
    for (let k = 0; k < G; k++) {
      const z = (theta[k] - LENGTH_PRIOR.mean) / LENGTH_PRIOR.sd;
      f += 0.5 * z * z;
      g[k] += z / LENGTH_PRIOR.sd;
    }
  }
  if (!withGrad) return { f, g };
  const kinv = cholInverse(l, n);
  // W = alpha alpha^T - K^-1; gradient = -1/2 sum W .* dK.
  let gSignal = 0;
  let gNoise = 0;
  for (let i = 0; i < n; i++) {
    const w = alpha[i] * alpha[i] - kinv[i * n + i];
    gSignal += w * s2;
    gNoise += w * n2;
  }
  p = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++, p++) {
      const w = alpha[i] * alpha[j] - kinv[i * n + j];
      const r2 = r2s[p];
      gSignal += 2 * w * k[i * n + j];
      const c = 2 * w * s2 * corr.dr2(r2);
      if (c !== 0) {
        const base = p * dim;
        for (let d = 0; d < dim; d++) g[groups[d]] += c * sq[base + d] * invL2[d];
      }
    }
  }
  g[G] = -0.5 * gSignal;
  g[G + 1] = -0.5 * gNoise;
  return { f, g };
}

export interface FitOptions {
  /** Starting points; the best optimum wins. */
  starts: GPHyper[];
  maxIter: number;
  groups?: ColumnGroups;
  /** Add the length-scale prior (default true). */
  prior?: boolean;
}

/** Maximises the marginal likelihood from each start; returns the best hyperparameters found. */
export function fitHyper(corr: Correlation, x: Float64Array, n: number, dim: number, y: ArrayLike<number>, o: FitOptions): { hyper: GPHyper; nll: number } {
  const sq = pairDiffs(x, n, dim);
  const groups = o.groups ?? identityGroups(dim);
  const G = groups.reduce((m, v) => Math.max(m, v + 1), 0);
  const lower = [...Array<number>(G).fill(HYPER_BOUNDS.length[0]), HYPER_BOUNDS.signal[0], HYPER_BOUNDS.noise[0]];
  const upper = [...Array<number>(G).fill(HYPER_BOUNDS.length[1]), HYPER_BOUNDS.signal[1], HYPER_BOUNDS.noise[1]];
  let best: { hyper: GPHyper; nll: number } | undefined;
  for (const start of o.starts) {
    const r = minimizeBox((theta) => negLogMarginal(corr, sq, n, dim, y, theta, true, groups, o.prior ?? true), hyperToVector(start), {
      lower,
      upper,
      maxIter: o.maxIter,
    });
    if (!best || r.f < best.nll) best = { hyper: vectorToHyper(r.x, G), nll: r.f };
  }
  return best!;
}

/** A random start inside the bounds. */
export function randomHyper(dim: number, rng: Rng): GPHyper {
  const u = (b: readonly [number, number]): number => b[0] + rng.uniform() * (b[1] - b[0]);
  return {
    logLength: Array.from({ length: dim }, () => u(HYPER_BOUNDS.length)),
    logSignal: u(HYPER_BOUNDS.signal),
    logNoise: u(HYPER_BOUNDS.noise),
  };
}

/** A GP conditioned on data with fixed hyperparameters. */
export class GaussianProcess {
  private readonly l: Float64Array;
  private readonly alpha: Float64Array;
  private readonly invL2: Float64Array;
  private readonly s2: number;
  private readonly kstar: Float64Array;
  private readonly v: Float64Array;

  constructor(
    private readonly corr: Correlation,
    private readonly x: Float64Array,
    readonly n: number,
    readonly dim: number,
    y: ArrayLike<number>,
    readonly hyper: GPHyper,
    groups: ColumnGroups = identityGroups(dim),
  ) {
    this.invL2 = Float64Array.from(groups, (k) => Math.exp(-2 * hyper.logLength[k]));
    this.s2 = Math.exp(hyper.logSignal);
    const n2 = Math.exp(hyper.logNoise);
    const k = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      k[i * n + i] = this.s2 + n2 + JITTER;
      for (let j = i + 1; j < n; j++) {
        const v = this.s2 * corr.k(this.r2(x, i * dim, x, j * dim));
        k[i * n + j] = v;
        k[j * n + i] = v;
      }
    }
    this.l = choleskyJitter(k, n).l;
    this.alpha = solveUpperT(this.l, n, solveLower(this.l, n, y));
    this.kstar = new Float64Array(n);
    this.v = new Float64Array(n);
  }

  private r2(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number): number {
    let r2 = 0;
    for (let d = 0; d < this.dim; d++) {
      const diff = a[ao + d] - b[bo + d];
      r2 += diff * diff * this.invL2[d];
    }
    return r2;
  }

  /** Posterior mean and variance of the latent function at x (length dim). */
  predict(x: ArrayLike<number>): { mean: number; variance: number } {
    const { n, kstar } = this;
    let mean = 0;
    for (let i = 0; i < n; i++) {
      kstar[i] = this.s2 * this.corr.k(this.r2(x, 0, this.x, i * this.dim));
      mean += kstar[i] * this.alpha[i];
    }
    const v = solveLower(this.l, n, kstar, this.v);
    let vv = 0;
    for (let i = 0; i < n; i++) vv += v[i] * v[i];
    return { mean, variance: Math.max(this.s2 - vv, 1e-12) };
  }
}
