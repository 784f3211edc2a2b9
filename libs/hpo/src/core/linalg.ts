/**
 * Dense symmetric positive-definite linear algebra on row-major Float64Arrays: Cholesky factorisation,
 * triangular solves and the inverse from the factor. Small and allocation-light on purpose: the GP
 * refits on every suggestion and these loops dominate its cost (ml-matrix is used to cross-check them
 * in the tests).
 */

/** sum_{k < len} x[xo + k] * y[yo + k], unrolled (V8 runs this 2-3 times faster than the plain loop). */
function dot(x: Float64Array, xo: number, y: Float64Array, yo: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < len; k += 4) {
    s0 += x[xo + k] * y[yo + k];
    s1 += x[xo + k + 1] * y[yo + k + 1];
    s2 += x[xo + k + 2] * y[yo + k + 2];
    s3 += x[xo + k + 3] * y[yo + k + 3];
  }
  for (; k < len; k++) s0 += x[xo + k] * y[yo + k];
  return s0 + s1 + s2 + s3;
}

/** Lower Cholesky factor L (A = L L^T) of the n x n matrix A, or null when A is not positive definite. */
export function cholesky(a: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      const s = a[ri + j] - dot(l, ri, l, rj, j);
      if (i === j) {
        if (!(s > 0) || !Number.isFinite(s)) return null;
        l[ri + i] = Math.sqrt(s);
      } else {
        l[ri + j] = s / l[rj + j];
      }
    }
  }
  return l;
}

/**
 * Cholesky with escalating diagonal jitter (1e-10, 1e-8 ... relative to the mean diagonal) for matrices
 * that are positive definite only in exact arithmetic. Throws if even 1e-2 does not help.
 */
export function choleskyJitter(a: Float64Array, n: number): { l: Float64Array; jitter: number } {
  const l0 = cholesky(a, n);
  if (l0) return { l: l0, jitter: 0 };
  let diag = 0;
  for (let i = 0; i < n; i++) diag += a[i * n + i];
  diag = Math.max(diag / Math.max(n, 1), 1e-12);
  for (let e = -10; e <= -2; e += 2) {
    const jitter = diag * Math.pow(10, e);
    const b = Float64Array.from(a);
    for (let i = 0; i < n; i++) b[i * n + i] += jitter;
    const l = cholesky(b, n);
    if (l) return { l, jitter };
  }
  throw new Error('matrix is not positive definite');
}

/** Solves L x = b (L lower triangular); writes into `out` (may alias b). */
export function solveLower(l: Float64Array, n: number, b: ArrayLike<number>, out: Float64Array = new Float64Array(n)): Float64Array {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    out[i] = (b[i] - dot(l, ri, out, 0, i)) / l[ri + i];
  }
  return out;
}

/** Solves L^T x = b (L lower triangular); writes into `out` (may alias b). */
export function solveUpperT(l: Float64Array, n: number, b: ArrayLike<number>, out: Float64Array = new Float64Array(n)): Float64Array {
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * out[k];
    out[i] = s / l[i * n + i];
  }
  return out;
}

/** Solves A x = b given the Cholesky factor of A. */
export function cholSolve(l: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  const y = solveLower(l, n, b);
  return solveUpperT(l, n, y, y);
}

/** A^-1 from the Cholesky factor of A (full symmetric matrix). */
export function cholInverse(l: Float64Array, n: number): Float64Array {
  // M = L^-1 is lower triangular; keep its transpose T (T[j][k] = M[k][j]) so every inner loop runs
  // over contiguous memory. Then A^-1 = M^T M, i.e. A^-1[i][j] = sum_k T[i][k] T[j][k].
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    const inv = 1 / l[ri + i];
    t[ri + i] = inv;
    for (let j = 0; j < i; j++) {
      // M[i][j] = -(sum_{k=j}^{i-1} L[i][k] M[k][j]) / L[i][i]
      t[j * n + i] = -dot(l, ri + j, t, j * n + j, i - j) * inv;
    }
  }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const s = dot(t, i * n + i, t, j * n + i, n - i);
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/** log det A from its Cholesky factor. */
export function cholLogDet(l: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.log(l[i * n + i]);
  return 2 * s;
}
