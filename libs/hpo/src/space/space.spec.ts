import type { MatrixOption, ParamValue } from '@myelin/spec';
import { createOptimizer } from '../create';
import { Rng } from '../core/rng';
import { normCdf } from '../core/stats';
import { chiSquare, chiSquareCritical, hp, ksCritical, ksStatistic, MIN, withinOption } from '../testing/helpers';
import { paramsKey, sampleDistinct, SearchSpace } from './space';

const N = 4000;

/** Draws from the model-based algorithms' prior sampler (SearchSpace.sample + decode). */
function fromSpace(option: MatrixOption, n = N, seed = 1): ParamValue[] {
  const space = new SearchSpace({ p: option });
  const rng = Rng.seeded(seed);
  return Array.from({ length: n }, () => space.decode(space.sample(rng)).p);
}

/** Draws from random search (the reference sampler of @myelin/spec on the optimizer's generator). */
function fromRandomSearch(option: MatrixOption, n = N, seed = 1): ParamValue[] {
  const opt = createOptimizer(hp({ p: option }, { random_search: { n_experiments: n } }, { seed, concurrency: n }), { metric: MIN });
  const out: ParamValue[] = [];
  for (let t = opt.ask(); t; t = opt.ask()) out.push(t.params.p);
  return out;
}

const SOURCES = [
  ['space prior', fromSpace],
  ['random search', fromRandomSearch],
] as const;

function counts(xs: ParamValue[], support: ParamValue[]): number[] {
  const c = support.map(() => 0);
  for (const x of xs) {
    const i = support.findIndex((s) => JSON.stringify(s) === JSON.stringify(x));
    expect(i).toBeGreaterThanOrEqual(0);
    c[i]++;
  }
  return c;
}

const nums = (xs: ParamValue[]): number[] => xs as number[];

describe.each(SOURCES)('continuous samplers (%s)', (_name, draw) => {
  it('uniform is U[low, high)', () => {
    const xs = nums(draw({ kind: 'uniform', low: 2, high: 5 }));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...xs)).toBeLessThan(5);
    expect(ksStatistic(xs, (x) => (x - 2) / 3)).toBeLessThan(ksCritical(N));
  });

  it('loguniform is exp(U[low, high)): the bounds are exponents (libs/spec semantics)', () => {
    const xs = nums(draw({ kind: 'loguniform', low: -5, high: 0 }));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(Math.exp(-5));
    expect(Math.max(...xs)).toBeLessThanOrEqual(1);
    expect(ksStatistic(xs.map(Math.log), (x) => (x + 5) / 5)).toBeLessThan(ksCritical(N));
  });

  it('normal and lognormal have the given location and scale', () => {
    const xs = nums(draw({ kind: 'normal', loc: 1, scale: 2 }));
    expect(ksStatistic(xs, (x) => normCdf((x - 1) / 2))).toBeLessThan(ksCritical(N));
    const ys = nums(draw({ kind: 'lognormal', loc: 0, scale: 0.5 }));
    expect(Math.min(...ys)).toBeGreaterThan(0);
    expect(ksStatistic(ys.map(Math.log), (x) => normCdf(x / 0.5))).toBeLessThan(ksCritical(N));
  });

  it('size draws a list of independent values', () => {
    const xs = draw({ kind: 'uniform', low: 0, high: 1, size: 3 }, 500);
    for (const x of xs) {
      expect(Array.isArray(x) && x.length === 3).toBe(true);
    }
    const firsts = xs.map((x) => (x as number[])[0]);
    expect(ksStatistic(firsts, (v) => v)).toBeLessThan(ksCritical(500));
  });
});

