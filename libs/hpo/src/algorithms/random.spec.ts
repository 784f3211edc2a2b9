import { createOptimizer } from '../create';
import { paramsKey } from '../space/space';
import { hp, MIN, withinSpace } from '../testing/helpers';

describe('random_search', () => {
  const matrix = {
    lr: { kind: 'loguniform' as const, low: -7, high: -1 },
    units: { kind: 'range' as const, start: 16, stop: 256, step: 16 },
    opt: { kind: 'values' as const, values: ['adam', 'sgd'] },
  };

  function run(seed: number, n = 30): Array<Record<string, unknown>> {
    const opt = createOptimizer(hp(matrix, { random_search: { n_experiments: n } }, { seed }), { metric: MIN });
    const out: Array<Record<string, unknown>> = [];
    for (let t = opt.ask(); t; t = opt.ask()) {
      out.push(t.params);
      opt.tell(t.id, { value: Math.random() });
    }
    expect(opt.isFinished()).toBe(true);
    return out;
  }

  it('proposes n_experiments distinct configurations inside the space', () => {
    const got = run(1);
    expect(got).toHaveLength(30);
    expect(new Set(got.map((p) => paramsKey(p as never))).size).toBe(30);
    for (const p of got) expect(withinSpace(matrix, p as never)).toBe(true);
  });

  it('is reproducible per seed (from hptuning.seed or the options)', () => {
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
    const a = createOptimizer(hp(matrix, { random_search: { n_experiments: 3 } }, { seed: 1 }), { seed: 99 }).ask();
    const b = createOptimizer(hp(matrix, { random_search: { n_experiments: 3 } }, { seed: 99 })).ask();
    expect(a!.params).toEqual(b!.params);
  });

  it('stops at the size of a finite space', () => {
    const opt = createOptimizer(hp({ a: { kind: 'values', values: [1, 2, 3] }, b: { kind: 'values', values: [true, false] } }, { random_search: { n_experiments: 50 } }, { concurrency: 50 }));
    const got: string[] = [];
    for (let t = opt.ask(); t; t = opt.ask()) got.push(paramsKey(t.params));
    expect(got).toHaveLength(6);
    expect(new Set(got).size).toBe(6);
  });
});
