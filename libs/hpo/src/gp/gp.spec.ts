import { Matrix, inverse, determinant } from 'ml-matrix';
import { Rng } from '../core/rng';
import { fitHyper, GaussianProcess, GPHyper, hyperToVector, negLogMarginal, pairDiffs, LENGTH_PRIOR } from './gp';
import { Correlation, matern, rbf } from './kernels';

const JITTER = 1e-8;

function kernelMatrix(corr: Correlation, x: number[][], h: GPHyper, groups?: number[]): number[][] {
  const n = x.length;
  const s2 = Math.exp(h.logSignal);
  const n2 = Math.exp(h.logNoise);
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => {
      let r2 = 0;
      x[i].forEach((v, d) => (r2 += ((v - x[j][d]) / Math.exp(h.logLength[groups ? groups[d] : d])) ** 2));
      return s2 * corr.k(r2) + (i === j ? n2 + JITTER : 0);
    }),
  );
}

describe('GaussianProcess posterior', () => {
  const hyper: GPHyper = { logLength: [Math.log(0.2)], logSignal: 0, logNoise: Math.log(1e-6) };

  it('matches the one-observation closed form', () => {
    const gp = new GaussianProcess(rbf, Float64Array.from([0.5]), 1, 1, [1.5], hyper);
    const denom = 1 + 1e-6 + JITTER;
    for (const x of [0.5, 0.6, 0.9]) {
      const k = Math.exp(-0.5 * ((x - 0.5) / 0.2) ** 2);
      const { mean, variance } = gp.predict([x]);
      expect(mean).toBeCloseTo((k * 1.5) / denom, 12);
      expect(variance).toBeCloseTo(1 - (k * k) / denom, 10);
    }
    // Far away: back to the prior.
    expect(gp.predict([50]).mean).toBeCloseTo(0, 12);
    expect(gp.predict([50]).variance).toBeCloseTo(1, 12);
  });

  it('matches the two-observation closed form', () => {
    const gp = new GaussianProcess(matern(1.5), Float64Array.from([0.2, 0.4]), 2, 1, [1, -1], hyper);
    const k = (a: number, b: number): number => matern(1.5).k(((a - b) / 0.2) ** 2);
    const d = 1 + 1e-6 + JITTER;
    const k12 = k(0.2, 0.4);
    const det = d * d - k12 * k12;
    const inv = [
      [d / det, -k12 / det],
      [-k12 / det, d / det],
    ];
    const x = 0.33;
    const ks = [k(x, 0.2), k(x, 0.4)];
    const mean = ks[0] * (inv[0][0] * 1 + inv[0][1] * -1) + ks[1] * (inv[1][0] * 1 + inv[1][1] * -1);
    const quad = ks[0] * (inv[0][0] * ks[0] + inv[0][1] * ks[1]) + ks[1] * (inv[1][0] * ks[0] + inv[1][1] * ks[1]);
    expect(gp.predict([x]).mean).toBeCloseTo(mean, 10);
    expect(gp.predict([x]).variance).toBeCloseTo(1 - quad, 10);
  });

  it('agrees with the textbook formulas on random data (ARD, grouped columns)', () => {
    const rng = Rng.seeded(5);
    const n = 9;
    const D = 3;
    const xs = Array.from({ length: n }, () => Array.from({ length: D }, () => rng.uniform()));
    const y = xs.map((p) => Math.sin(4 * p[0]) + p[1] - p[2] * p[2]);
    const groups = [0, 1, 1];
    const h: GPHyper = { logLength: [Math.log(0.3), Math.log(0.7)], logSignal: Math.log(1.7), logNoise: Math.log(1e-3) };
    const gp = new GaussianProcess(matern(2.5), Float64Array.from(xs.flat()), n, D, y, h, Int32Array.from(groups));
    const Kinv = inverse(new Matrix(kernelMatrix(matern(2.5), xs, h, groups)));
    const q = [0.1, 0.5, 0.9];
    const ks = xs.map((p) => {
      let r2 = 0;
      p.forEach((v, d) => (r2 += ((v - q[d]) / Math.exp(h.logLength[groups[d]])) ** 2));
      return 1.7 * matern(2.5).k(r2);
    });
    const kv = Matrix.columnVector(ks);
    const mean = kv.transpose().mmul(Kinv).mmul(Matrix.columnVector(y)).get(0, 0);
    const variance = 1.7 - kv.transpose().mmul(Kinv).mmul(kv).get(0, 0);
    expect(gp.predict(q).mean).toBeCloseTo(mean, 8);
    expect(gp.predict(q).variance).toBeCloseTo(variance, 8);
  });

  it('interpolates noise-free data', () => {
    const xs = [0.1, 0.35, 0.6, 0.95];
    const y = xs.map((v) => Math.cos(5 * v));
    const gp = new GaussianProcess(matern(2.5), Float64Array.from(xs), 4, 1, y, { logLength: [Math.log(0.3)], logSignal: 0, logNoise: Math.log(1e-6) });
    xs.forEach((v, i) => {
      expect(gp.predict([v]).mean).toBeCloseTo(y[i], 4);
      expect(gp.predict([v]).variance).toBeLessThan(1e-4);
    });
  });
});