// Random search draws distinct configurations, so a quantised option (a finite set of values) is
// checked on the prior sampler, and random search is checked to stop once every value was tried.
describe('quantised samplers (space prior)', () => {
  const draw = fromSpace;
  it('quniform rounds to the nearest multiple of q', () => {
    const support = [0, 0.25, 0.5, 0.75, 1];
    const c = counts(draw({ kind: 'quniform', low: 0, high: 1, q: 0.25 }), support);
    expect(chiSquare(c, [1 / 8, 1 / 4, 1 / 4, 1 / 4, 1 / 8])).toBeLessThan(chiSquareCritical(4));
  });

  it('qloguniform rounds exp(U) to q', () => {
    const support = Array.from({ length: 10 }, (_, i) => i + 1);
    const cdf = (v: number): number => Math.min(1, Math.max(0, Math.log(v) / 2.3));
    const probs = support.map((k) => cdf(k + 0.5) - cdf(k - 0.5));
    const c = counts(draw({ kind: 'qloguniform', low: 0, high: 2.3, q: 1 }), support);
    expect(chiSquare(c, probs)).toBeLessThan(chiSquareCritical(9));
  });

  it('qnormal and qlognormal quantise their draws', () => {
    const support = Array.from({ length: 17 }, (_, i) => (i - 8) * 0.5);
    const xs = draw({ kind: 'qnormal', loc: 0, scale: 1, q: 0.5 });
    const kept = xs.filter((x) => Math.abs(x as number) <= 4);
    expect(kept.length).toBeGreaterThan(N - 5);
    const probs = support.map((v) => normCdf(v + 0.25) - normCdf(v - 0.25));
    expect(chiSquare(counts(kept, support), probs.map((p) => p / probs.reduce((a, b) => a + b)))).toBeLessThan(chiSquareCritical(16));
    const ys = nums(draw({ kind: 'qlognormal', loc: 0, scale: 0.5, q: 0.5 }));
    for (const y of ys) expect(withinOption({ kind: 'qlognormal', loc: 0, scale: 0.5, q: 0.5 }, y)).toBe(true);
    // P(0) = P(e^z < 0.25)
    expect(ys.filter((y) => y === 0).length / N).toBeCloseTo(normCdf(Math.log(0.25) / 0.5), 2);
  });

});

describe('quantised options under random search', () => {
  it('yield each value once, then the search ends', () => {
    const xs = fromRandomSearch({ kind: 'quniform', low: 0, high: 1, q: 0.25 }, 50);
    expect([...xs].sort()).toEqual([0, 0.25, 0.5, 0.75, 1]);
  });
});

describe('discrete samplers (space prior)', () => {
  it('values, range and logspace are uniform over their values', () => {
    expect(chiSquare(counts(fromSpace({ kind: 'values', values: ['a', 'b', 'c'] }), ['a', 'b', 'c']), [1 / 3, 1 / 3, 1 / 3])).toBeLessThan(chiSquareCritical(2));
    expect(chiSquare(counts(fromSpace({ kind: 'range', start: 0, stop: 10, step: 2 }), [0, 2, 4, 6, 8]), Array(5).fill(0.2))).toBeLessThan(chiSquareCritical(4));
    expect(chiSquare(counts(fromSpace({ kind: 'logspace', start: 0, stop: 3, num: 4, base: 10 }), [1, 10, 100, 1000]), Array(4).fill(0.25))).toBeLessThan(chiSquareCritical(3));
    expect(chiSquare(counts(fromSpace({ kind: 'values', values: [3, 1, 2, 1] }), [1, 2, 3]), [0.5, 0.25, 0.25])).toBeLessThan(chiSquareCritical(2));
  });

  it('pvalues are weighted', () => {
    const c = counts(fromSpace({ kind: 'pvalues', values: ['adam', 'sgd', 'rms'], probabilities: [0.7, 0.2, 0.1] }), ['adam', 'sgd', 'rms']);
    expect(chiSquare(c, [0.7, 0.2, 0.1])).toBeLessThan(chiSquareCritical(2));
  });
});

