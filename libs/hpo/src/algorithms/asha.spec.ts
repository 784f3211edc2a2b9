import type { ASHA, HPTuning } from '@myelin/spec';
import { createOptimizer } from '../create';
import type { Trial } from '../core/types';
import { hp, MIN, withinSpace } from '../testing/helpers';

const matrix = { x: { kind: 'uniform' as const, low: 0, high: 1 } };
const section = (a: Partial<ASHA> = {}): Partial<HPTuning> => ({
  asha: { n_experiments: 30, resource: { name: 'steps', type: 'int' }, min_resource: 1, max_resource: 27, reduction_factor: 3, metric: MIN, ...a },
});

describe('asha', () => {
  it('promotes as soon as a trial is in the top 1/rf of its rung, without waiting for the rung', () => {
    const opt = createOptimizer(hp(matrix, section()));
    const trials: Trial[] = [];
    for (let i = 0; i < 4; i++) {
      const t = opt.ask()!;
      trials.push(t);
      opt.tell(t.id, { value: t.params.x as number });
    }
    // Three completed at rung 0 -> floor(3/3) = 1 promotable: the 4th ask promotes the best of them.
    const best = trials.slice(0, 3).sort((a, b) => (a.params.x as number) - (b.params.x as number))[0];
    expect(trials[3]).toMatchObject({ rung: 1, promotedFrom: best.id, resource: { name: 'steps', value: 3 } });
    expect(trials[3].params).toEqual({ x: best.params.x, steps: 3 });
  });

  it('starts n_experiments configurations, promotes until nothing qualifies, and finishes', () => {
    const opt = createOptimizer(hp(matrix, section()));
    const trials: Trial[] = [];
    for (let t = opt.ask(); t; t = opt.ask()) {
      trials.push(t);
      opt.tell(t.id, { value: t.params.x as number });
    }
    expect(opt.isFinished()).toBe(true);
    const perRung = [0, 1, 2, 3].map((r) => trials.filter((t) => t.rung === r).length);
    expect(perRung[0]).toBe(30);
    // Each rung gets at least its share (asynchronous promotions may add a few early ones).
    for (let r = 1; r < 4; r++) {
      expect(perRung[r]).toBeGreaterThanOrEqual(Math.floor(perRung[r - 1] / 3));
      expect(perRung[r]).toBeLessThanOrEqual(Math.ceil(perRung[r - 1] / 2));
    }
    expect(new Set(trials.filter((t) => t.rung === 0).map((t) => t.params.x)).size).toBe(30);
    for (const t of trials) expect(withinSpace(matrix, t.params, ['steps'])).toBe(true);
    // The top rung holds the best configuration.
    const top = trials.find((t) => t.rung === 3)!;
    expect(top.params.x).toBe(Math.min(...trials.map((t) => t.params.x as number)));
    expect(top.resource!.value).toBe(27);
  });

  it('never promotes failed trials and does not stall on failures', () => {
    const opt = createOptimizer(hp(matrix, section({ n_experiments: 12 }), { concurrency: 3 }));
    const failed = new Set<number>();
    let n = 0;
    for (let i = 0; i < 200 && !opt.isFinished(); i++) {
      const batch: Trial[] = [];
      for (let t = opt.ask(); t; t = opt.ask()) batch.push(t);
      for (const t of batch) {
        n++;
        if (t.rung === 0 && n % 2 === 0) {
          failed.add(t.id);
          opt.tell(t.id, { failed: true, error: 'OOM' });
        } else opt.tell(t.id, { value: t.params.x as number });
      }
    }
    expect(opt.isFinished()).toBe(true);
    for (const t of opt.trials()) if (t.promotedFrom !== undefined) expect(failed.has(t.promotedFrom)).toBe(false);
    expect(opt.progress().failed).toBe(failed.size);
  });
});
