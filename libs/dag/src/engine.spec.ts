import type { TriggerPolicy } from '@myelin/spec';
import { createPipelineEngine, EngineOptions, EngineSnapshot, EngineSnapshotV1, EngineSnapshotV2, PipelineEngine, restorePipelineEngine } from './engine';
import { buildPipelineGraph, PipelineGraph } from './graph';
import type { DagOpInput, Decisions, PipelineInput } from './types';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const S = 1000;

const engineFor = (
  ops: DagOpInput[],
  extra: Partial<PipelineInput> = {},
  options: EngineOptions = {},
): PipelineEngine => createPipelineEngine(buildPipelineGraph({ ops, ...extra }), options);
const ops = (ds: Array<{ op: string }>): string[] => ds.map((d) => d.op).sort();

/** Only the non-empty fields, with op lists reduced to names (reasons are checked separately). */
function brief(d: Decisions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (d.start.length) out.start = d.start.map((x) => (x.attempt > 1 ? `${x.op}#${x.attempt}` : x.op));
  if (d.skip.length) out.skip = ops(d.skip);
  if (d.upstreamFailed.length) out.upstreamFailed = ops(d.upstreamFailed);
  if (d.retryAt.length) out.retryAt = d.retryAt.map((x) => `${x.op}#${x.attempt}@+${(x.at - T0) / S}s`);
  if (d.stop.length) out.stop = ops(d.stop);
  if (d.stopped.length) out.stopped = ops(d.stopped);
  if (d.delayed.length) out.delayed = ops(d.delayed);
  if (d.queued.length) out.queued = d.queued;
  if (d.done) out.done = d.done.status;
  if (d.ignored) out.ignored = d.ignored;
  return out;
}

describe('trigger policies (a and b upstream of c)', () => {
  type Outcome = 'succeeded' | 'failed' | 'stopped' | 'skipped';
  /** Runs a and b, reports the given outcomes in order, returns what became of c. */
  function decide(trigger: TriggerPolicy, events: Array<['a' | 'b', Outcome]>): string {
    const e = engineFor([{ name: 'a' }, { name: 'b' }, { name: 'c', dependencies: ['a', 'b'], trigger }]);
    let c = 'waiting';
    const see = (d: Decisions): void => {
      if (d.start.some((x) => x.op === 'c')) c = 'start';
      if (d.skip.some((x) => x.op === 'c')) c = 'skip';
      if (d.upstreamFailed.some((x) => x.op === 'c')) c = 'upstream_failed';
    };
    see(e.start(T0));
    for (const [op, st] of events) see(e.onStatus(op, st, T0 + S));
    return c;
  }

  const cases: Array<[TriggerPolicy, Array<['a' | 'b', Outcome]>, string]> = [
    [
      'all_succeeded',
      [
        ['a', 'succeeded'],
        ['b', 'succeeded'],
      ],
      'start',
    ],
    ['all_succeeded', [['a', 'succeeded']], 'waiting'],
    ['all_succeeded', [['a', 'failed']], 'upstream_failed'], // decided at once, b still running
    ['all_succeeded', [['a', 'stopped']], 'upstream_failed'],
    [
      'all_succeeded',
      [
        ['a', 'succeeded'],
        ['b', 'skipped'],
      ],
      'start',
    ], // a skipped branch is neutral
    [
      'all_failed',
      [
        ['a', 'failed'],
        ['b', 'failed'],
      ],
      'start',
    ],
    ['all_failed', [['a', 'failed']], 'waiting'],
    ['all_failed', [['a', 'succeeded']], 'skip'], // the failure branch is not taken
    [
      'all_failed',
      [
        ['a', 'failed'],
        ['b', 'stopped'],
      ],
      'skip',
    ],
    [
      'all_done',
      [
        ['a', 'failed'],
        ['b', 'succeeded'],
      ],
      'start',
    ],
    [
      'all_done',
      [
        ['a', 'stopped'],
        ['b', 'failed'],
      ],
      'start',
    ],
    ['all_done', [['a', 'failed']], 'waiting'],
    ['one_succeeded', [['a', 'succeeded']], 'start'], // does not wait for b
    ['one_succeeded', [['a', 'failed']], 'waiting'],
    [
      'one_succeeded',
      [
        ['a', 'failed'],
        ['b', 'succeeded'],
      ],
      'start',
    ],
    [
      'one_succeeded',
      [
        ['a', 'failed'],
        ['b', 'stopped'],
      ],
      'upstream_failed',
    ],
    ['one_failed', [['a', 'failed']], 'start'],
    ['one_failed', [['a', 'succeeded']], 'waiting'],
    [
      'one_failed',
      [
        ['a', 'succeeded'],
        ['b', 'succeeded'],
      ],
      'skip',
    ],
    ['one_done', [['b', 'failed']], 'start'],
    ['one_done', [['a', 'stopped']], 'start'],
    ['one_done', [], 'waiting'],
    ['one_done', [['a', 'skipped']], 'waiting'],
    [
      'one_done',
      [
        ['a', 'skipped'],
        ['b', 'skipped'],
      ],
      'skip',
    ], // every upstream skipped
  ];
  it.each(cases)('%s after %j: c is %s', (trigger, events, expected) => {
    expect(decide(trigger, events)).toBe(expected);
  });

  it('explains its decisions', () => {
    const e = engineFor([
      { name: 'a' },
      { name: 'b' },
      { name: 'c', dependencies: ['a', 'b'] },
      { name: 'd', dependencies: ['a', 'b'], trigger: 'one_failed' },
    ]);
    expect(e.start(T0).start).toEqual([
      { op: 'a', attempt: 1, reason: 'no upstream ops' },
      { op: 'b', attempt: 1, reason: 'no upstream ops' },
    ]);
    expect(e.view('c').reason).toBe('all_succeeded: 0 of 2 upstream ops succeeded, 2 not finished');
    e.onStatus('a', 'succeeded', T0 + S);
    const d = e.onStatus('b', 'failed', T0 + 2 * S);
    expect(d.upstreamFailed).toEqual([
      { op: 'c', reason: 'trigger cannot hold (all_succeeded: 1 of 2 upstream ops succeeded, 1 failed)' },
    ]);
    expect(d.start).toEqual([
      { op: 'd', attempt: 1, reason: 'one_failed: 1 of 2 upstream ops succeeded, 1 failed' },
    ]);
    expect(e.view('c')).toEqual({
      op: 'c',
      state: 'upstream_failed',
      attempt: 0,
      reason: 'trigger cannot hold (all_succeeded: 1 of 2 upstream ops succeeded, 1 failed)',
    });
  });
});

