/** Test helpers (not exported from the package): hptuning builders, space membership, statistics. */
import { expandMatrixOption, optionBounds } from '@myelin/spec';
import type { EarlyStopping, HPTuning, Matrix, MatrixOption, ParamValue, SearchMetric } from '@myelin/spec';
import { normCdf } from '../core/stats';

export const MIN: SearchMetric = { name: 'loss', optimization: 'minimize' };
export const MAX: SearchMetric = { name: 'accuracy', optimization: 'maximize' };

export function hp(matrix: Matrix, algo: Partial<HPTuning> = {}, extra: { seed?: number; concurrency?: number; early_stopping?: EarlyStopping[] } = {}): HPTuning {
  return { seed: extra.seed ?? 1, concurrency: extra.concurrency ?? 1, matrix, early_stopping: extra.early_stopping ?? [], ...algo };
}

export const boSection = (n_initial_trials: number, n_iterations: number, metric: SearchMetric = MIN, acquisition: 'ucb' | 'ei' | 'poi' = 'ei') => ({
  bo: {
    n_initial_trials,
    n_iterations,
    metric,
    utility_function: {
      acquisition_function: acquisition,
      kappa: 2.576,
      eps: 0,
      n_warmup: 5,
      n_iter: 10,
      gaussian_process: { kernel: 'matern' as const, length_scale: 1, nu: 2.5, n_restarts_optimizer: 0 },
    },
  },
});

const close = (a: number, b: number, tol = 1e-9): boolean => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));

function isMultiple(v: number, q: number): boolean {
  const k = v / q;
  return Math.abs(k - Math.round(k)) < 1e-6;
}

/** Can `option` produce `value`? (libs/spec semantics: log kinds have log-space bounds, quantised kinds round to q.) */
export function withinOption(option: MatrixOption, value: ParamValue): boolean {
  if ('size' in option && option.size !== undefined) {
    const { size: _size, ...one } = option;
    return Array.isArray(value) && value.length === option.size && value.every((v) => withinOption(one as MatrixOption, v));
  }
  switch (option.kind) {
    case 'values':
    case 'pvalues':
    case 'range':
    case 'linspace':
    case 'logspace':
    case 'geomspace':
      return expandMatrixOption(option).some((v) => JSON.stringify(v) === JSON.stringify(value) || (typeof v === 'number' && typeof value === 'number' && close(v, value)));
    default: {
      if (typeof value !== 'number' || !Number.isFinite(value)) return false;
      const { min, max } = optionBounds(option);
      const tol = 1e-9 * Math.max(1, Math.abs(value));
      if (min !== undefined && value < min - tol) return false;
      if (max !== undefined && value > max + tol) return false;
      if ('q' in option) return isMultiple(value, option.q);
      return true;
    }
  }
}

/** Every matrix param (and nothing else but `extra` names) is in its option's support. */
export function withinSpace(matrix: Matrix, params: Record<string, ParamValue>, extra: string[] = []): boolean {
  const names = Object.keys(params).filter((k) => !extra.includes(k));
  if (names.length !== Object.keys(matrix).length) return false;
  return names.every((k) => k in matrix && withinOption(matrix[k], params[k]));
}

/** Kolmogorov-Smirnov statistic of a sample against a CDF. */
export function ksStatistic(sample: readonly number[], cdf: (x: number) => number): number {
  const xs = [...sample].sort((a, b) => a - b);
  const n = xs.length;
  let d = 0;
  xs.forEach((x, i) => {
    const f = cdf(x);
    d = Math.max(d, Math.abs(f - i / n), Math.abs((i + 1) / n - f));
  });
  return d;
}

/** The KS critical value at alpha = 0.001 (the tests use fixed seeds; this keeps them meaningful but not flaky on change). */
export const ksCritical = (n: number): number => 1.95 / Math.sqrt(n);

/** Pearson chi-square statistic of observed counts against expected probabilities. */
export function chiSquare(counts: readonly number[], probs: readonly number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  return counts.reduce((acc, c, i) => acc + (c - n * probs[i]) ** 2 / (n * probs[i]), 0);
}

/** Upper 0.001 quantile of chi-square with k degrees of freedom (Wilson-Hilferty). */
export function chiSquareCritical(k: number): number {
  const z = 3.090232306167813;
  return k * Math.pow(1 - 2 / (9 * k) + z * Math.sqrt(2 / (9 * k)), 3);
}

export const stdNormalCdf = normCdf;
