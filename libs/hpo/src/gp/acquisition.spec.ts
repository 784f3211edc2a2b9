import fc from 'fast-check';
import { normCdf, normPdf } from '../core/stats';
import { acquisition, expectedImprovement, probabilityOfImprovement, ucb } from './acquisition';

describe('acquisition functions', () => {
  it('ucb is mean + kappa sd', () => {
    expect(ucb(1, 2, 2.576)).toBeCloseTo(6.152, 12);
    expect(acquisition('ucb', -1, 0.5, 99, { kappa: 2, eps: 0 })).toBe(0);
  });

  it('ei has its closed form', () => {
    expect(expectedImprovement(0, 1, 0, 0)).toBeCloseTo(normPdf(0), 15);
    expect(expectedImprovement(1, 1, 0, 0)).toBeCloseTo(normCdf(1) + normPdf(1), 15);
    expect(expectedImprovement(1.083, 0.5, 0.2, 0.1)).toBeCloseTo(0.783 * normCdf(0.783 / 0.5) + 0.5 * normPdf(0.783 / 0.5), 14);
    expect(expectedImprovement(2, 0, 1, 0)).toBe(1);
    expect(expectedImprovement(0.5, 0, 1, 0)).toBe(0);
    expect(acquisition('ei', 1, 1, 0, { kappa: 0, eps: 0 })).toBe(expectedImprovement(1, 1, 0, 0));
  });

  it('poi is the probability of beating best + eps', () => {
    expect(probabilityOfImprovement(0, 1, 0, 0)).toBe(0.5);
    expect(probabilityOfImprovement(1, 2, 0, 0.5)).toBeCloseTo(normCdf(0.25), 15);
    expect(probabilityOfImprovement(3, 0, 1, 0)).toBe(1);
    expect(acquisition('poi', 1, 2, 0, { kappa: 0, eps: 0.5 })).toBe(probabilityOfImprovement(1, 2, 0, 0.5));
  });

  it('ei is at least the plain improvement and grows with the mean and the uncertainty', () => {
    fc.assert(
      fc.property(fc.double({ min: -5, max: 5, noNaN: true }), fc.double({ min: 0.01, max: 5, noNaN: true }), fc.double({ min: -5, max: 5, noNaN: true }), (mean, sd, best) => {
        const ei = expectedImprovement(mean, sd, best, 0);
        expect(ei).toBeGreaterThanOrEqual(Math.max(mean - best, 0) - 1e-12);
        expect(expectedImprovement(mean + 0.1, sd, best, 0)).toBeGreaterThanOrEqual(ei - 1e-12);
        expect(expectedImprovement(mean, sd + 0.1, best, 0)).toBeGreaterThanOrEqual(ei - 1e-12);
        expect(expectedImprovement(mean, sd, best, 0.3)).toBeLessThanOrEqual(ei + 1e-12);
      }),
    );
  });
});