describe('a full run', () => {
  it('starts layer by layer and finishes once every op is final', () => {
    const e = engineFor([
      { name: 'prepare' },
      { name: 'train1', dependencies: ['prepare'] },
      { name: 'train2', dependencies: ['prepare'] },
      { name: 'report', dependencies: ['train1', 'train2'] },
    ]);
    expect(brief(e.start(T0))).toEqual({ start: ['prepare'] });
    expect(brief(e.onStatus('prepare', 'running', T0 + S))).toEqual({});
    expect(brief(e.onStatus('prepare', 'succeeded', T0 + 2 * S))).toEqual({ start: ['train1', 'train2'] });
    expect(brief(e.onStatus('train2', 'succeeded', T0 + 3 * S))).toEqual({});
    expect(brief(e.onStatus('train1', 'succeeded', T0 + 4 * S))).toEqual({ start: ['report'] });
    const last = e.onStatus('report', 'succeeded', T0 + 5 * S);
    expect(last.done).toEqual({
      status: 'succeeded',
      reason: '4 ops succeeded',
      at: T0 + 5 * S,
      counts: { succeeded: 4, failed: 0, upstream_failed: 0, skipped: 0, stopped: 0 },
    });
    expect(e.status).toBe('done');
    expect(brief(e.onStatus('report', 'succeeded', T0 + 6 * S))).toEqual({ ignored: 'the pipeline is done' });
  });

  it('fails the pipeline when an op fails, after deciding the rest', () => {
    const e = engineFor([
      { name: 'a' },
      { name: 'b', dependencies: ['a'] },
      { name: 'c', dependencies: ['b'] },
      { name: 'alert', dependencies: ['a'], trigger: 'one_failed' },
    ]);
    e.start(T0);
    expect(brief(e.onStatus('a', 'failed', T0 + S))).toEqual({
      start: ['alert'],
      upstreamFailed: ['b', 'c'],
    });
    const d = e.onStatus('alert', 'succeeded', T0 + 2 * S);
    expect(d.done).toMatchObject({
      status: 'failed',
      reason: 'op `a` failed (1 failed, 2 upstream_failed in all)',
    });
  });

  it('ignores duplicate, stale and premature statuses, saying why', () => {
    const e = engineFor([
      { name: 'a', max_retries: 1, retry_delay: 0 },
      { name: 'b', dependencies: ['a'] },
    ]);
    expect(brief(e.onStatus('a', 'succeeded', T0))).toEqual({ ignored: 'the pipeline has not started' });
    e.start(T0);
    expect(brief(e.onStatus('b', 'succeeded', T0))).toEqual({
      ignored: '`b` is waiting, not running: status `succeeded` ignored',
    });
    expect(brief(e.onStatus('a', 'failed', T0 + S))).toEqual({ retryAt: ['a#2@+1s'], start: ['a#2'] });
    expect(brief(e.onStatus('a', 'failed', T0 + S, { attempt: 1 }))).toEqual({
      ignored: 'status `failed` is for attempt 1 of `a`, whose current attempt is 2',
    });
    expect(brief(e.onStatus('a', 'succeeded', T0 + 2 * S, { attempt: 2 }))).toEqual({ start: ['b'] });
    expect(brief(e.onStatus('a', 'succeeded', T0 + 2 * S))).toEqual({ ignored: '`a` is already succeeded' });
    expect(() => e.onStatus('nope', 'succeeded', T0)).toThrow('no op named `nope` in this pipeline');
    expect(brief(e.start(T0))).toEqual({ ignored: 'the pipeline is already running' });
  });
});

