import fc from 'fast-check';
import type { EarlyStopping, HPTuning, Matrix, MatrixOption } from '@myelin/spec';
import { createOptimizer, restoreOptimizer, searchMetricOf } from '../create';
import { boSection, hp, MAX, MIN, withinSpace } from '../testing/helpers';
import { HpoError } from './errors';
import type { Optimizer, Trial, TrialReport } from './types';

const cont: Matrix = { x: { kind: 'uniform', low: 0, high: 1 }, y: { kind: 'uniform', low: 0, high: 1 } };
const mixed: Matrix = {
  lr: { kind: 'loguniform', low: -7, high: -1 },
  units: { kind: 'range', start: 16, stop: 128, step: 16 },
  opt: { kind: 'pvalues', values: ['adam', 'sgd'], probabilities: [0.6, 0.4] },
};
const discrete: Matrix = { a: { kind: 'values', values: [1, 2, 3, 4] }, b: { kind: 'linspace', start: 0, stop: 1, num: 5 } };
const resource = { name: 'epochs', type: 'int' as const };

/** One hptuning per algorithm, small budgets. */
const ALGORITHMS: Array<[string, HPTuning]> = [
  ['grid_search', hp(discrete, { grid_search: { n_experiments: 15 } }, { concurrency: 3 })],
  ['random_search', hp(mixed, { random_search: { n_experiments: 15 } }, { concurrency: 3 })],
  ['hyperband', hp(mixed, { hyperband: { max_iter: 9, eta: 3, resource, metric: MIN, resume: true } }, { concurrency: 3 })],
  ['asha', hp(mixed, { asha: { n_experiments: 12, resource, min_resource: 1, max_resource: 9, reduction_factor: 3, metric: MIN } }, { concurrency: 3 })],
  ['bo', hp(mixed, boSection(4, 10), { concurrency: 3 })],
  ['tpe', hp(mixed, { tpe: { n_experiments: 16, n_initial_trials: 4, metric: MIN } }, { concurrency: 3 })],
];

/** A deterministic objective of any params. */
function objective(p: Trial['params']): number {
  let s = 0;
  for (const [k, v] of Object.entries(p)) {
    const x = typeof v === 'number' ? v : Array.isArray(v) ? v.length : String(v).length;
    s += Math.sin(x * (k.length + 1)) + 0.1 * x;
  }
  return s;
}

/** Answers with a value, a failure every 5th trial, an intermediate report every 3rd. */
function answer(opt: Optimizer, t: Trial): void {
  if (t.id % 3 === 0) opt.tell(t.id, { value: objective(t.params) + 1, step: 1 });
  opt.tell(t.id, t.id % 5 === 4 ? { failed: true } : { value: objective(t.params) });
}

