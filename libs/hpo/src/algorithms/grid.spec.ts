import { enumerateGrid } from '@myelin/spec';
import type { Matrix } from '@myelin/spec';
import { createOptimizer } from '../create';
import { HpoError } from '../core/errors';
import { hp, MIN } from '../testing/helpers';
import { GridSearchAlgorithm } from './grid';

const matrix: Matrix = {
  lr: { kind: 'logspace', start: -3, stop: -1, num: 3, base: 10 },
  units: { kind: 'range', start: 32, stop: 128, step: 32 },
  opt: { kind: 'values', values: ['adam', 'sgd'] },
};

function drain(h: ReturnType<typeof hp>): Array<Record<string, unknown>> {
  const opt = createOptimizer(h, { metric: MIN });
  const out: Array<Record<string, unknown>> = [];
  for (let t = opt.ask(); t; t = opt.ask()) {
    out.push(t.params);
    opt.tell(t.id, { value: out.length });
  }
  expect(opt.isFinished()).toBe(true);
  return out;
}

describe('grid_search', () => {
  it('walks the Cartesian product in the order of enumerateGrid (first key slowest)', () => {
    const got = drain(hp(matrix, { grid_search: {} }));
    expect(got).toEqual(enumerateGrid(matrix));
    expect(got).toHaveLength(18);
    expect(got[0]).toEqual({ lr: 0.001, units: 32, opt: 'adam' });
    expect(got[1]).toEqual({ lr: 0.001, units: 32, opt: 'sgd' });
  });

  it('is the default algorithm and honours the n_experiments cap', () => {
    expect(drain(hp(matrix))).toHaveLength(18);
    expect(drain(hp(matrix, { grid_search: { n_experiments: 5 } }))).toEqual(enumerateGrid(matrix, 5));
  });

  it('computes combinations lazily, so a huge grid costs nothing up front', () => {
    const big: Matrix = { a: { kind: 'range', start: 0, stop: 1000, step: 1 }, b: { kind: 'range', start: 0, stop: 1000, step: 1 }, c: { kind: 'range', start: 0, stop: 1000, step: 1 } };
    const g = new GridSearchAlgorithm(big, undefined);
    expect(g.total).toBe(1e9);
    expect(g.combination(1e9 - 1)).toEqual({ a: 999, b: 999, c: 999 });
    expect(g.combination(1001)).toEqual({ a: 0, b: 1, c: 1 });
  });

  it('rejects distributions', () => {
    expect(() => createOptimizer(hp({ x: { kind: 'uniform', low: 0, high: 1 } }))).toThrow(HpoError);
    expect(() => createOptimizer(hp({ x: { kind: 'pvalues', values: [1], probabilities: [1] } }))).toThrow('cannot enumerate');
  });
});