describe('conditions', () => {
  const flow = (): DagOpInput[] => [
    { name: 'train' },
    {
      name: 'evaluate',
      dependencies: ['train'],
      trigger: 'all_done',
      params: { model: '{{ ops.train.outputs.model }}' },
      conditions: [{ kind: 'status', op: 'train', trigger: 'succeeded' }],
    },
    {
      name: 'publish',
      dependencies: ['evaluate'],
      conditions: [{ kind: 'outputs', op: 'evaluate', exp: 'eq', params: [['passed', true]] }],
    },
    {
      name: 'notify',
      dependencies: ['evaluate'],
      trigger: 'all_done',
      conditions: [{ kind: 'outputs', op: 'evaluate', exp: 'ne', params: [['passed', true]] }],
    },
  ];

  it('runs the branch whose outputs condition holds', () => {
    const e = engineFor(flow());
    e.start(T0);
    expect(brief(e.onStatus('train', 'succeeded', T0 + S, { outputs: { model: '/m' } }))).toEqual({
      start: ['evaluate'],
    });
    const d = e.onStatus('evaluate', 'succeeded', T0 + 2 * S, { outputs: { passed: true } });
    expect(brief(d)).toEqual({ start: ['publish'], skip: ['notify'] });
    expect(d.skip[0].reason).toBe(
      'condition not met: `evaluate.outputs.passed` != true (`evaluate` succeeded)',
    );
    expect(d.start[0].reason).toBe(
      'all_succeeded: 1 of 1 upstream ops succeeded; conditions hold: `evaluate.outputs.passed` == true',
    );
  });

  it('compares string outputs with the written value', () => {
    const e = engineFor(flow());
    e.start(T0);
    e.onStatus('train', 'succeeded', T0 + S);
    expect(brief(e.onStatus('evaluate', 'succeeded', T0 + 2 * S, { outputs: { passed: 'false' } }))).toEqual({
      start: ['notify'],
      skip: ['publish'],
    });
  });

  it('skips an op whose status condition is false, and the skip spreads only where asked', () => {
    const e = engineFor([
      ...flow(),
      { name: 'cleanup', dependencies: ['evaluate', 'train'], trigger: 'all_done' },
      {
        name: 'strict',
        dependencies: ['evaluate', 'train'],
        trigger: 'all_done',
        skip_on_upstream_skip: true,
      },
    ]);
    e.start(T0);
    const d = e.onStatus('train', 'failed', T0 + S);
    // evaluate's trigger (all_done) holds but its condition does not: skipped, not upstream_failed
    expect(brief(d)).toEqual({ skip: ['evaluate', 'notify', 'publish', 'strict'], start: ['cleanup'] });
    expect(d.skip.find((x) => x.op === 'evaluate')!.reason).toBe(
      'condition not met: `train` succeeded (`train` failed)',
    );
    expect(d.skip.find((x) => x.op === 'publish')!.reason).toBe(
      'its only upstream op `evaluate` was skipped',
    );
    expect(d.skip.find((x) => x.op === 'strict')!.reason).toBe(
      'upstream op `evaluate` was skipped (skip_on_upstream_skip)',
    );
    expect(brief(e.onStatus('cleanup', 'succeeded', T0 + 2 * S))).toEqual({ done: 'failed' });
  });

  it('waits for the ops a condition reads even when the trigger already holds', () => {
    const e = engineFor([
      { name: 'a' },
      { name: 'b' },
      {
        name: 'c',
        dependencies: ['a', 'b'],
        trigger: 'one_succeeded',
        conditions: [{ kind: 'status', op: 'b', trigger: 'done' }],
      },
    ]);
    e.start(T0);
    expect(brief(e.onStatus('a', 'succeeded', T0 + S))).toEqual({});
    expect(e.view('c').reason).toBe(
      'one_succeeded: 1 of 2 upstream ops succeeded, 1 not finished; waiting for 1 op(s) its params or conditions read',
    );
    expect(brief(e.onStatus('b', 'failed', T0 + 2 * S))).toEqual({ start: ['c'] });
  });

  it('needs the outputs its params reference: a failed producer makes the op upstream_failed', () => {
    const e = engineFor([
      { name: 'a' },
      { name: 'b' },
      { name: 'c', dependencies: ['a'], trigger: 'one_done', params: { x: '{{ ops.b.outputs.y }}' } },
    ]);
    e.start(T0);
    expect(brief(e.onStatus('a', 'succeeded', T0 + S))).toEqual({});
    const d = e.onStatus('b', 'failed', T0 + 2 * S);
    expect(d.upstreamFailed).toEqual([
      { op: 'c', reason: 'needs the outputs of `b`, which did not succeed' },
    ]);
  });
});

