import { correlation, matern, maternExact, rbf } from './kernels';

describe('correlation functions', () => {
  it('have the closed forms of Matern 1/2, 3/2, 5/2 and RBF', () => {
    const r = 0.7;
    expect(matern(0.5).k(r * r)).toBeCloseTo(Math.exp(-r), 14);
    expect(matern(1.5).k(r * r)).toBeCloseTo((1 + Math.sqrt(3) * r) * Math.exp(-Math.sqrt(3) * r), 14);
    expect(matern(2.5).k(r * r)).toBeCloseTo((1 + Math.sqrt(5) * r + (5 / 3) * r * r) * Math.exp(-Math.sqrt(5) * r), 14);
    expect(rbf.k(r * r)).toBeCloseTo(Math.exp(-0.5 * r * r), 14);
    for (const c of [matern(0.5), matern(1.5), matern(2.5), rbf, matern(0.8), matern(3.7)]) expect(c.k(0)).toBe(1);
  });

  it('agree with the general Bessel form', () => {
    for (const nu of [0.5, 1.5, 2.5]) {
      for (const r of [0.01, 0.3, 1, 2.5, 6]) expect(maternExact(nu, r)).toBeCloseTo(matern(nu).k(r * r), 10);
    }
  });

  it('tabulate other smoothness values accurately and tend to RBF for large nu', () => {
    const k = matern(0.8);
    for (const r of [0.001, 0.05, 0.4, 1.3, 3, 10]) expect(k.k(r * r)).toBeCloseTo(maternExact(0.8, r), 8);
    for (const r of [0.02, 0.7, 2.2]) expect(matern(3.7).k(r * r)).toBeCloseTo(maternExact(3.7, r), 8);
    expect(matern(1e6)).toBe(rbf);
    expect(correlation('rbf', 1.5)).toBe(rbf);
    expect(correlation('matern', 1.5)).toBe(matern(1.5));
  });

  it('have derivatives with respect to r^2 that match finite differences', () => {
    for (const c of [matern(0.5), matern(1.5), matern(2.5), rbf, matern(1.2), matern(3.5)]) {
      for (const r2 of [0.04, 0.5, 2, 7]) {
        const h = 1e-6 * Math.max(1, r2);
        const fd = (c.k(r2 + h) - c.k(r2 - h)) / (2 * h);
        // closed forms exactly; tabulated ones to 1e-4 relative
        expect(Math.abs(c.dr2(r2) - fd)).toBeLessThan(1e-4 * Math.max(1e-3, Math.abs(fd)));
      }
      // Only ever multiplied by a squared difference: 0 on the diagonal.
      expect(c.dr2(0)).toBe(c === rbf || c === matern(1.5) || c === matern(2.5) ? c.dr2(0) : 0);
    }
  });
});
