import { floorLog } from './budget';
import { ashaRungs, experimentCount, HPTuning, hyperbandPlan } from './index';

describe('hyperbandPlan', () => {
  it('computes brackets and rungs (max_iter 81, eta 3)', () => {
    const plan = hyperbandPlan({ max_iter: 81, eta: 3, resource: { name: 'epochs', type: 'int' } });
    expect(plan.s_max).toBe(4);
    expect(plan.budget).toBe(405);
    expect(plan.brackets.map((b) => b.rungs.map((r) => [r.n_configs, r.resource]))).toEqual([
      [
        [81, 1],
        [27, 3],
        [9, 9],
        [3, 27],
        [1, 81],
      ],
      [
        [34, 3],
        [11, 9],
        [3, 27],
        [1, 81],
      ],
      [
        [15, 9],
        [5, 27],
        [1, 81],
      ],
      [
        [8, 27],
        [2, 81],
      ],
      [[5, 81]],
    ]);
    expect(plan.n_experiments).toBe(206);
  });

  it('keeps float resources', () => {
    const plan = hyperbandPlan({ max_iter: 10, eta: 3, resource: { name: 'r', type: 'float' } });
    expect(plan.s_max).toBe(2);
    expect(plan.brackets[0].rungs.map((r) => r.resource)).toEqual([1.11111111111, 3.33333333333, 10]);
  });

  it('takes exact logarithms of powers', () => {
    expect(floorLog(81, 3)).toBe(4);
    expect(floorLog(1000, 10)).toBe(3);
    expect(floorLog(243, 3)).toBe(5);
    expect(floorLog(8, 2)).toBe(3);
    expect(floorLog(7.99, 2)).toBe(2);
    expect(floorLog(1, 3)).toBe(0);
  });
});

describe('experimentCount', () => {
  const base: HPTuning = {
    concurrency: 1,
    early_stopping: [],
    matrix: { a: { kind: 'values', values: [1, 2, 3] }, b: { kind: 'range', start: 0, stop: 4, step: 1 } },
  };
  const metric = { name: 'loss', optimization: 'minimize' as const };

  it('counts each algorithm', () => {
    expect(experimentCount(base)).toBe(12);
    expect(experimentCount({ ...base, grid_search: { n_experiments: 5 } })).toBe(5);
    expect(experimentCount({ ...base, grid_search: { n_experiments: 50 } })).toBe(12);
    expect(experimentCount({ ...base, random_search: { n_experiments: 50 } })).toBe(12);
    expect(
      experimentCount({ ...base, matrix: { x: { kind: 'uniform', low: 0, high: 1 } }, random_search: { n_experiments: 50 } }),
    ).toBe(50);
    const gp = { kernel: 'matern' as const, length_scale: 1, nu: 1.5, n_restarts_optimizer: 0 };
    expect(
      experimentCount({
        ...base,
        bo: { n_initial_trials: 3, n_iterations: 7, metric, utility_function: { acquisition_function: 'ucb', kappa: 1, n_warmup: 5, n_iter: 10, gaussian_process: gp } },
      }),
    ).toBe(10);
    expect(experimentCount({ ...base, tpe: { n_experiments: 30, n_initial_trials: 10, metric } })).toBe(30);
    expect(
      experimentCount({
        ...base,
        asha: { n_experiments: 64, resource: { name: 'e', type: 'int' }, min_resource: 1, max_resource: 27, reduction_factor: 3, metric },
      }),
    ).toBe(64);
  });

  it('lists ASHA rungs', () => {
    expect(ashaRungs({ min_resource: 1, max_resource: 27, reduction_factor: 3, resource: { name: 'e', type: 'int' } })).toEqual([1, 3, 9, 27]);
    expect(ashaRungs({ min_resource: 2, max_resource: 100, reduction_factor: 4, resource: { name: 'e', type: 'int' } })).toEqual([2, 8, 32]);
  });
});