describe('one event, one consistent picture', () => {
  it.each([
    ['b before c', ['a', 'b', 'c']],
    ['c before b', ['a', 'c', 'b']],
  ])('decides c on the whole cascade of the event (%s)', (_label, order) => {
    // a succeeding makes b (one_failed) skipped; c holds on one_succeeded but is skipped with b
    const defs: Record<string, DagOpInput> = {
      a: { name: 'a' },
      b: { name: 'b', dependencies: ['a'], trigger: 'one_failed' },
      c: { name: 'c', dependencies: ['a', 'b'], trigger: 'one_succeeded', skip_on_upstream_skip: true },
    };
    const e = engineFor(order.map((n) => defs[n]));
    e.start(T0);
    const d = e.onStatus('a', 'succeeded', T0 + S);
    expect(brief(d)).toEqual({ skip: ['b', 'c'], done: 'succeeded' });
    expect(d.skip.find((x) => x.op === 'c')!.reason).toBe(
      'upstream op `b` was skipped (skip_on_upstream_skip)',
    );
  });
});

describe('retries', () => {
  it('retries with exponential backoff capped at max_retry_delay, then fails', () => {
    const e = engineFor([
      { name: 'a', max_retries: 3, retry_delay: 10, retry_exp_backoff: true, max_retry_delay: 25 },
      { name: 'b', dependencies: ['a'] },
    ]);
    e.start(T0);
    let d = e.onStatus('a', 'failed', T0);
    expect(brief(d)).toEqual({ retryAt: ['a#2@+10s'] });
    expect(d.retryAt[0].reason).toBe('attempt 1 failed; retry 1 of 3 after 10s');
    expect(d.wakeAt).toBe(T0 + 10 * S);
    expect(e.view('a')).toMatchObject({
      state: 'retrying',
      attempt: 1,
      reason: `attempt 2 at ${new Date(T0 + 10 * S).toISOString()}`,
    });
    expect(brief(e.tick(T0 + 10 * S - 1))).toEqual({});
    d = e.tick(T0 + 10 * S);
    expect(brief(d)).toEqual({ start: ['a#2'] });
    expect(d.start[0].reason).toBe('retry 1 of 3');
    expect(brief(e.onStatus('a', 'failed', T0 + 10 * S))).toEqual({ retryAt: ['a#3@+30s'] }); // 10 * 2
    e.tick(T0 + 30 * S);
    expect(brief(e.onStatus('a', 'failed', T0 + 30 * S))).toEqual({ retryAt: ['a#4@+55s'] }); // 10 * 4 = 40, capped at 25
    e.tick(T0 + 55 * S);
    d = e.onStatus('a', 'failed', T0 + 60 * S);
    expect(brief(d)).toEqual({ upstreamFailed: ['b'], done: 'failed' });
    expect(e.view('a')).toMatchObject({
      state: 'failed',
      attempt: 4,
      reason: 'failed on attempt 4 (no retries left)',
    });
  });

  it('uses a fixed delay without backoff and succeeds on a later attempt', () => {
    const e = engineFor([{ name: 'a', max_retries: 2, retry_delay: 5 }]);
    e.start(T0);
    expect(brief(e.onStatus('a', 'failed', T0))).toEqual({ retryAt: ['a#2@+5s'] });
    e.tick(T0 + 5 * S);
    expect(brief(e.onStatus('a', 'failed', T0 + 6 * S))).toEqual({ retryAt: ['a#3@+11s'] });
    e.tick(T0 + 11 * S);
    const d = e.onStatus('a', 'succeeded', T0 + 12 * S);
    expect(d.done?.status).toBe('succeeded');
    expect(e.view('a').reason).toBe('succeeded on attempt 3');
  });

  it('does not retry a stopped op', () => {
    const e = engineFor([{ name: 'a', max_retries: 2 }]);
    e.start(T0);
    expect(brief(e.onStatus('a', 'stopped', T0))).toEqual({ done: 'stopped' });
  });
});

