import { CholeskyDecomposition, Matrix, inverse } from 'ml-matrix';
import { cholesky, choleskyJitter, cholInverse, cholLogDet, cholSolve, solveLower, solveUpperT } from './linalg';
import { Rng } from './rng';

function randomSpd(n: number, rng: Rng): Float64Array {
  const b = Array.from({ length: n }, () => Array.from({ length: n }, () => rng.normal()));
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = i === j ? n : 0;
    for (let k = 0; k < n; k++) s += b[i][k] * b[j][k];
    a[i * n + j] = s;
  }
  return a;
}

const toMatrix = (a: Float64Array, n: number): Matrix => new Matrix(Array.from({ length: n }, (_, i) => Array.from(a.subarray(i * n, (i + 1) * n))));

describe('Cholesky and solves', () => {
  const rng = Rng.seeded(11);

  it.each([1, 2, 5, 17, 40])('agrees with ml-matrix for n = %i', (n) => {
    const a = randomSpd(n, rng);
    const l = cholesky(a, n)!;
    const ref = new CholeskyDecomposition(toMatrix(a, n)).lowerTriangularMatrix;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(l[i * n + j]).toBeCloseTo(ref.get(i, j), 9);
    const inv = cholInverse(l, n);
    const refInv = inverse(toMatrix(a, n));
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(inv[i * n + j]).toBeCloseTo(refInv.get(i, j), 9);
    const b = Array.from({ length: n }, () => rng.normal());
    const x = cholSolve(l, n, b);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j] * x[j];
      expect(s).toBeCloseTo(b[i], 8);
    }
    let logDet = 0;
    for (let i = 0; i < n; i++) logDet += 2 * Math.log(ref.get(i, i));
    expect(cholLogDet(l, n)).toBeCloseTo(logDet, 8);
  });

  it('solves triangular systems both ways', () => {
    const l = Float64Array.from([2, 0, 0, 1, 3, 0, -1, 2, 4]);
    expect(Array.from(solveLower(l, 3, [2, 7, 11]))).toEqual([1, 2, 2]);
    // L^T x = b with L^T = [[2,1,-1],[0,3,2],[0,0,4]]
    const x = Array.from(solveUpperT(l, 3, [1, 8, 8]));
    expect(x[2]).toBe(2);
    expect(x[1]).toBeCloseTo(4 / 3, 14);
    expect(x[0]).toBeCloseTo(5 / 6, 14);
  });

  it('rejects matrices that are not positive definite and rescues near-singular ones with jitter', () => {
    expect(cholesky(Float64Array.from([1, 2, 2, 1]), 2)).toBeNull();
    const singular = Float64Array.from([1, 1, 1, 1]);
    expect(cholesky(singular, 2)).toBeNull();
    const { l, jitter } = choleskyJitter(singular, 2);
    expect(jitter).toBeGreaterThan(0);
    expect(l[0]).toBeCloseTo(1, 4);
    expect(() => choleskyJitter(Float64Array.from([1, 0, 0, -1]), 2)).toThrow('not positive definite');
  });
});