describe('random search over discrete options', () => {
  it('weights pvalues when the space is large enough not to run out', () => {
    // 3 x 10^6 configurations: 1500 distinct draws hardly ever collide.
    const opt = createOptimizer(
      hp({ o: { kind: 'pvalues', values: ['a', 'b', 'c'], probabilities: [0.6, 0.3, 0.1] }, u: { kind: 'range', start: 0, stop: 1e6, step: 1 } }, { random_search: { n_experiments: 1500 } }, { concurrency: 1500 }),
    );
    const out: ParamValue[] = [];
    for (let t = opt.ask(); t; t = opt.ask()) out.push(t.params.o);
    expect(chiSquare(counts(out, ['a', 'b', 'c']), [0.6, 0.3, 0.1])).toBeLessThan(chiSquareCritical(2));
  });
});

describe('SearchSpace', () => {
  const space = new SearchSpace({
    lr: { kind: 'loguniform', low: -9, high: -2 },
    units: { kind: 'range', start: 16, stop: 80, step: 16 },
    opt: { kind: 'pvalues', values: ['adam', 'sgd'], probabilities: [0.5, 0.5] },
    drop: { kind: 'quniform', low: 0, high: 0.5, q: 0.1 },
    w: { kind: 'normal', loc: 0, scale: 1, size: 2 },
  });

  it('lays out dimensions and the one-hot encoding', () => {
    expect(space.dims.map((d) => d.kind)).toEqual(['float', 'ordinal', 'categorical', 'float', 'float', 'float']);
    expect(space.encodedSize).toBe(7);
    expect(space.encodedSlot(2)).toEqual({ offset: 2, width: 2 });
    expect(space.finiteSize()).toBe(Infinity);
    expect(new SearchSpace({ a: { kind: 'values', values: [1, 2] }, b: { kind: 'range', start: 0, stop: 3, step: 1 } }).finiteSize()).toBe(6);
  });

  it('decodes coordinates into params in matrix order, inside the space', () => {
    const rng = Rng.seeded(4);
    for (let i = 0; i < 200; i++) {
      const c = space.sample(rng);
      const p = space.decode(c);
      expect(Object.keys(p)).toEqual(['lr', 'units', 'opt', 'drop', 'w']);
      expect(withinOption(space.matrix.lr, p.lr)).toBe(true);
      expect(withinOption(space.matrix.drop, p.drop)).toBe(true);
      expect((p.w as number[]).length).toBe(2);
    }
  });

  it('round-trips through the [0, 1] encoding and snaps to representatives', () => {
    const rng = Rng.seeded(5);
    for (let i = 0; i < 100; i++) {
      const c = space.snap(space.sample(rng));
      const e = space.encode(c);
      for (const v of e) {
        expect(v).toBeGreaterThanOrEqual(-0.1);
        expect(v).toBeLessThanOrEqual(1.1);
      }
      const back = space.decode(space.fromEncoded(e));
      const orig = space.decode(c);
      expect(back.units).toBe(orig.units);
      expect(back.opt).toBe(orig.opt);
      expect(back.drop).toBe(orig.drop);
      expect(back.lr).toBeCloseTo(orig.lr as number, 12);
      expect((back.w as number[])[1]).toBeCloseTo((orig.w as number[])[1], 12);
      expect(space.snap(c)).toEqual(c);
    }
  });

  it('samples distinct configurations until a finite space is used up', () => {
    const small = new SearchSpace({ a: { kind: 'values', values: [1, 2, 3] }, b: { kind: 'pvalues', values: ['x', 'y'], probabilities: [0.99, 0.01] } });
    const rng = Rng.seeded(6);
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const c = sampleDistinct(small, rng, (p) => seen.has(paramsKey(p)));
      expect(c).toBeDefined();
      seen.add(paramsKey(small.decode(c!)));
    }
    expect(seen.size).toBe(6);
    expect(sampleDistinct(small, rng, (p) => seen.has(paramsKey(p)))).toBeUndefined();
  });

  it('rejects options without values', () => {
    expect(() => new SearchSpace({ a: { kind: 'values', values: [] } })).toThrow('has no values');
  });
});