describe('concurrency', () => {
  it('keeps a ready queue within the pipeline concurrency', () => {
    const e = engineFor(
      [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }, { name: 'e', dependencies: ['a'] }],
      { concurrency: 2 },
    );
    expect(brief(e.start(T0))).toEqual({ start: ['a', 'b'], queued: ['c', 'd'] });
    expect(e.readyQueue()).toEqual(['c', 'd']);
    expect(e.view('c').reason).toBe('waiting for a pipeline concurrency slot (2 of 2 running)');
    // e becomes ready behind c and d
    expect(brief(e.onStatus('a', 'succeeded', T0 + S))).toEqual({ start: ['c'], queued: ['e'] });
    expect(e.readyQueue()).toEqual(['d', 'e']);
    expect(brief(e.onStatus('b', 'succeeded', T0 + 2 * S))).toEqual({ start: ['d'] });
    expect(brief(e.onStatus('c', 'succeeded', T0 + 3 * S))).toEqual({ start: ['e'] });
    expect(e.runningCount).toBe(2);
  });

  it('holds an op at its op-level concurrency across pipeline runs until tick', () => {
    const elsewhere = new Map([['train', 2]]);
    const e = engineFor(
      [{ name: 'train', concurrency: 2 }, { name: 'other' }],
      {},
      { runningElsewhere: (op) => elsewhere.get(op) ?? 0 },
    );
    expect(brief(e.start(T0))).toEqual({ start: ['other'], queued: ['train'] });
    expect(e.view('train')).toMatchObject({
      state: 'blocked',
      reason: 'op concurrency 2 reached in other runs of the pipeline',
    });
    expect(brief(e.tick(T0 + S))).toEqual({});
    elsewhere.set('train', 1);
    expect(brief(e.tick(T0 + 2 * S))).toEqual({ start: ['train'] });
  });

  it('forgets a blocked op that the caller stopped', () => {
    const e = engineFor(
      [
        { name: 'x', concurrency: 1 },
        { name: 'y', dependencies: ['x'], trigger: 'all_done' },
      ],
      {},
      { runningElsewhere: () => 1 },
    );
    expect(brief(e.start(T0))).toEqual({ queued: ['x'] });
    expect(brief(e.onStatus('x', 'stopped', T0 + S))).toEqual({ start: ['y'] });
    expect(e.readyQueue()).toEqual([]);
    expect(e.toJSON()).toMatchObject({ queue: [], blocked: [] });
    expect(brief(e.tick(T0 + 2 * S))).toEqual({});
    expect(e.view('x').state).toBe('stopped');
  });

  it('does not let a blocked op hold up the queue', () => {
    const e = engineFor(
      [{ name: 'x', concurrency: 1 }, { name: 'y' }],
      { concurrency: 1 },
      { runningElsewhere: () => 1 },
    );
    expect(brief(e.start(T0))).toEqual({ start: ['y'], queued: ['x'] });
  });
});

