import { hyperbandPlan } from '@myelin/spec';
import type { HPTuning, Hyperband } from '@myelin/spec';
import { createOptimizer } from '../create';
import type { Trial } from '../core/types';
import { hp, MIN, withinSpace } from '../testing/helpers';

const matrix = { x: { kind: 'uniform' as const, low: 0, high: 1 }, c: { kind: 'values' as const, values: ['a', 'b'] } };
const section = (h: Partial<Hyperband> = {}): Partial<HPTuning> => ({
  hyperband: { max_iter: 81, eta: 3, resource: { name: 'epochs', type: 'int' }, metric: MIN, resume: false, ...h },
});

/** Runs sequentially; loss = x (so rankings are known). Returns the trials in ask order. */
function runAll(h: HPTuning, fail: (t: Trial) => boolean = () => false): Trial[] {
  const opt = createOptimizer(h);
  const out: Trial[] = [];
  for (let t = opt.ask(); t; t = opt.ask()) {
    out.push(t);
    opt.tell(t.id, fail(t) ? { failed: true } : { value: t.params.x as number });
  }
  expect(opt.isFinished()).toBe(true);
  return out;
}

/** [bracket, [n_configs, resource] per rung] from the trials. */
function table(trials: Trial[]): Array<[number, Array<[number, number]>]> {
  const brackets = [...new Set(trials.map((t) => t.bracket!))];
  return brackets.map((b) => {
    const ts = trials.filter((t) => t.bracket === b);
    const rungs = [...new Set(ts.map((t) => t.rung!))].sort((a, c) => a - c);
    return [b, rungs.map((r) => [ts.filter((t) => t.rung === r).length, ts.find((t) => t.rung === r)!.resource!.value] as [number, number])];
  });
}

describe('hyperband bracket arithmetic', () => {
  it('max_iter 81, eta 3: the hand-computed table', () => {
    // s_max = 4, B = 405; n = ceil(B/R * eta^s / (s+1)), r = R eta^-s, rung i keeps floor(n eta^-i).
    const expected: Array<[number, Array<[number, number]>]> = [
      [4, [[81, 1], [27, 3], [9, 9], [3, 27], [1, 81]]],
      [3, [[34, 3], [11, 9], [3, 27], [1, 81]]],
      [2, [[15, 9], [5, 27], [1, 81]]],
      [1, [[8, 27], [2, 81]]],
      [0, [[5, 81]]],
    ];
    const trials = runAll(hp(matrix, section()));
    expect(table(trials)).toEqual(expected);
    expect(trials).toHaveLength(206);
    expect(hyperbandPlan(section().hyperband!).n_experiments).toBe(206);
  });

  it('max_iter 9, eta 3 and a float resource with eta 2.5', () => {
    expect(table(runAll(hp(matrix, section({ max_iter: 9 }))))).toEqual([
      [2, [[9, 1], [3, 3], [1, 9]]],
      [1, [[5, 3], [1, 9]]],
      [0, [[3, 9]]],
    ]);
    // s_max = floor(log_2.5 10) = 2, B = 30: n = 7, 4, 3; r = 1.6, 4, 10.
    expect(table(runAll(hp(matrix, section({ max_iter: 10, eta: 2.5, resource: { name: 'epochs', type: 'float' } }))))).toEqual([
      [2, [[7, 1.6], [2, 4], [1, 10]]],
      [1, [[4, 4], [1, 10]]],
      [0, [[3, 10]]],
    ]);
  });
});

describe('hyperband promotions', () => {
  it('promote the best of each rung with the same params and more resource, injected as a param', () => {
    const trials = runAll(hp(matrix, section({ max_iter: 9 })));
    const byId = new Map(trials.map((t) => [t.id, t]));
    for (const t of trials) {
      expect(t.params.epochs).toBe(t.resource!.value);
      expect(withinSpace(matrix, t.params, ['epochs'])).toBe(true);
      expect(t.resumeFrom).toBeUndefined();
      if (t.rung! > 0) {
        const parent = byId.get(t.promotedFrom!)!;
        expect(parent.rung).toBe(t.rung! - 1);
        expect(parent.bracket).toBe(t.bracket);
        expect({ ...parent.params, epochs: 0 }).toEqual({ ...t.params, epochs: 0 });
      }
    }
    // Rung 1 of bracket 2 holds the 3 lowest-loss configurations of its rung 0.
    const rung0 = trials.filter((t) => t.bracket === 2 && t.rung === 0).sort((a, b) => (a.params.x as number) - (b.params.x as number));
    const rung1 = trials.filter((t) => t.bracket === 2 && t.rung === 1);
    expect(rung1.map((t) => t.promotedFrom)).toEqual(rung0.slice(0, 3).map((t) => t.id));
    expect(trials.filter((t) => t.bracket === 2 && t.rung === 2)[0].promotedFrom).toBe(rung1.sort((a, b) => (a.params.x as number) - (b.params.x as number))[0].id);
  });

  it('resume: promoted trials continue from the trial they were promoted from', () => {
    const trials = runAll(hp(matrix, section({ max_iter: 9, resume: true })));
    const promoted = trials.filter((t) => t.rung! > 0);
    expect(promoted.length).toBe(5);
    for (const t of promoted) expect(t.resumeFrom).toBe(t.promotedFrom);
  });

  it('never promotes failed trials, and a rung where all failed ends its bracket', () => {
    const trials = runAll(hp(matrix, section({ max_iter: 9 })), (t) => t.bracket === 2 && t.rung === 0 && (t.params.x as number) < 0.5);
    const failedIds = new Set(trials.filter((t) => t.bracket === 2 && t.rung === 0 && (t.params.x as number) < 0.5).map((t) => t.id));
    for (const t of trials) if (t.promotedFrom !== undefined) expect(failedIds.has(t.promotedFrom)).toBe(false);
    const allFail = runAll(hp(matrix, section({ max_iter: 9 })), (t) => t.bracket === 2);
    expect(table(allFail)).toEqual([
      [2, [[9, 1]]],
      [1, [[5, 3], [1, 9]]],
      [0, [[3, 9]]],
    ]);
  });

  it('runs the next bracket while a rung waits, when concurrency allows', () => {
    const opt = createOptimizer(hp(matrix, section({ max_iter: 9 }), { concurrency: 100 }));
    const first: Trial[] = [];
    for (let t = opt.ask(); t; t = opt.ask()) first.push(t);
    // Every bracket's first rung: 9 + 5 + 3, then it waits for results.
    expect(first.map((t) => t.bracket)).toEqual([...Array(9).fill(2), ...Array(5).fill(1), ...Array(3).fill(0)]);
    expect(opt.isFinished()).toBe(false);
    for (const t of first.filter((x) => x.bracket === 2)) opt.tell(t.id, { value: t.params.x as number });
    const next = opt.ask()!;
    expect([next.bracket, next.rung]).toEqual([2, 1]);
  });

  it('keeps at most `concurrency` trials pending', () => {
    const opt = createOptimizer(hp(matrix, section(), { concurrency: 4 }));
    const asked = [opt.ask(), opt.ask(), opt.ask(), opt.ask()];
    expect(asked.every(Boolean)).toBe(true);
    expect(opt.ask()).toBeNull();
    opt.tell(asked[0]!.id, { value: 1 });
    expect(opt.ask()).not.toBeNull();
  });
});
