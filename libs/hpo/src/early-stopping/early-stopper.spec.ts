import type { EarlyStopping } from '@myelin/spec';
import { EarlyStopper } from './early-stopper';

const median = (extra: Partial<EarlyStopping> = {}): EarlyStopping =>
  ({ kind: 'median', metric: 'loss', optimization: 'minimize', min_trials: 3, min_steps: 0, evaluation_interval: 1, ...extra }) as EarlyStopping;

/** Reports the same curve for trials `ids` (value at step s = curve(s)). */
function feed(s: EarlyStopper, ids: number[], steps: number, curve: (id: number, step: number) => number): void {
  for (const id of ids) for (let st = 1; st <= steps; st++) s.report(id, st, { loss: curve(id, st) });
}

describe('median stopping rule', () => {
  it('stops a trial whose best value is worse than the median of the others at that step', () => {
    const s = new EarlyStopper([median()]);
    // Three finished trials: losses 1/step, 2/step, 3/step.
    feed(s, [0, 1, 2], 5, (id, st) => (id + 1) / st);
    [0, 1, 2].forEach((id) => s.complete(id, {}));
    // Trial 3 at step 2: best 1.4 vs median(0.5, 1, 1.5) = 1 -> stop.
    expect(s.report(3, 1, { loss: 1.6 })).toBeUndefined(); // 1.6 vs median(1, 2, 3) = 2: fine
    const d = s.report(3, 2, { loss: 1.4 });
    expect(d).toMatchObject({ trialId: 3, scope: 'trial', rule: 'median', metric: 'loss', step: 2 });
    expect(d!.reason).toContain('median 1');
    // Sticky.
    expect(s.report(3, 3, { loss: 0.01 })).toMatchObject({ rule: 'median', step: 2 });
    // A good trial is not stopped.
    expect(s.report(4, 2, { loss: 0.7 })).toBeUndefined();
    expect(s.decisions().map((x) => x.trialId)).toEqual([3]);
  });

  it('waits for min_trials, min_steps and the evaluation interval', () => {
    const s = new EarlyStopper([median({ min_trials: 3, min_steps: 3, evaluation_interval: 2 })]);
    feed(s, [0, 1], 6, () => 0.1);
    // Only two other trials: never stops.
    for (let st = 1; st <= 6; st++) expect(s.report(2, st, { loss: 9 })).toBeUndefined();
    feed(s, [3], 6, () => 0.1);
    // Trial 4: steps 1, 2 are below min_steps; step 3 is its 3rd report (odd, skipped); step 4 evaluates.
    expect(s.report(4, 1, { loss: 9 })).toBeUndefined();
    expect(s.report(4, 2, { loss: 9 })).toBeUndefined();
    expect(s.report(4, 3, { loss: 9 })).toBeUndefined();
    expect(s.report(4, 4, { loss: 9 })).toMatchObject({ step: 4 });
  });

  it('only compares with trials that reached the step, at their last value up to it', () => {
    const s = new EarlyStopper([median({ min_trials: 2 })]);
    feed(s, [0, 1], 2, () => 0.5); // reached step 2 only
    feed(s, [2, 3], 10, (_id, st) => 1 / st);
    // At step 8, only trials 2 and 3 count (values 1/8): 0.3 is worse -> stop.
    expect(s.report(4, 8, { loss: 0.3 })).toMatchObject({ rule: 'median' });
    // Steps need not align: trial 5 reports at step 5, others reported 5 exactly or passed it.
    expect(s.report(5, 5, { loss: 0.1 })).toBeUndefined();
  });

  it('maximises too, and the average variant uses the mean', () => {
    const s = new EarlyStopper([{ kind: 'average', metric: 'acc', optimization: 'maximize', min_trials: 3, min_steps: 0, evaluation_interval: 1 }]);
    for (const [id, v] of [[0, 0.9], [1, 0.1], [2, 0.2]] as const) s.report(id, 1, { acc: v });
    // mean 0.4, median 0.2
    expect(s.report(3, 1, { acc: 0.3 })).toMatchObject({ rule: 'average' });
    expect(s.report(4, 1, { acc: 0.5 })).toBeUndefined();
  });
});