describe('admitAhead: ops handed to an executor that holds them at the limit', () => {
  const five = [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }, { name: 'e' }];

  it('starts up to concurrency + admitAhead ops, then one per op that ends', () => {
    const e = engineFor(five, { concurrency: 2 }, { admitAhead: 2 });
    expect(brief(e.start(T0))).toEqual({ start: ['a', 'b', 'c', 'd'], queued: ['e'] });
    expect(e.runningCount).toBe(4);
    expect(e.view('e').reason).toBe(
      "waiting for a pipeline concurrency slot (4 started: 2 may run at once, 2 more may wait in the executor's queue)",
    );
    expect(brief(e.onStatus('a', 'succeeded', T0 + S))).toEqual({ start: ['e'] });
    for (const op of ['b', 'c', 'd']) expect(brief(e.onStatus(op, 'succeeded', T0 + 2 * S))).toEqual({});
    expect(brief(e.onStatus('e', 'succeeded', T0 + 3 * S))).toEqual({ done: 'succeeded' });
  });

  it('keeps an op with a timeout or an op concurrency at the limit, and the ops behind it too', () => {
    const e = engineFor(
      [{ name: 'a' }, { name: 'b' }, { name: 'timed', timeout: 60 }, { name: 'c' }],
      { concurrency: 2 },
      { admitAhead: 5 },
    );
    // `timed` would have its clock run while it waits in the executor's queue: it waits here, in order.
    expect(brief(e.start(T0))).toEqual({ start: ['a', 'b'], queued: ['timed', 'c'] });
    expect(brief(e.onStatus('a', 'succeeded', T0 + S))).toEqual({ start: ['timed', 'c'] });

    const limited = engineFor(
      [{ name: 'a' }, { name: 'x', concurrency: 3 }, { name: 'c' }],
      { concurrency: 1 },
      { admitAhead: 5, runningElsewhere: () => 0 },
    );
    expect(brief(limited.start(T0))).toEqual({ start: ['a'], queued: ['x', 'c'] });
    expect(brief(limited.onStatus('a', 'succeeded', T0 + S))).toEqual({ start: ['x', 'c'] });
  });

  it('changes nothing without a pipeline concurrency, and nothing at 0', () => {
    expect(brief(engineFor(five, {}, { admitAhead: 3 }).start(T0))).toEqual({ start: ['a', 'b', 'c', 'd', 'e'] });
    expect(brief(engineFor(five, { concurrency: 2 }, { admitAhead: 0 }).start(T0))).toEqual({
      start: ['a', 'b'],
      queued: ['c', 'd', 'e'],
    });
    expect(() => engineFor(five, { concurrency: 2 }, { admitAhead: -1 })).toThrow('admitAhead must be an integer >= 0, got -1');
  });

  it('continues from a snapshot with the option given again', () => {
    const e = engineFor(five, { concurrency: 1 }, { admitAhead: 1 });
    expect(brief(e.start(T0))).toEqual({ start: ['a', 'b'], queued: ['c', 'd', 'e'] });
    const again = restorePipelineEngine(e.graph, e.toJSON(), { admitAhead: 1 });
    expect(brief(again.onStatus('b', 'succeeded', T0 + S))).toEqual({ start: ['c'] });
    expect(again.runningCount).toBe(2);
  });
});

describe('times: execute_at and timeouts', () => {
  it('delays an op until its execute_at', () => {
    const at = T0 + 3600 * S;
    const e = engineFor([
      { name: 'a' },
      { name: 'b', dependencies: ['a'], execute_at: new Date(at).toISOString() },
    ]);
    e.start(T0);
    const d = e.onStatus('a', 'succeeded', T0 + S);
    expect(d.delayed).toEqual([{ op: 'b', until: at, reason: `execute_at ${new Date(at).toISOString()}` }]);
    expect(d.wakeAt).toBe(at);
    expect(brief(e.tick(at - 1))).toEqual({});
    expect(brief(e.tick(at))).toEqual({ start: ['b'] });
  });

  it('starts nothing before the pipeline execute_at', () => {
    const at = T0 + 60 * S;
    const e = engineFor([{ name: 'a' }], { execute_at: at });
    const d = e.start(T0);
    expect(brief(d)).toEqual({});
    expect(d.wakeAt).toBe(at);
    expect(e.status).toBe('scheduled');
    expect(brief(e.tick(at))).toEqual({ start: ['a'] });
  });

  it('asks to stop an attempt at its timeout and retries it as a failure', () => {
    const e = engineFor([{ name: 'a', timeout: 60, max_retries: 1, retry_delay: 1 }]);
    const d = e.start(T0);
    expect(d.start[0].timeoutAt).toBe(T0 + 60 * S);
    expect(d.wakeAt).toBe(T0 + 60 * S);
    const t = e.tick(T0 + 60 * S);
    expect(t.stop).toEqual([{ op: 'a', attempt: 1, reason: 'timed out after 60s' }]);
    expect(brief(e.tick(T0 + 61 * S))).toEqual({}); // asked once
    expect(brief(e.onStatus('a', 'stopped', T0 + 62 * S))).toEqual({ retryAt: ['a#2@+63s'] });
    e.tick(T0 + 63 * S);
    e.tick(T0 + 123 * S);
    const last = e.onStatus('a', 'stopped', T0 + 124 * S);
    expect(last.done?.status).toBe('failed');
    expect(e.view('a').reason).toBe('timed out on attempt 2 (no retries left)');
  });

  it('times out the whole pipeline: stops running ops, marks the rest stopped, fails', () => {
    const e = engineFor([{ name: 'a' }, { name: 'b', dependencies: ['a'] }, { name: 'c' }], {
      timeout: 100,
      concurrency: 1,
    });
    expect(brief(e.start(T0))).toEqual({ start: ['a'], queued: ['c'] });
    const d = e.tick(T0 + 100 * S);
    expect(brief(d)).toEqual({ stop: ['a'], stopped: ['b', 'c'] });
    expect(d.stop[0].reason).toBe('the pipeline timed out after 100s');
    const last = e.onStatus('a', 'stopped', T0 + 101 * S);
    expect(last.done).toMatchObject({ status: 'failed', reason: 'the pipeline timed out after 100s' });
  });
});