describe('the ask/tell contract', () => {
  it('hands out trials with sequential ids and keeps at most `concurrency` pending', () => {
    const opt = createOptimizer(hp(cont, { random_search: { n_experiments: 10 } }, { concurrency: 2 }));
    const a = opt.ask()!;
    const b = opt.ask()!;
    expect([a.id, b.id]).toEqual([0, 1]);
    expect(opt.ask()).toBeNull();
    opt.tell(a.id, { value: 1 });
    expect(opt.ask()!.id).toBe(2);
    expect(opt.progress()).toMatchObject({ algorithm: 'random_search', asked: 3, pending: 2, completed: 1, finished: false });
  });

  it('rejects unknown, finished and malformed reports', () => {
    const opt = createOptimizer(hp(cont, { random_search: { n_experiments: 3 } }));
    const t = opt.ask()!;
    expect(() => opt.tell(7, { value: 1 })).toThrow(HpoError);
    expect(() => opt.tell(t.id, {} as TrialReport)).toThrow('expected {value}');
    opt.tell(t.id, { value: 1 });
    expect(() => opt.tell(t.id, { value: 2 })).toThrow('already completed');
  });

  it('tracks intermediate results, stopped and failed trials, and picks the best by the metric', () => {
    const opt = createOptimizer(hp(cont, { random_search: { n_experiments: 5 } }, { concurrency: 5 }), { metric: MAX });
    const ts = [0, 1, 2, 3, 4].map(() => opt.ask()!);
    opt.tell(ts[0].id, { value: 0.5, step: 1 });
    expect(opt.trial(ts[0].id)).toMatchObject({ status: 'pending', value: 0.5, step: 1 });
    opt.tell(ts[0].id, { stopped: true });
    expect(opt.trial(ts[0].id)).toMatchObject({ status: 'stopped', value: 0.5 });
    opt.tell(ts[1].id, { value: 0.7 });
    opt.tell(ts[2].id, { value: 0.9 });
    opt.tell(ts[3].id, { failed: true, error: 'OOM' });
    opt.tell(ts[4].id, { value: NaN });
    expect(opt.trial(ts[3].id)).toMatchObject({ status: 'failed', error: 'OOM' });
    expect(opt.trial(ts[4].id)).toMatchObject({ status: 'failed', error: 'non-finite value NaN' });
    expect(opt.best()).toMatchObject({ id: ts[2].id, value: 0.9 });
    expect(opt.isFinished()).toBe(true);
    expect(opt.progress()).toMatchObject({ completed: 2, failed: 2, stopped: 1, finished: true });
    const min = createOptimizer(hp(cont, { random_search: { n_experiments: 2 } }, { concurrency: 2 }), { metric: MIN });
    const [u, v] = [min.ask()!, min.ask()!];
    min.tell(u.id, { value: 3 });
    min.tell(v.id, { value: 2 });
    expect(min.best()!.id).toBe(v.id);
  });

  it('resolves the metric from the algorithm, the options, the early-stopping rules, or a default', () => {
    expect(searchMetricOf(hp(cont, { tpe: { n_experiments: 1, n_initial_trials: 1, metric: MIN } }), { metric: MAX })).toEqual(MIN);
    expect(searchMetricOf(hp(cont, { random_search: { n_experiments: 1 } }), { metric: MAX })).toEqual(MAX);
    const rule: EarlyStopping = { kind: 'metric', metric: 'loss', value: 0.1, optimization: 'minimize' };
    expect(searchMetricOf(hp(cont, { random_search: { n_experiments: 1 } }, { early_stopping: [rule] }))).toEqual(MIN);
    expect(searchMetricOf(hp(discrete))).toEqual({ name: 'value', optimization: 'maximize' });
  });

  it('refuses an empty matrix and a resource that is also a matrix param', () => {
    expect(() => createOptimizer(hp({}))).toThrow('nothing to search');
    expect(() => createOptimizer(hp({ epochs: { kind: 'values', values: [1] } }, { asha: { n_experiments: 1, resource, min_resource: 1, max_resource: 3, reduction_factor: 3, metric: MIN } }))).toThrow(
      'cannot also be a matrix param',
    );
  });
});

describe('early stopping through the optimizer', () => {
  it('answers shouldStop/stopDecisions from intermediate results (median rule)', () => {
    const rule: EarlyStopping = { kind: 'median', metric: 'loss', optimization: 'minimize', min_trials: 2, min_steps: 1, evaluation_interval: 1 };
    const opt = createOptimizer(hp(cont, { random_search: { n_experiments: 10 } }, { concurrency: 4, early_stopping: [rule] }));
    const ts = [opt.ask()!, opt.ask()!, opt.ask()!, opt.ask()!];
    for (let step = 1; step <= 3; step++) {
      opt.tell(ts[0].id, { value: 1 / step, step });
      opt.tell(ts[1].id, { value: 1.2 / step, step });
    }
    opt.tell(ts[2].id, { value: 0.1, step: 2 });
    opt.tell(ts[3].id, { value: 2, step: 2 });
    expect(opt.shouldStop(ts[2].id)).toBeUndefined();
    expect(opt.shouldStop(ts[3].id)).toMatchObject({ trialId: ts[3].id, rule: 'median', scope: 'trial' });
    expect(opt.stopDecisions().map((d) => d.trialId)).toEqual([ts[3].id]);
    opt.tell(ts[3].id, { stopped: true });
    expect(opt.stopDecisions()).toEqual([]);
    expect(opt.trial(ts[3].id)!.status).toBe('stopped');
  });

  it('stops the whole search once a Polyaxon threshold is crossed, even by an intermediate value', () => {
    const rule: EarlyStopping = { kind: 'metric', metric: 'acc', value: 0.95, optimization: 'maximize' };
    const opt = createOptimizer(hp(cont, { random_search: { n_experiments: 10 } }, { concurrency: 4, early_stopping: [rule] }), { metric: MIN });
    const ts = [opt.ask()!, opt.ask()!, opt.ask()!];
    opt.tell(ts[0].id, { value: 0.5, step: 1, metrics: { acc: 0.97 } });
    expect(opt.ask()).toBeNull();
    expect(opt.stopDecisions().map((d) => [d.trialId, d.scope])).toEqual(ts.map((t) => [t.id, 'group']));
    expect(opt.isFinished()).toBe(false);
    for (const t of ts) opt.tell(t.id, { stopped: true });
    expect(opt.isFinished()).toBe(true);
    expect(opt.progress().stoppedBy).toMatchObject({ trialId: ts[0].id, metric: 'acc' });
  });
});

