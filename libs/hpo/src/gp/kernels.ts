/**
 * Stationary correlation functions of the squared scaled distance r2 = sum_d ((x_d - x'_d) / l_d)^2:
 * RBF exp(-r2 / 2) and Matern with any smoothness nu (closed forms for 1/2, 3/2, 5/2, the Bessel
 * form otherwise, tabulated once per nu). `dr2` is the derivative with respect to r2, which the
 * marginal-likelihood gradient needs (it is only ever multiplied by a squared difference, so 0 at r2 = 0).
 */
import { besselK, logGamma } from '../core/stats';

export interface Correlation {
  readonly name: string;
  k(r2: number): number;
  dr2(r2: number): number;
}

export const rbf: Correlation = {
  name: 'rbf',
  k: (r2) => Math.exp(-0.5 * r2),
  dr2: (r2) => -0.5 * Math.exp(-0.5 * r2),
};

const SQRT3 = Math.sqrt(3);
const SQRT5 = Math.sqrt(5);

const matern12: Correlation = {
  name: 'matern(0.5)',
  k: (r2) => Math.exp(-Math.sqrt(r2)),
  dr2: (r2) => {
    if (r2 === 0) return 0;
    const r = Math.sqrt(r2);
    return -Math.exp(-r) / (2 * r);
  },
};

const matern32: Correlation = {
  name: 'matern(1.5)',
  k: (r2) => {
    const a = SQRT3 * Math.sqrt(r2);
    return (1 + a) * Math.exp(-a);
  },
  dr2: (r2) => -1.5 * Math.exp(-SQRT3 * Math.sqrt(r2)),
};

const matern52: Correlation = {
  name: 'matern(2.5)',
  k: (r2) => {
    const a = SQRT5 * Math.sqrt(r2);
    return (1 + a + (5 / 3) * r2) * Math.exp(-a);
  },
  dr2: (r2) => {
    const a = SQRT5 * Math.sqrt(r2);
    return -(5 / 6) * (1 + a) * Math.exp(-a);
  },
};

/** The Matern correlation for any nu > 0 from the Bessel form, exact at the grid points of a table. */
export function maternExact(nu: number, r: number): number {
  if (r === 0) return 1;
  const z = Math.sqrt(2 * nu) * r;
  const logc = (1 - nu) * Math.LN2 - logGamma(nu);
  return Math.exp(logc + nu * Math.log(z)) * besselK(nu, z);
}

/** d/dr of the Matern correlation: -c sqrt(2 nu) z^nu K_{nu-1}(z). */
function maternExactDr(nu: number, r: number): number {
  const z = Math.sqrt(2 * nu) * r;
  const logc = (1 - nu) * Math.LN2 - logGamma(nu);
  return -Math.exp(logc + nu * Math.log(z)) * Math.sqrt(2 * nu) * besselK(nu - 1, z);
}

const tables = new Map<number, Correlation>();

/**
 * Tabulates the Matern correlation on a grid uniform in s = sqrt(r) (fine near 0, where k has a cusp
 * for nu < 1) and interpolates with cubic Hermite polynomials using the exact derivative.
 */
function maternTable(nu: number): Correlation {
  const zMax = 40 + 2 * nu;
  const sMax = Math.sqrt(zMax / Math.sqrt(2 * nu));
  const n = 1024;
  const h = sMax / n;
  const ks = new Float64Array(n + 1);
  const dks = new Float64Array(n + 1); // dk/ds
  const drs = new Float64Array(n + 1); // dk/d(r^2)
  ks[0] = 1;
  for (let i = 1; i <= n; i++) {
    const sv = i * h;
    const r = sv * sv;
    ks[i] = maternExact(nu, r);
    const dr = maternExactDr(nu, r);
    dks[i] = dr * 2 * sv;
    drs[i] = dr / (2 * r);
  }
  drs[0] = drs[1];
  const k = (r2: number): number => {
    if (r2 === 0) return 1;
    const x = Math.sqrt(Math.sqrt(r2)) / h;
    if (x >= n) return 0;
    const i = Math.floor(x);
    const t = x - i;
    const t2 = t * t;
    const t3 = t2 * t;
    return (2 * t3 - 3 * t2 + 1) * ks[i] + (t3 - 2 * t2 + t) * h * dks[i] + (-2 * t3 + 3 * t2) * ks[i + 1] + (t3 - t2) * h * dks[i + 1];
  };
  const dr2 = (r2: number): number => {
    if (r2 === 0) return 0;
    const x = Math.sqrt(Math.sqrt(r2)) / h;
    if (x >= n) return 0;
    const i = Math.floor(x);
    const t = x - i;
    return drs[i] * (1 - t) + drs[i + 1] * t;
  };
  return { name: `matern(${nu})`, k, dr2 };
}

export function matern(nu: number): Correlation {
  if (nu === 0.5) return matern12;
  if (nu === 1.5) return matern32;
  if (nu === 2.5) return matern52;
  if (!Number.isFinite(nu) || nu > 100) return rbf;
  let t = tables.get(nu);
  if (!t) {
    t = maternTable(nu);
    tables.set(nu, t);
  }
  return t;
}

export function correlation(kernel: 'matern' | 'rbf', nu: number): Correlation {
  return kernel === 'rbf' ? rbf : matern(nu);
}
