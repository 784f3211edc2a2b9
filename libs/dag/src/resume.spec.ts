import { createPipelineEngine } from './engine';
import { buildPipelineGraph } from './graph';
import { planResume } from './resume';

const T0 = Date.UTC(2024, 0, 1);

describe('planResume', () => {
  // prepare -> train -> evaluate -> publish, prepare -> stats, train -> alert (one_failed)
  const graph = buildPipelineGraph({
    ops: [
      { name: 'prepare' },
      { name: 'stats', dependencies: ['prepare'] },
      { name: 'train', dependencies: ['prepare'] },
      { name: 'evaluate', dependencies: ['train'], params: { m: '{{ ops.train.outputs.model }}' } },
      { name: 'publish', dependencies: ['evaluate'] },
      { name: 'alert', dependencies: ['train'], trigger: 'one_failed' },
      { name: 'cleanup', dependencies: ['stats', 'publish'], trigger: 'all_done' },
    ],
  });

  it('re-runs the failed op and what had not run, reuses the rest', () => {
    const plan = planResume(
      graph,
      {
        prepare: 'succeeded',
        stats: 'succeeded',
        train: 'failed',
        evaluate: 'upstream_failed',
        publish: 'upstream_failed',
        alert: 'succeeded',
        cleanup: 'succeeded',
      },
      { prepare: { rows: 10 } },
    );
    expect(plan.reuse).toEqual(['prepare', 'stats']);
    expect(plan.rerun).toEqual(['train', 'evaluate', 'alert', 'publish', 'cleanup']);
    expect(plan.reasons).toEqual({
      prepare: 'succeeded in the previous run: reused',
      stats: 'succeeded in the previous run: reused',
      train: 'was failed: runs again',
      evaluate: 'was upstream_failed: runs again',
      publish: 'was upstream_failed: runs again',
      // ran because train failed: once train runs again its inputs change
      alert: 'succeeded, but its upstream op `train` runs again',
      cleanup: 'succeeded, but its upstream op `publish` runs again',
    });
    expect(plan.outputs).toEqual({ prepare: { rows: 10 } });
  });

  it('drives a new run that starts only the re-run ops', () => {
    const plan = planResume(graph, {
      prepare: 'succeeded',
      stats: 'succeeded',
      train: 'failed',
      evaluate: 'upstream_failed',
      publish: 'upstream_failed',
      alert: 'succeeded',
      cleanup: 'succeeded',
    });
    const e = createPipelineEngine(graph, { resume: plan });
    const started: string[] = [];
    let d = e.start(T0);
    expect(d.reused).toEqual(['prepare', 'stats']);
    const queue = d.start.map((x) => x.op);
    for (let t = 1; queue.length; t++) {
      const op = queue.shift()!;
      started.push(op);
      d = e.onStatus(op, 'succeeded', T0 + t * 1000);
      queue.push(...d.start.map((x) => x.op));
    }
    expect(started).toEqual(['train', 'evaluate', 'publish', 'cleanup']);
    expect(e.view('alert')).toMatchObject({ state: 'skipped' }); // train succeeded this time
    expect(e.done).toMatchObject({ status: 'succeeded', counts: { succeeded: 6, skipped: 1 } });
  });

  it('treats ops without a status as not run, and re-decides skipped ops', () => {
    const plan = planResume(graph, { prepare: 'succeeded', stats: 'skipped' });
    expect(plan.reuse).toEqual(['prepare']);
    expect(plan.reasons.stats).toBe('was skipped: decided again');
    expect(plan.reasons.train).toBe('did not run');
  });

  it('refuses a run that is not finished, and unknown ops', () => {
    expect(() => planResume(graph, { prepare: 'running' })).toThrow(
      'the previous run is not finished: op `prepare` is running',
    );
    expect(() => planResume(graph, { prepar: 'succeeded' })).toThrow(
      'no op named `prepar` in this pipeline; did you mean `prepare`?',
    );
  });
});