describe('stop', () => {
  it('stops running ops and never starts the others', () => {
    const e = engineFor([
      { name: 'a', max_retries: 3 },
      { name: 'b' },
      { name: 'c', dependencies: ['a', 'b'] },
    ]);
    e.start(T0);
    e.onStatus('b', 'succeeded', T0 + S);
    expect(brief(e.stop(T0 + 2 * S))).toEqual({ stop: ['a'], stopped: ['c'] });
    expect(brief(e.stop(T0 + 2 * S))).toEqual({ ignored: 'the pipeline is already stopping' });
    // a failure while stopping is final: no retry
    expect(brief(e.onStatus('a', 'failed', T0 + 3 * S))).toEqual({ done: 'stopped' });
  });

  it('finishes at once when nothing runs', () => {
    const e = engineFor([{ name: 'a' }]);
    expect(brief(e.stop(T0))).toEqual({ stopped: ['a'], done: 'stopped' });
  });

  it('accepts a manual skip of a waiting op and decides its downstream', () => {
    const e = engineFor([
      { name: 'a' },
      { name: 'b', dependencies: ['a'] },
      { name: 'c', dependencies: ['b'] },
    ]);
    e.start(T0);
    expect(brief(e.onStatus('b', 'skipped', T0))).toEqual({ skip: ['c'] });
    expect(brief(e.onStatus('a', 'succeeded', T0 + S))).toEqual({ done: 'succeeded' });
    expect(e.done?.reason).toBe('1 op succeeded, 2 skipped');
  });
});

/** A version 2 snapshot as version 1 wrote it (op names, an object per op, absolute times). */
function toV1(graph: PipelineGraph, snap: EngineSnapshotV2): EngineSnapshotV1 {
  const name = (v: number): string => graph.ops[v].name;
  const base = snap.startedAt ?? 0;
  const states = ['waiting', 'delayed', 'ready', 'blocked', 'running', 'retrying', 'succeeded', 'failed', 'upstream_failed', 'skipped', 'stopped'] as const;
  const ops: EngineSnapshotV1['ops'] = {};
  for (const [v, st, attempt, startedAt, until, timedOut, reason, outputs] of snap.ops) {
    ops[name(v)] = {
      state: states[st],
      attempt,
      ...(startedAt != null ? { startedAt: base + startedAt } : {}),
      ...(until != null ? { until: base + until } : {}),
      ...(timedOut ? { timedOut: true } : {}),
      ...(reason != null ? { reason } : {}),
      ...(outputs ? { outputs } : {}),
    };
  }
  for (const v of snap.queue) ops[name(v)] ??= { state: 'ready', attempt: 0 };
  return {
    ...snap,
    version: 1,
    firstFailed: snap.firstFailed !== undefined ? name(snap.firstFailed) : undefined,
    firstUpstreamFailed: snap.firstUpstreamFailed !== undefined ? name(snap.firstUpstreamFailed) : undefined,
    ops,
    queue: snap.queue.map(name),
    blocked: snap.blocked.map(name),
    timers: snap.timers.map((t) => ({ ...t, op: t.op !== undefined ? name(t.op) : undefined })),
    reused: snap.reused.map(name),
  };
}