describe('state round trip', () => {
  it.each(ALGORITHMS)('%s: toJSON -> restore continues with identical asks', (_name, h) => {
    const a = createOptimizer(h, { metric: MIN });
    // Play a while, leaving some trials pending.
    const pending: Trial[] = [];
    for (let i = 0; i < 9; i++) {
      const t = a.ask();
      if (!t) break;
      if (i % 4 === 3) pending.push(t);
      else answer(a, t);
    }
    const state = JSON.parse(JSON.stringify(a.toJSON())) as ReturnType<Optimizer['toJSON']>;
    const b = restoreOptimizer(h, state);
    expect(b.toJSON()).toEqual(a.toJSON());
    for (const t of pending) {
      answer(a, t);
      answer(b, t);
    }
    for (let i = 0; i < 40; i++) {
      const ta = a.ask();
      const tb = b.ask();
      expect(tb).toEqual(ta);
      if (!ta || !tb) break;
      answer(a, ta);
      answer(b, tb);
    }
    expect(b.best()).toEqual(a.best());
    expect(b.isFinished()).toBe(a.isFinished());
  });

  it('refuses a state of another algorithm or format', () => {
    const state = createOptimizer(ALGORITHMS[1][1]).toJSON();
    expect(() => restoreOptimizer(ALGORITHMS[5][1], state)).toThrow('saved by random_search');
    expect(() => restoreOptimizer(ALGORITHMS[1][1], { ...state, format: 'x' as never })).toThrow('not an optimizer state');
  });

  it('draws a seed when none is given and keeps it in the state', () => {
    const h: HPTuning = { ...ALGORITHMS[1][1] };
    delete h.seed;
    const a = createOptimizer(h);
    const b = restoreOptimizer(h, a.toJSON());
    expect(b.ask()).toEqual(a.ask());
    expect(Number.isInteger(a.toJSON().seed)).toBe(true);
  });
});

// ---------------------------------------------------------------- property tests

const num = (min: number, max: number): fc.Arbitrary<number> => fc.integer({ min: min * 4, max: max * 4 }).map((v) => v / 4);
const size = fc.option(fc.integer({ min: 1, max: 2 }), { nil: undefined });
const withSize = <T extends object>(o: T, s: number | undefined): T => (s === undefined ? o : { ...o, size: s });

const discreteOption: fc.Arbitrary<MatrixOption> = fc.oneof(
  fc.uniqueArray(fc.oneof(fc.integer({ min: -50, max: 50 }), fc.constantFrom('a', 'b', 'c', 'dd'), fc.boolean()), { minLength: 1, maxLength: 4, selector: (v) => JSON.stringify(v) }).map((values) => ({ kind: 'values' as const, values })),
  fc.tuple(num(-5, 5), num(0.25, 2), fc.integer({ min: 1, max: 6 })).map(([start, step, n]) => ({ kind: 'range' as const, start, stop: start + step * n, step })),
  fc.tuple(num(-5, 5), num(0.25, 5), fc.integer({ min: 1, max: 5 })).map(([start, span, n]) => ({ kind: 'linspace' as const, start, stop: start + span, num: n })),
  fc.tuple(num(-3, 1), num(0.5, 3), fc.integer({ min: 1, max: 5 })).map(([start, span, n]) => ({ kind: 'logspace' as const, start, stop: start + span, num: n, base: 10 })),
  fc.tuple(num(0.25, 4), num(1.5, 20), fc.integer({ min: 2, max: 5 })).map(([start, f, n]) => ({ kind: 'geomspace' as const, start, stop: start * f, num: n })),
);
const distribution: fc.Arbitrary<MatrixOption> = fc.oneof(
  fc.tuple(fc.uniqueArray(fc.constantFrom('x', 'y', 'z', 1, 2), { minLength: 1, maxLength: 3 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 3, maxLength: 3 })).map(([values, w]) => {
    const ws = values.map((_, i) => w[i]);
    const total = ws.reduce((a, b) => a + b, 0);
    return { kind: 'pvalues' as const, values, probabilities: ws.map((x) => x / total) };
  }),
  fc.tuple(num(-5, 5), num(0.25, 5), size).map(([low, span, s]) => withSize({ kind: 'uniform' as const, low, high: low + span }, s)),
  fc.tuple(num(-5, 5), num(0.5, 5), fc.constantFrom(0.1, 0.5, 1), size).map(([low, span, q, s]) => withSize({ kind: 'quniform' as const, low, high: low + span, q }, s)),
  fc.tuple(num(-6, 1), num(0.25, 4), size).map(([low, span, s]) => withSize({ kind: 'loguniform' as const, low, high: low + span }, s)),
  fc.tuple(num(-2, 1), num(0.5, 3), fc.constantFrom(0.1, 1), size).map(([low, span, q, s]) => withSize({ kind: 'qloguniform' as const, low, high: low + span, q }, s)),
  fc.tuple(num(-5, 5), num(0.25, 3), size).map(([loc, scale, s]) => withSize({ kind: 'normal' as const, loc, scale }, s)),
  fc.tuple(num(-5, 5), num(0.5, 3), fc.constantFrom(0.5, 1), size).map(([loc, scale, q, s]) => withSize({ kind: 'qnormal' as const, loc, scale, q }, s)),
  fc.tuple(num(-1, 1), num(0.25, 1), size).map(([loc, scale, s]) => withSize({ kind: 'lognormal' as const, loc, scale }, s)),
  fc.tuple(num(-1, 1), num(0.25, 1), fc.constantFrom(0.1, 0.5), size).map(([loc, scale, q, s]) => withSize({ kind: 'qlognormal' as const, loc, scale, q }, s)),
);
const matrixOf = (opt: fc.Arbitrary<MatrixOption>): fc.Arbitrary<Matrix> =>
  fc.uniqueArray(fc.constantFrom('p', 'q', 'r', 's'), { minLength: 1, maxLength: 3 }).chain((names) => fc.tuple(...names.map(() => opt)).map((opts) => Object.fromEntries(names.map((n, i) => [n, opts[i]]))));

