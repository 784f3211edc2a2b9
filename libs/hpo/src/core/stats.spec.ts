import { besselK, logGamma, logSumExp, mean, median, normCdf, normCdfFast, normLogPdf, normPdf, normQuantile, quantile } from './stats';

describe('normal distribution', () => {
  it('matches reference values of the CDF in the body and both tails', () => {
    expect(normCdf(0)).toBe(0.5);
    expect(normCdf(1.959963984540054)).toBeCloseTo(0.975, 14);
    expect(normCdf(-1)).toBeCloseTo(0.15865525393145707, 15);
    // Relative precision deep in the tails (values from mpmath).
    expect(normCdf(-5) / 2.866515718791939e-7).toBeCloseTo(1, 12);
    expect(normCdf(-10) / 7.619853024160527e-24).toBeCloseTo(1, 12);
    expect(normCdf(-3.5) / 2.32629079035525e-4).toBeCloseTo(1, 12);
    expect(normCdf(-6) / 9.865876450376983e-10).toBeCloseTo(1, 12);
    expect(normCdf(6)).toBeCloseTo(1 - 9.865876450376983e-10, 15);
    expect(normCdf(-50)).toBe(0);
  });

  it('has a fast variant within 1e-8 relative error', () => {
    for (let x = -12; x <= 0; x += 0.01) {
      expect(Math.abs(normCdfFast(x) / normCdf(x) - 1)).toBeLessThan(1e-8);
      expect(Math.abs(normCdfFast(-x) - normCdf(-x))).toBeLessThan(1e-15);
    }
  });

  it('inverts the CDF', () => {
    for (const p of [1e-12, 1e-6, 0.01, 0.02425, 0.3, 0.5, 0.77, 0.99, 1 - 1e-9]) {
      expect(normCdf(normQuantile(p)) / p).toBeCloseTo(1, 9);
    }
    expect(normQuantile(0.975)).toBeCloseTo(1.959963984540054, 12);
    expect(normQuantile(0)).toBe(-Infinity);
    expect(normQuantile(1)).toBe(Infinity);
  });

  it('has a consistent density', () => {
    expect(normPdf(0)).toBeCloseTo(1 / Math.sqrt(2 * Math.PI), 15);
    expect(Math.exp(normLogPdf(1.3))).toBeCloseTo(normPdf(1.3), 15);
    // derivative of the CDF
    const h = 1e-5;
    expect((normCdf(0.7 + h) - normCdf(0.7 - h)) / (2 * h)).toBeCloseTo(normPdf(0.7), 8);
  });
});

describe('helpers', () => {
  it('computes log-sum-exp without overflow', () => {
    expect(logSumExp([1000, 1000])).toBeCloseTo(1000 + Math.log(2), 12);
    expect(logSumExp([-Infinity, 0])).toBe(0);
    expect(logSumExp([])).toBe(-Infinity);
  });

  it('computes quantiles like numpy', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.9)).toBeCloseTo(4.6, 12);
    expect(mean([1, 2, 3, 6])).toBe(3);
    expect(median([])).toBeNaN();
  });

  it('computes log Gamma', () => {
    expect(Math.exp(logGamma(5))).toBeCloseTo(24, 10);
    expect(Math.exp(logGamma(0.5))).toBeCloseTo(Math.sqrt(Math.PI), 12);
    expect(Math.exp(logGamma(3.5))).toBeCloseTo(3.323350970447843, 12);
  });

  it('computes modified Bessel functions of the second kind', () => {
    expect(besselK(0, 1)).toBeCloseTo(0.42102443824070834, 12);
    expect(besselK(1, 1)).toBeCloseTo(0.6019072301972346, 12);
    // K_{5/2}(z) = sqrt(pi / 2z) e^-z (1 + 3/z + 3/z^2)
    expect(besselK(2.5, 0.3) / (Math.sqrt(Math.PI / 0.6) * Math.exp(-0.3) * (1 + 10 + 100 / 3))).toBeCloseTo(1, 10);
    // K_{1/2}(z) = sqrt(pi / 2z) e^-z
    for (const z of [0.05, 0.5, 3, 20]) expect(besselK(0.5, z) / (Math.sqrt(Math.PI / (2 * z)) * Math.exp(-z))).toBeCloseTo(1, 10);
    expect(besselK(-1.3, 2)).toBeCloseTo(besselK(1.3, 2), 14);
  });
});
