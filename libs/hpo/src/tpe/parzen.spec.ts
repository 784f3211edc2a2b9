import { Rng } from '../core/rng';
import { SearchSpace } from '../space/space';
import { chiSquare, chiSquareCritical } from '../testing/helpers';
import { DEFAULT_PARZEN, ParzenEstimator } from './parzen';

describe('ParzenEstimator', () => {
  const floatSpace = new SearchSpace({ x: { kind: 'uniform', low: -1, high: 3 } });

  it('is a density on [low, high] (truncated kernels plus the prior)', () => {
    for (const rule of ['scott', 'neighbour'] as const) {
      const pe = new ParzenEstimator(floatSpace, [[0], [0.2], [2.9]], [1, 1, 2], { ...DEFAULT_PARZEN, rule });
      const steps = 20000;
      const h = 4 / steps;
      let integral = 0;
      for (let i = 0; i < steps; i++) integral += Math.exp(pe.logPdf([-1 + (i + 0.5) * h])) * h;
      expect(integral).toBeCloseTo(1, 4);
    }
    expect(Array.from(new ParzenEstimator(floatSpace, [[0], [1]], [1, 3]).weights)).toEqual([1 / 5, 3 / 5, 1 / 5]);
  });

  it('puts unit mass on the indices of an ordinal dimension and on the categories', () => {
    const space = new SearchSpace({ k: { kind: 'range', start: 0, stop: 7, step: 1 }, c: { kind: 'pvalues', values: ['a', 'b', 'c'], probabilities: [0.5, 0.3, 0.2] } });
    const pe = new ParzenEstimator(space, [[2, 0], [3, 1], [6, 0]], [1, 1, 1]);
    let total = 0;
    for (let k = 0; k < 7; k++) for (let c = 0; c < 3; c++) total += Math.exp(pe.logPdf([k, c]));
    expect(total).toBeCloseTo(1, 10);
    // The most observed category dominates.
    const pc = [0, 1, 2].map((c) => [0, 1, 2, 3, 4, 5, 6].reduce((acc, k) => acc + Math.exp(pe.logPdf([k, c])), 0));
    expect(pc[0]).toBeGreaterThan(pc[1]);
    expect(pc[1]).toBeGreaterThan(pc[2]);
  });

  it('samples from its own density', () => {
    const pe = new ParzenEstimator(floatSpace, [[0], [0.3], [2.5]], [1, 1, 1]);
    const rng = Rng.seeded(2);
    const bins = 16;
    const counts = new Array<number>(bins).fill(0);
    const n = 8000;
    for (const [x] of pe.sample(rng, n)) {
      expect(x).toBeGreaterThanOrEqual(-1);
      expect(x).toBeLessThanOrEqual(3);
      counts[Math.min(bins - 1, Math.floor(((x + 1) / 4) * bins))]++;
    }
    const probs = counts.map((_, b) => {
      let p = 0;
      const steps = 200;
      for (let i = 0; i < steps; i++) p += Math.exp(pe.logPdf([-1 + ((b + (i + 0.5) / steps) * 4) / bins])) * (4 / bins / steps);
      return p;
    });
    expect(chiSquare(counts, probs)).toBeLessThan(chiSquareCritical(bins - 1));
  });

  it('keeps the dependence between dimensions (joint kernels)', () => {
    const space = new SearchSpace({ a: { kind: 'uniform', low: 0, high: 1 }, b: { kind: 'uniform', low: 0, high: 1 } });
    const obs = [...Array(10).fill([0.1, 0.1]), ...Array(10).fill([0.9, 0.9])] as number[][];
    const pe = new ParzenEstimator(space, obs, obs.map(() => 1));
    const rng = Rng.seeded(3);
    const samples = pe.sample(rng, 2000);
    const offDiagonal = samples.filter(([a, b]) => Math.abs(a - b) > 0.5).length;
    expect(offDiagonal / 2000).toBeLessThan(0.1);
    expect(pe.logPdf([0.1, 0.1])).toBeGreaterThan(pe.logPdf([0.1, 0.9]) + 2);
  });
});