const sections: Array<[string, (seed: number) => Partial<HPTuning>]> = [
  ['random_search', () => ({ random_search: { n_experiments: 8 } })],
  ['hyperband', () => ({ hyperband: { max_iter: 9, eta: 3, resource, metric: MIN, resume: false } })],
  ['asha', () => ({ asha: { n_experiments: 8, resource, min_resource: 1, max_resource: 9, reduction_factor: 3, metric: MIN } })],
  ['bo', () => boSection(3, 4)],
  ['tpe', () => ({ tpe: { n_experiments: 10, n_initial_trials: 3, metric: MIN } })],
];

/** Drives a search to its end with values, failures and stops drawn from `outcomes`; returns the trials. */
function drive(opt: Optimizer, outcomes: number[]): Trial[] {
  const all: Trial[] = [];
  for (let round = 0; round < 500 && !opt.isFinished(); round++) {
    const batch: Trial[] = [];
    for (let t = opt.ask(); t; t = opt.ask()) batch.push(t);
    if (batch.length === 0 && opt.progress().pending === 0) break;
    for (const t of batch) {
      all.push(t);
      const o = outcomes[t.id % outcomes.length];
      opt.tell(t.id, o < 0.15 ? { failed: true } : o < 0.25 ? { stopped: true } : { value: objective(t.params) * o });
    }
  }
  return all;
}

describe('property: a search never proposes outside its space and always finishes', () => {
  it.each(sections)('%s', (_name, section) => {
    fc.assert(
      fc.property(matrixOf(fc.oneof(discreteOption, distribution)), fc.integer(), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 4 }), (matrix, seed, outcomes, concurrency) => {
        const h = hp(matrix, section(seed), { seed, concurrency });
        const opt = createOptimizer(h);
        const trials = drive(opt, outcomes);
        expect(opt.isFinished()).toBe(true);
        expect(new Set(trials.map((t) => t.id)).size).toBe(trials.length);
        for (const t of trials) expect(withinSpace(matrix, t.params, ['epochs'])).toBe(true);
        // The state is plain JSON.
        expect(restoreOptimizer(h, JSON.parse(JSON.stringify(opt.toJSON()))).toJSON()).toEqual(opt.toJSON());
      }),
      { numRuns: 40 },
    );
  });

  it('grid_search', () => {
    fc.assert(
      fc.property(matrixOf(discreteOption), fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }), (matrix, cap) => {
        const opt = createOptimizer(hp(matrix, { grid_search: cap === undefined ? {} : { n_experiments: cap } }, { concurrency: 4 }));
        const trials = drive(opt, [0.5]);
        const size = Object.values(matrix).reduce((acc, o) => acc * (o.kind === 'values' ? o.values.length : o.kind === 'range' ? Math.round((o.stop - o.start) / o.step) : (o as { num: number }).num), 1);
        expect(trials.length).toBe(Math.min(size, cap ?? Infinity));
        for (const t of trials) expect(withinSpace(matrix, t.params)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});
