/** Small numerical helpers: the normal distribution, log-sum-exp, quantiles, the gamma function. */

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

export function normPdf(x: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

export function normLogPdf(x: number): number {
  return -0.5 * x * x - LOG_SQRT_2PI;
}

/**
 * Standard normal CDF with relative precision near 1e-15 in both tails: Marsaglia's Taylor series for
 * |x| < 3, Laplace's continued fraction for the Mills ratio beyond.
 */
export function normCdf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= 3) return 1 - lowerTail(x);
  if (x <= -3) return lowerTail(-x);
  let s = x;
  let t = 0;
  let b = x;
  const q = x * x;
  let i = 1;
  while (s !== t) {
    t = s;
    i += 2;
    b *= q / i;
    s = t + b;
  }
  return 0.5 + s * Math.exp(-0.5 * q - LOG_SQRT_2PI);
}

/**
 * A cheaper standard normal CDF (Hart's rational approximation as given by West, "Better
 * approximations to cumulative normal functions", 2005): relative error below 1e-8 in either tail,
 * 5 to 10 times faster than `normCdf`. For kernel normalisers, where that precision is plenty.
 */
export function normCdfFast(x: number): number {
  const a = Math.abs(x);
  let c: number;
  if (a > 37) c = 0;
  else {
    const e = Math.exp(-0.5 * a * a);
    if (a < 7.07106781186547) {
      let n = 3.52624965998911e-2 * a + 0.700383064443688;
      n = n * a + 6.37396220353165;
      n = n * a + 33.912866078383;
      n = n * a + 112.079291497871;
      n = n * a + 221.213596169931;
      n = n * a + 220.206867912376;
      let d = 8.83883476483184e-2 * a + 1.75566716318264;
      d = d * a + 16.064177579207;
      d = d * a + 86.7807322029461;
      d = d * a + 296.564248779674;
      d = d * a + 637.333633378831;
      d = d * a + 793.826512519948;
      d = d * a + 440.413735824752;
      c = (e * n) / d;
    } else {
      let b = a + 0.65;
      b = a + 4 / b;
      b = a + 3 / b;
      b = a + 2 / b;
      b = a + 1 / b;
      c = e / b / 2.506628274631;
    }
  }
  return x > 0 ? 1 - c : c;
}

/** P(Z > x) for x >= 3 (the continued fraction converges fast there). */
function lowerTail(x: number): number {
  if (x > 40) return 0;
  let f = 0;
  for (let k = 60; k >= 1; k--) f = k / (x + f);
  return normPdf(x) / (x + f);
}

/**
 * Inverse of the standard normal CDF: Acklam's rational approximation polished by one Halley step
 * (about 1e-15 relative error). Returns -Infinity at 0 and Infinity at 1.
 */
export function normQuantile(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const plow = 0.02425;
  let x: number;
  if (p < plow) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - plow) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  // Halley refinement.
  const e = normCdf(x) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp(0.5 * x * x);
  return x - u / (1 + (x * u) / 2);
}

/** log(sum(exp(xs))) without overflow; -Infinity for an empty list or all -Infinity. */
export function logSumExp(xs: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < xs.length; i++) if (xs[i] > m) m = xs[i];
  if (m === -Infinity) return -Infinity;
  if (m === Infinity) return Infinity;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += Math.exp(xs[i] - m);
  return m + Math.log(s);
}

/** Linear-interpolation quantile (numpy's default), q in [0, 1]. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const xs = [...values].sort((a, b) => a - b);
  const pos = (xs.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return values.length ? s / values.length : NaN;
}

/** log Gamma(x) for x > 0 (Lanczos, g = 7, 15 digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const g = 7;
  const coef = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const z = x - 1;
  let a = coef[0];
  const t = z + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += coef[i] / (z + i);
  return LOG_SQRT_2PI + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Modified Bessel function of the second kind K_nu(z) for z > 0 and any real nu, from the integral
 * K_nu(z) = int_0^inf exp(-z cosh t) cosh(nu t) dt (trapezoidal rule; the integrand decays doubly
 * exponentially, so the rule converges geometrically).
 */
export function besselK(nu: number, z: number): number {
  if (z <= 0) return Infinity;
  // Integrate up to where z cosh t - |nu| t exceeds the start by ~ 40 (e^-40 ~ 4e-18).
  let tMax = 1;
  while (z * Math.cosh(tMax) - Math.abs(nu) * tMax - z < 45 && tMax < 60) tMax += 0.5;
  const n = 400;
  const h = tMax / n;
  let s = 0.5 * Math.exp(-z);
  for (let i = 1; i <= n; i++) {
    const t = i * h;
    s += Math.exp(-z * Math.cosh(t) + Math.abs(nu) * t) * 0.5 * (1 + Math.exp(-2 * Math.abs(nu) * t)) * (i === n ? 0.5 : 1);
  }
  return s * h;
}