describe('marginal likelihood', () => {
  const rng = Rng.seeded(9);
  const n = 12;
  const D = 2;
  const xs = Array.from({ length: n }, () => Array.from({ length: D }, () => rng.uniform()));
  const y = xs.map((p) => Math.sin(6 * p[0]) * p[1]);
  const flat = Float64Array.from(xs.flat());
  const sq = pairDiffs(flat, n, D);

  it('equals 1/2 y^T K^-1 y + 1/2 log|K| + n/2 log 2 pi (without the prior)', () => {
    const h: GPHyper = { logLength: [Math.log(0.4), Math.log(0.9)], logSignal: Math.log(0.8), logNoise: Math.log(0.01) };
    const K = new Matrix(kernelMatrix(rbf, xs, h));
    const quad = Matrix.rowVector(y).mmul(inverse(K)).mmul(Matrix.columnVector(y)).get(0, 0);
    const expected = 0.5 * quad + 0.5 * Math.log(determinant(K)) + 0.5 * n * Math.log(2 * Math.PI);
    expect(negLogMarginal(rbf, sq, n, D, y, hyperToVector(h), false, undefined, false).f).toBeCloseTo(expected, 9);
    const z = (Math.log(0.4) - LENGTH_PRIOR.mean) / LENGTH_PRIOR.sd;
    const z2 = (Math.log(0.9) - LENGTH_PRIOR.mean) / LENGTH_PRIOR.sd;
    expect(negLogMarginal(rbf, sq, n, D, y, hyperToVector(h), false).f).toBeCloseTo(expected + 0.5 * (z * z + z2 * z2), 9);
  });

  it.each([
    ['rbf', rbf],
    ['matern 1.5', matern(1.5)],
    ['matern 2.5', matern(2.5)],
    ['matern 0.5', matern(0.5)],
  ])('has an analytic gradient that matches finite differences (%s)', (_name, corr) => {
    const theta = Float64Array.from([Math.log(0.3), Math.log(1.4), Math.log(1.2), Math.log(0.05)]);
    const { g } = negLogMarginal(corr, sq, n, D, y, theta);
    for (let i = 0; i < theta.length; i++) {
      const h = 1e-5;
      const up = Float64Array.from(theta);
      const down = Float64Array.from(theta);
      up[i] += h;
      down[i] -= h;
      const fd = (negLogMarginal(corr, sq, n, D, y, up, false).f - negLogMarginal(corr, sq, n, D, y, down, false).f) / (2 * h);
      expect(g[i]).toBeCloseTo(fd, 4);
    }
  });

  it('has a correct gradient with grouped columns', () => {
    const x3 = Float64Array.from(xs.flatMap((p) => [p[0], p[1], 1 - p[1]]));
    const sq3 = pairDiffs(x3, n, 3);
    const groups = Int32Array.from([0, 1, 1]);
    const theta = Float64Array.from([Math.log(0.3), Math.log(0.8), 0.1, Math.log(0.02)]);
    const { g } = negLogMarginal(matern(2.5), sq3, n, 3, y, theta, true, groups);
    for (let i = 0; i < theta.length; i++) {
      const up = Float64Array.from(theta);
      const down = Float64Array.from(theta);
      up[i] += 1e-5;
      down[i] -= 1e-5;
      const fd = (negLogMarginal(matern(2.5), sq3, n, 3, y, up, false, groups).f - negLogMarginal(matern(2.5), sq3, n, 3, y, down, false, groups).f) / 2e-5;
      expect(g[i]).toBeCloseTo(fd, 4);
    }
  });

  it('is maximised by fitHyper: short length scales for rough data, long for smooth', () => {
    const x1 = Array.from({ length: 25 }, (_, i) => i / 24);
    const fit = (ys: number[]): GPHyper =>
      fitHyper(matern(2.5), Float64Array.from(x1), 25, 1, ys, {
        starts: [
          { logLength: [0], logSignal: 0, logNoise: Math.log(1e-3) },
          { logLength: [Math.log(0.1)], logSignal: 0, logNoise: Math.log(1e-4) },
        ],
        maxIter: 200,
      }).hyper;
    const standardise = (ys: number[]): number[] => {
      const m = ys.reduce((a, b) => a + b) / ys.length;
      const s = Math.sqrt(ys.reduce((a, b) => a + (b - m) ** 2, 0) / ys.length);
      return ys.map((v) => (v - m) / s);
    };
    const rough = fit(standardise(x1.map((v) => Math.sin(25 * v))));
    const smooth = fit(standardise(x1.map((v) => v * v)));
    expect(Math.exp(rough.logLength[0])).toBeLessThan(0.2);
    expect(Math.exp(smooth.logLength[0])).toBeGreaterThan(2 * Math.exp(rough.logLength[0]));
    const start = { logLength: [0], logSignal: 0, logNoise: Math.log(1e-3) };
    const ys = standardise(x1.map((v) => Math.sin(25 * v)));
    const sq1 = pairDiffs(Float64Array.from(x1), 25, 1);
    expect(negLogMarginal(matern(2.5), sq1, 25, 1, ys, hyperToVector(rough), false).f).toBeLessThan(negLogMarginal(matern(2.5), sq1, 25, 1, ys, hyperToVector(start), false).f);
  });
});
