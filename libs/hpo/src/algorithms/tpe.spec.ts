import type { Matrix } from '@myelin/spec';
import { createOptimizer } from '../create';
import type { Trial } from '../core/types';
import { paramsKey } from '../space/space';
import { hp, MIN, withinSpace } from '../testing/helpers';
import { tpeWeights } from './tpe';

const tpe = (n: number, init = 10) => ({ tpe: { n_experiments: n, n_initial_trials: init, metric: MIN } });

function best(matrix: Matrix, algo: object, f: (p: Trial['params']) => number, seed: number): number {
  const opt = createOptimizer(hp(matrix, algo, { seed }), { metric: MIN });
  for (let t = opt.ask(); t; t = opt.ask()) opt.tell(t.id, { value: f(t.params) });
  return opt.best()!.value!;
}

describe('tpe', () => {
  it('weights old observations with a ramp past 25 (Optuna)', () => {
    expect(tpeWeights(10)).toEqual(new Array(10).fill(1));
    const w = tpeWeights(30);
    expect(w).toHaveLength(30);
    expect(w[0]).toBeCloseTo(1 / 30, 12);
    expect(w[4]).toBeCloseTo(1, 12);
    expect(w.slice(5)).toEqual(new Array(25).fill(1));
  });

  it('beats random search on a smooth function with the same budget', () => {
    const matrix: Matrix = { a: { kind: 'uniform', low: -5, high: 5 }, b: { kind: 'uniform', low: -5, high: 5 } };
    const f = (p: Trial['params']): number => ((p.a as number) - 1) ** 2 + ((p.b as number) + 2) ** 2;
    let tpeSum = 0;
    let randSum = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      tpeSum += best(matrix, tpe(60), f, seed);
      randSum += best(matrix, { random_search: { n_experiments: 60 } }, f, seed);
    }
    expect(tpeSum).toBeLessThan(randSum / 3);
  });

  it('handles integers, categoricals and log scales, and concentrates on the good category', () => {
    const matrix: Matrix = {
      lr: { kind: 'loguniform', low: -9, high: -1 },
      units: { kind: 'range', start: 8, stop: 264, step: 8 },
      opt: { kind: 'pvalues', values: ['adam', 'sgd', 'rmsprop'], probabilities: [0.2, 0.6, 0.2] },
      depth: { kind: 'values', values: [1, 2, 4, 8] },
    };
    const f = (p: Trial['params']): number =>
      (Math.log10(p.lr as number) + 3) ** 2 + (((p.units as number) - 128) / 64) ** 2 + (p.opt === 'adam' ? 0 : 1) + Math.abs(Math.log2(p.depth as number) - 2);
    const opt = createOptimizer(hp(matrix, tpe(80), { seed: 3 }));
    const asked: Trial[] = [];
    for (let t = opt.ask(); t; t = opt.ask()) {
      asked.push(t);
      expect(withinSpace(matrix, t.params)).toBe(true);
      opt.tell(t.id, { value: f(t.params) });
    }
    expect(opt.best()!.params.opt).toBe('adam');
    expect(asked.slice(-30).filter((t) => t.params.opt === 'adam').length).toBeGreaterThan(15);
    expect(opt.best()!.value).toBeLessThan(0.5);
  });

  it('never repeats a pending point for parallel asks (constant liar)', () => {
    const matrix: Matrix = { a: { kind: 'range', start: 0, stop: 6, step: 1 }, b: { kind: 'values', values: ['x', 'y'] } };
    const opt = createOptimizer(hp(matrix, tpe(12, 3), { concurrency: 6 }));
    const first = [opt.ask()!, opt.ask()!, opt.ask()!];
    for (const t of first) opt.tell(t.id, { value: t.params.a as number });
    const parallel: Trial[] = [];
    for (let t = opt.ask(); t; t = opt.ask()) parallel.push(t);
    expect(parallel).toHaveLength(6);
    const keys = [...first, ...parallel].map((t) => paramsKey(t.params));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('keeps going when trials fail, and avoids a failing region', () => {
    const matrix: Matrix = { x: { kind: 'uniform', low: 0, high: 1 } };
    const opt = createOptimizer(hp(matrix, tpe(60, 5)));
    const xs: number[] = [];
    for (let t = opt.ask(); t; t = opt.ask()) {
      const x = t.params.x as number;
      xs.push(x);
      if (x < 0.3) opt.tell(t.id, { failed: true });
      else opt.tell(t.id, { value: x });
    }
    expect(opt.isFinished()).toBe(true);
    expect(xs).toHaveLength(60);
    // The optimum of the successful region is its left edge; failures below 0.3 push proposals away from them.
    expect(xs.slice(-20).filter((x) => x < 0.3).length).toBeLessThan(8);
    expect(opt.best()!.value).toBeLessThan(0.33);
  });

  it('ends early when a finite space is used up', () => {
    const opt = createOptimizer(hp({ a: { kind: 'values', values: [1, 2, 3] } }, tpe(10, 1)));
    let n = 0;
    for (let t = opt.ask(); t; t = opt.ask()) {
      n++;
      opt.tell(t.id, { value: t.params.a as number });
    }
    expect(n).toBe(3);
    expect(opt.isFinished()).toBe(true);
  });
});