describe('snapshots', () => {
  const graph = buildPipelineGraph({
    ops: [
      { name: 'a', max_retries: 1, retry_delay: 30 },
      { name: 'b', timeout: 600 },
      { name: 'c', dependencies: ['a', 'b'], execute_at: T0 + 3600 * S },
      { name: 'd', dependencies: ['a'], params: { x: '{{ ops.a.outputs.y }}' } },
    ],
    concurrency: 2,
  });
  const roundTrip = (e: PipelineEngine): PipelineEngine =>
    restorePipelineEngine(graph, JSON.parse(JSON.stringify(e.toJSON())));

  it('continues after a restart without deciding anything twice', () => {
    const live = createPipelineEngine(graph);
    let restored = createPipelineEngine(graph);
    const steps: Array<(e: PipelineEngine) => Decisions> = [
      (e) => e.start(T0),
      (e) => e.onStatus('a', 'failed', T0 + S),
      (e) => e.tick(T0 + 31 * S),
      (e) => e.onStatus('a', 'succeeded', T0 + 40 * S, { outputs: { y: 1 } }),
      (e) => e.tick(T0 + 601 * S),
      (e) => e.onStatus('b', 'succeeded', T0 + 602 * S),
      (e) => e.onStatus('d', 'succeeded', T0 + 603 * S),
      (e) => e.tick(T0 + 3600 * S),
      (e) => e.onStatus('c', 'succeeded', T0 + 3700 * S),
    ];
    for (const step of steps) {
      restored = roundTrip(restored);
      expect(step(restored)).toEqual(step(live));
      expect(restored.toJSON()).toEqual(live.toJSON());
    }
    expect(restored.done?.status).toBe('succeeded');
    expect(restored.outputsOf('a')).toEqual({ y: 1 });
  });

  it('writes ops as rows by index, leaves out ready ops at their first attempt, and is far smaller than version 1', () => {
    const wide = buildPipelineGraph({ ops: Array.from({ length: 200 }, (_, i) => ({ name: `op${i}` })), concurrency: 10 });
    const e = createPipelineEngine(wide);
    e.start(T0);
    for (let i = 0; i < 50; i++) e.onStatus(`op${i}`, 'succeeded', T0 + (i + 1) * S);
    const snap = e.toJSON();
    expect(snap.version).toBe(2);
    expect(snap.ops[0]).toEqual([0, 6, 1, 0, null, null, 'succeeded']); // op0: succeeded (code 6), attempt 1, started with the pipeline, its reason
    expect(snap.ops).toHaveLength(60); // 50 succeeded, 10 running; the 140 ready ones are in the queue only
    expect(snap.queue).toHaveLength(140);
    const restored = restorePipelineEngine(wide, JSON.parse(JSON.stringify(snap)));
    expect(restored.view('op199')).toMatchObject({ state: 'ready' });
    expect(restored.onStatus('op50', 'succeeded', T0 + 60 * S)).toEqual(e.onStatus('op50', 'succeeded', T0 + 60 * S));
    expect(JSON.stringify(snap).length).toBeLessThan(JSON.stringify(toV1(wide, snap)).length / 3);
  });

  it('still reads a version 1 snapshot (op names, an object per op) and continues from it', () => {
    const live = createPipelineEngine(graph);
    live.start(T0);
    live.onStatus('a', 'failed', T0 + S); // a retries in 30 s (a timer), b runs
    const v1 = toV1(graph, live.toJSON());
    expect(v1.ops['a']).toMatchObject({ state: 'retrying', attempt: 1 });
    const restored = restorePipelineEngine(graph, JSON.parse(JSON.stringify(v1)));
    expect(restored.toJSON()).toEqual(live.toJSON());
    expect(restored.tick(T0 + 31 * S)).toEqual(live.tick(T0 + 31 * S));
    expect(() => restorePipelineEngine(graph, { ...v1, version: 3 } as unknown as EngineSnapshot)).toThrow('unsupported engine snapshot version 3');
  });

  it('refuses a snapshot of another graph', () => {
    const other = buildPipelineGraph({ ops: [{ name: 'a' }] });
    const snap = createPipelineEngine(graph).toJSON();
    expect(() => restorePipelineEngine(other, snap)).toThrow(/the snapshot was taken on another graph/);
  });
});

describe('resume', () => {
  it('takes reused ops as succeeded and starts only what remains', () => {
    const graph = buildPipelineGraph({
      ops: [{ name: 'a' }, { name: 'b', dependencies: ['a'] }, { name: 'c', dependencies: ['b'] }],
    });
    const e = createPipelineEngine(graph, { resume: { reuse: ['a'], outputs: { a: { y: 1 } } } });
    const d = e.start(T0);
    expect(brief(d)).toEqual({ start: ['b'] });
    expect(d.reused).toEqual(['a']);
    expect(e.outputsOf('a')).toEqual({ y: 1 });
    e.onStatus('b', 'succeeded', T0 + S);
    expect(e.onStatus('c', 'succeeded', T0 + 2 * S).done?.counts.succeeded).toBe(3);
  });
});
