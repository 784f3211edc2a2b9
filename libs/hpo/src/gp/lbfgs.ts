/**
 * A small box-constrained quasi-Newton minimiser: L-BFGS directions (two-loop recursion, memory m),
 * variables at an active bound frozen, projected backtracking (Armijo) line search. Enough for the
 * GP's handful of log-hyperparameters.
 */

export interface Objective {
  /** Value and gradient at x. Non-finite values are treated as +Infinity (the step is shortened). */
  (x: Float64Array): { f: number; g: Float64Array };
}

export interface MinimizeOptions {
  lower: ArrayLike<number>;
  upper: ArrayLike<number>;
  maxIter?: number;
  /** Stop when the relative decrease of f falls below this. */
  ftol?: number;
  /** Stop when the largest free projected gradient component falls below this. */
  gtol?: number;
  memory?: number;
  /** Largest change of any variable on a step without curvature information (default 0.5). */
  firstStep?: number;
}

export interface MinimizeResult {
  x: Float64Array;
  f: number;
  iterations: number;
  evaluations: number;
}

export function minimizeBox(fg: Objective, x0: ArrayLike<number>, o: MinimizeOptions): MinimizeResult {
  const n = x0.length;
  const maxIter = o.maxIter ?? 100;
  const ftol = o.ftol ?? 1e-9;
  const gtol = o.gtol ?? 1e-6;
  const m = o.memory ?? 8;
  const firstStep = o.firstStep ?? 0.5;
  const clip = (v: Float64Array): Float64Array => {
    for (let i = 0; i < n; i++) v[i] = Math.min(o.upper[i], Math.max(o.lower[i], v[i]));
    return v;
  };
  let x = clip(Float64Array.from(x0));
  let { f, g } = fg(x);
  let evaluations = 1;
  if (!Number.isFinite(f)) return { x, f: Infinity, iterations: 0, evaluations };
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const free = (i: number, gi: number): boolean =>
    !((x[i] <= o.lower[i] && gi > 0) || (x[i] >= o.upper[i] && gi < 0));
  let iterations = 0;
  for (; iterations < maxIter; iterations++) {
    let pg = 0;
    for (let i = 0; i < n; i++) if (free(i, g[i])) pg = Math.max(pg, Math.abs(g[i]));
    if (pg < gtol) break;
    // Two-loop recursion on the free variables.
    const q = new Float64Array(n);
    for (let i = 0; i < n; i++) q[i] = free(i, g[i]) ? g[i] : 0;
    const alpha = new Float64Array(S.length);
    for (let k = S.length - 1; k >= 0; k--) {
      const rho = 1 / dot(Y[k], S[k]);
      alpha[k] = rho * dot(S[k], q);
      for (let i = 0; i < n; i++) q[i] -= alpha[k] * Y[k][i];
    }
    if (S.length) {
      const last = S.length - 1;
      const gamma = dot(S[last], Y[last]) / dot(Y[last], Y[last]);
      for (let i = 0; i < n; i++) q[i] *= gamma;
    } else {
      // No curvature yet: a steepest-descent step moving no variable by more than `firstStep`.
      let big = 0;
      for (let i = 0; i < n; i++) big = Math.max(big, Math.abs(q[i]));
      if (big > firstStep) for (let i = 0; i < n; i++) q[i] *= firstStep / big;
    }
    for (let k = 0; k < S.length; k++) {
      const rho = 1 / dot(Y[k], S[k]);
      const beta = rho * dot(Y[k], q);
      for (let i = 0; i < n; i++) q[i] += S[k][i] * (alpha[k] - beta);
    }
    const d = new Float64Array(n);
    for (let i = 0; i < n; i++) d[i] = free(i, g[i]) ? -q[i] : 0;
    let slope = dot(g, d);
    if (!(slope < 0)) {
      // Not a descent direction: fall back to steepest descent and forget the curvature pairs.
      S.length = 0;
      Y.length = 0;
      let big = 0;
      for (let i = 0; i < n; i++) {
        d[i] = free(i, g[i]) ? -g[i] : 0;
        big = Math.max(big, Math.abs(d[i]));
      }
      if (big > firstStep) for (let i = 0; i < n; i++) d[i] *= firstStep / big;
      slope = dot(g, d);
      if (!(slope < 0)) break;
    }
    let t = 1;
    let accepted = false;
    let xn = x;
    let fn = f;
    let gn = g;
    for (let ls = 0; ls < 20; ls++) {
      xn = clip(Float64Array.from(x, (v, i) => v + t * d[i]));
      const r = fg(xn);
      evaluations++;
      let decrease = 0;
      for (let i = 0; i < n; i++) decrease += g[i] * (xn[i] - x[i]);
      if (Number.isFinite(r.f) && r.f <= f + 1e-4 * decrease) {
        fn = r.f;
        gn = r.g;
        accepted = true;
        break;
      }
      t *= 0.5;
    }
    if (!accepted) break;
    const s = Float64Array.from(xn, (v, i) => v - x[i]);
    const y = Float64Array.from(gn, (v, i) => v - g[i]);
    if (dot(s, y) > 1e-12) {
      S.push(s);
      Y.push(y);
      if (S.length > m) {
        S.shift();
        Y.shift();
      }
    }
    const rel = (f - fn) / Math.max(1, Math.abs(f));
    x = xn;
    f = fn;
    g = gn;
    if (rel < ftol) {
      iterations++;
      break;
    }
  }
  return { x, f, iterations, evaluations };
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