describe('truncation', () => {
  it('stops the worst percent of the trials that reached the step', () => {
    const s = new EarlyStopper([{ kind: 'truncation', metric: 'loss', optimization: 'minimize', percent: 25, min_trials: 4, min_steps: 0, evaluation_interval: 1 }]);
    for (const [id, v] of [[0, 0.1], [1, 0.2], [2, 0.3], [3, 0.4], [4, 0.5], [5, 0.6], [6, 0.7]] as const) s.report(id, 1, { loss: v });
    // 8 trials with this one: worst floor(8 * 0.25) = 2 stop.
    expect(s.report(7, 1, { loss: 0.65 })).toMatchObject({ rule: 'truncation' }); // rank 7 of 8
    expect(s.report(8, 1, { loss: 0.55 })).toBeUndefined(); // rank 6 of 9, worst 2 -> 8, 9
    expect(s.report(9, 1, { loss: 0.8 })).toMatchObject({ rule: 'truncation' });
  });

  it('ranks ties in favour of the trial', () => {
    const s = new EarlyStopper([{ kind: 'truncation', metric: 'loss', optimization: 'minimize', percent: 50, min_trials: 2, min_steps: 0, evaluation_interval: 1 }]);
    s.report(0, 1, { loss: 1 });
    s.report(1, 1, { loss: 1 });
    expect(s.report(2, 1, { loss: 1 })).toBeUndefined();
  });
});

describe('Polyaxon metric thresholds', () => {
  it('stop the whole search once any trial crosses the value, on intermediate or final results', () => {
    const s = new EarlyStopper([{ kind: 'metric', metric: 'accuracy', value: 0.9, optimization: 'maximize' }]);
    s.start(0);
    s.start(1);
    s.start(2);
    expect(s.report(0, 1, { accuracy: 0.5 })).toBeUndefined();
    expect(s.groupDecision()).toBeUndefined();
    const d = s.report(1, 3, { accuracy: 0.93 });
    expect(d).toMatchObject({ trialId: 1, scope: 'group', rule: 'metric', step: 3 });
    expect(s.decisions().map((x) => [x.trialId, x.scope])).toEqual([
      [0, 'group'],
      [1, 'group'],
      [2, 'group'],
    ]);
    s.close(0);
    expect(s.decision(0)).toBeUndefined();
    expect(s.groupDecision()!.reason).toContain('>= 0.9');
  });

  it('fire on final values and for minimisation', () => {
    const s = new EarlyStopper([{ kind: 'metric', metric: 'loss', value: 0.05, optimization: 'minimize' }]);
    s.complete(0, { loss: 0.2 });
    expect(s.groupDecision()).toBeUndefined();
    s.start(1);
    s.complete(2, { loss: 0.05 });
    expect(s.groupDecision()).toMatchObject({ trialId: 2, scope: 'group' });
    expect(s.decision(1)).toMatchObject({ trialId: 1, scope: 'group' });
  });

  it('ignore other metrics and non-finite values', () => {
    const s = new EarlyStopper([{ kind: 'metric', metric: 'loss', value: 0.05, optimization: 'minimize' }]);
    s.report(0, 1, { accuracy: 0, loss: NaN });
    expect(s.groupDecision()).toBeUndefined();
  });
});

describe('EarlyStopper state', () => {
  it('survives a JSON round trip and refuses reports on closed trials', () => {
    const rules = [median({ min_trials: 1 })];
    const s = new EarlyStopper(rules);
    feed(s, [0], 3, () => 0.1);
    s.report(1, 1, { loss: 0.5 });
    const copy = EarlyStopper.fromJSON(rules, JSON.parse(JSON.stringify(s.toJSON())));
    expect(copy.decisions()).toEqual(s.decisions());
    expect(copy.report(2, 2, { loss: 5 })).toEqual(s.report(2, 2, { loss: 5 }));
    s.close(2);
    expect(() => s.report(2, 3, { loss: 1 })).toThrow('no longer running');
    expect(() => s.report(3, NaN, { loss: 1 })).toThrow('finite');
  });
});
