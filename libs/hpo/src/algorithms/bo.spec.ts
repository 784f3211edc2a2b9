import type { Matrix } from '@myelin/spec';
import { createOptimizer } from '../create';
import { Rng } from '../core/rng';
import type { Trial } from '../core/types';
import { paramsKey, SearchSpace } from '../space/space';
import { boSection, hp, MAX, MIN, withinSpace } from '../testing/helpers';
import { fitSubset, maximizeAcquisition } from './bo';

describe('bo', () => {
  it('finds the minimum of a smooth 1-D function in a few guided trials', () => {
    const opt = createOptimizer(hp({ x: { kind: 'uniform', low: -2, high: 3 } }, boSection(3, 12)));
    for (let t = opt.ask(); t; t = opt.ask()) opt.tell(t.id, { value: ((t.params.x as number) - 1) ** 2 });
    expect(opt.trials()).toHaveLength(15);
    expect(Math.abs((opt.best()!.params.x as number) - 1)).toBeLessThan(0.05);
  });

  it.each(['ucb', 'ei', 'poi'] as const)('maximises with %s on a space of integers, lists, log scales and categories', (acq) => {
    const matrix: Matrix = {
      lr: { kind: 'logspace', start: -5, stop: -1, num: 9, base: 10 },
      units: { kind: 'range', start: 16, stop: 272, step: 16 },
      opt: { kind: 'values', values: ['adam', 'sgd', 'rmsprop'] },
      dropout: { kind: 'uniform', low: 0, high: 0.6 },
    };
    const score = (p: Trial['params']): number =>
      1 - 0.1 * (Math.log10(p.lr as number) + 3) ** 2 - (((p.units as number) - 128) / 256) ** 2 - (p.opt === 'adam' ? 0 : 0.3) - ((p.dropout as number) - 0.2) ** 2;
    const opt = createOptimizer(hp(matrix, boSection(5, 25, MAX, acq), { seed: 2 }));
    const seen = new Set<string>();
    for (let t = opt.ask(); t; t = opt.ask()) {
      expect(withinSpace(matrix, t.params)).toBe(true);
      expect(seen.has(paramsKey(t.params))).toBe(false);
      seen.add(paramsKey(t.params));
      opt.tell(t.id, { value: score(t.params) });
    }
    const b = opt.best()!;
    expect(b.params.opt).toBe('adam');
    expect(b.value).toBeGreaterThan(0.9);
  });

  it('proposes distinct points for parallel trials (constant liar)', () => {
    const opt = createOptimizer(hp({ x: { kind: 'uniform', low: 0, high: 1 }, y: { kind: 'uniform', low: 0, high: 1 } }, boSection(4, 10), { concurrency: 4 }));
    const init = [opt.ask()!, opt.ask()!, opt.ask()!, opt.ask()!];
    for (const t of init) opt.tell(t.id, { value: ((t.params.x as number) - 0.3) ** 2 + ((t.params.y as number) - 0.6) ** 2 });
    const parallel = [opt.ask()!, opt.ask()!, opt.ask()!, opt.ask()!];
    expect(opt.ask()).toBeNull();
    const pts = parallel.map((t) => [t.params.x as number, t.params.y as number]);
    for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) expect(Math.hypot(pts[i][0] - pts[j][0], pts[i][1] - pts[j][1])).toBeGreaterThan(0.02);
  });

  it('waits for a result before its first guided ask, and falls back to random draws when everything fails', () => {
    const opt = createOptimizer(hp({ x: { kind: 'uniform', low: 0, high: 1 } }, boSection(2, 5), { concurrency: 5 }));
    const a = opt.ask()!;
    const b = opt.ask()!;
    expect(opt.ask()).toBeNull(); // guided phase, no observation yet, trials pending
    opt.tell(a.id, { failed: true });
    opt.tell(b.id, { failed: true });
    let n = 2;
    for (let t = opt.ask(); t; t = opt.ask()) {
      n++;
      opt.tell(t.id, { failed: true });
    }
    expect(n).toBe(7);
    expect(opt.isFinished()).toBe(true);
    expect(opt.best()).toBeNull();
  });

  it('stops when a finite space is used up', () => {
    const opt = createOptimizer(hp({ a: { kind: 'values', values: [1, 2, 3] }, b: { kind: 'values', values: ['u', 'v'] } }, boSection(2, 20)));
    let n = 0;
    for (let t = opt.ask(); t; t = opt.ask()) {
      n++;
      opt.tell(t.id, { value: (t.params.a as number) + (t.params.b === 'u' ? 0 : 1) });
    }
    expect(n).toBe(6);
    expect(opt.isFinished()).toBe(true);
    expect(opt.best()!.params).toEqual({ a: 1, b: 'u' });
  });

  it('fits hyperparameters on the best half and the most recent of large data sets', () => {
    expect(fitSubset([3, 1, 2], 5)).toEqual([0, 1, 2]);
    // best 2 by value: indices 4 (9) and 0 (8); then most recent: 5, 3
    expect(fitSubset([8, 1, 2, 3, 9, 0], 4)).toEqual([0, 3, 4, 5]);
  });

  it('ranks acquisition candidates inside the space, best first', () => {
    const space = new SearchSpace({ x: { kind: 'uniform', low: -1, high: 1 }, k: { kind: 'range', start: 0, stop: 5, step: 1 } });
    const score = (e: Float64Array): number => -((e[0] - 0.75) ** 2) - (e[1] - 0.5) ** 2;
    const ranked = maximizeAcquisition(space, score, Rng.seeded(1), { warmup: 200, localStarts: 2, incumbents: [[0, 0]] });
    const top = space.decode(ranked[0]);
    expect(top.x as number).toBeCloseTo(0.5, 2);
    expect(top.k).toBe(2);
    for (let i = 1; i < 20; i++) expect(score(space.encode(ranked[i]))).toBeLessThanOrEqual(score(space.encode(ranked[i - 1])));
  });

  it('accepts every matrix option even those Polyaxon rejected for bo', () => {
    const matrix: Matrix = {
      a: { kind: 'normal', loc: 0, scale: 1 },
      b: { kind: 'qloguniform', low: 0, high: 3, q: 1 },
      c: { kind: 'pvalues', values: [true, false], probabilities: [0.3, 0.7] },
      d: { kind: 'quniform', low: 0, high: 1, q: 0.1, size: 2 },
    };
    const opt = createOptimizer(hp(matrix, boSection(3, 6)));
    for (let t = opt.ask(); t; t = opt.ask()) {
      expect(withinSpace(matrix, t.params)).toBe(true);
      opt.tell(t.id, { value: Math.abs(t.params.a as number) + (t.params.b as number) });
    }
    expect(opt.trials()).toHaveLength(9);
    expect(MIN.optimization).toBe('minimize');
  });
});
