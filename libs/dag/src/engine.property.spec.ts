/**
 * Property tests: random DAGs, random policies, random outcomes, a random interleaving of events,
 * random restarts from snapshots. A naive oracle (array scans over the upstream statuses, no
 * counters) judges every decision.
 */
import fc from 'fast-check';
import type { OpCondition, ParamValue, TriggerPolicy } from '@myelin/spec';
import { createPipelineEngine, PipelineEngine, restorePipelineEngine } from './engine';
import { buildPipelineGraph, PipelineGraph, TRIGGER_POLICIES } from './graph';
import { conditionHolds, StatusClass } from './policy';
import type { DagOpInput, Decisions, PipelineDone } from './types';

type Final = 'succeeded' | 'failed' | 'upstream_failed' | 'skipped' | 'stopped';
type Outcome = 'succeeded' | 'failed' | 'stopped';

interface OpGen {
  deps: number[];
  trigger: TriggerPolicy;
  skipOnUpstreamSkip: boolean;
  maxRetries: number;
  retryDelay: number;
  backoff: boolean;
  condition: {
    kind: 'status' | 'outputs';
    pick: number;
    trigger: 'succeeded' | 'failed' | 'done';
    exp: 'eq' | 'ne';
  } | null;
  dataRef: number | null;
  outcomes: Outcome[];
  ok: boolean;
}

const opGen: fc.Arbitrary<OpGen> = fc.record({
  deps: fc.uniqueArray(fc.nat(30), { maxLength: 3 }),
  trigger: fc.constantFrom(...TRIGGER_POLICIES),
  skipOnUpstreamSkip: fc.boolean(),
  maxRetries: fc.nat(2),
  retryDelay: fc.nat(3),
  backoff: fc.boolean(),
  condition: fc.option(
    fc.record({
      kind: fc.constantFrom('status' as const, 'outputs' as const),
      pick: fc.nat(30),
      trigger: fc.constantFrom('succeeded' as const, 'failed' as const, 'done' as const),
      exp: fc.constantFrom('eq' as const, 'ne' as const),
    }),
    { freq: 4 },
  ),
  dataRef: fc.option(fc.nat(30), { freq: 4 }),
  outcomes: fc.array(fc.constantFrom<Outcome>('succeeded', 'succeeded', 'failed', 'stopped'), {
    maxLength: 4,
  }),
  ok: fc.boolean(),
});

const scenario = fc.record({
  ops: fc.array(opGen, { minLength: 1, maxLength: 12 }),
  concurrency: fc.option(fc.integer({ min: 1, max: 3 }), { freq: 2 }),
  choices: fc.array(fc.nat(1000), { minLength: 64, maxLength: 64 }),
  restoreEvery: fc.option(fc.integer({ min: 1, max: 4 }), { freq: 2 }),
  admitAhead: fc.constantFrom(0, 0, 1, 3),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function buildInput(s: Scenario): DagOpInput[] {
  const name = (i: number): string => `op${i}`;
  return s.ops.map((o, i) => {
    const op: DagOpInput = {
      name: name(i),
      dependencies: i === 0 ? [] : [...new Set(o.deps.map((d) => name(i - 1 - (d % i))))],
      trigger: o.trigger,
      skip_on_upstream_skip: o.skipOnUpstreamSkip,
      max_retries: o.maxRetries,
      retry_delay: o.retryDelay,
      retry_exp_backoff: o.backoff,
    };
    if (i > 0 && o.condition) {
      const target = name(i - 1 - (o.condition.pick % i));
      const c: OpCondition =
        o.condition.kind === 'status'
          ? { kind: 'status', op: target, trigger: o.condition.trigger }
          : { kind: 'outputs', op: target, exp: o.condition.exp, params: [['ok', true]] };
      op.conditions = [c];
    }
    if (i > 0 && o.dataRef !== null)
      op.params = { x: `{{ ops.${name(i - 1 - (o.dataRef % i))}.outputs.ok }}` };
    return op;
  });
}

const classOf = (f: Final): StatusClass =>
  f === 'upstream_failed' ? 'failed' : f === 'succeeded' ? 'succeeded' : f === 'failed' ? 'failed' : f;

/** What the op should become given the final statuses known so far: the rules of README, written plainly. */
function oracle(
  g: PipelineGraph,
  op: string,
  status: Map<string, Final>,
  outputs: Map<string, Record<string, ParamValue>>,
): 'run' | 'wait' | 'skip' | 'upstream_failed' {
  const o = g.op(op);
  const ups = g.upstream(op);
  const st = (n: string): Final | undefined => status.get(n);
  const skipped = ups.filter((u) => st(u) === 'skipped');
  if (skipped.length && o.skipOnUpstreamSkip) return 'skip';
  if (ups.length && skipped.length === ups.length) return 'skip';
  const considered = ups.filter((u) => st(u) !== 'skipped');
  const succeeded = considered.filter((u) => st(u) === 'succeeded').length;
  const failed = considered.filter((u) => st(u) === 'failed' || st(u) === 'upstream_failed').length;
  const stopped = considered.filter((u) => st(u) === 'stopped').length;
  const pending = considered.filter((u) => st(u) === undefined).length;
  switch (o.trigger) {
    case 'all_succeeded':
      if (failed || stopped) return 'upstream_failed';
      if (pending) return 'wait';
      break;
    case 'all_failed':
      if (succeeded || stopped) return 'skip';
      if (pending) return 'wait';
      break;
    case 'all_done':
      if (pending) return 'wait';
      break;
    case 'one_succeeded':
      if (!succeeded && considered.length) return pending ? 'wait' : 'upstream_failed';
      break;
    case 'one_failed':
      if (!failed && considered.length) return pending ? 'wait' : 'skip';
      break;
    case 'one_done':
      if (considered.length && pending === considered.length) return 'wait';
      break;
  }
  const gates = [...o.conditions.map((c) => c.op), ...o.dataUpstream];
  if (gates.some((x) => st(x) === undefined)) return 'wait';
  for (const c of o.conditions) if (!conditionHolds(c, classOf(st(c.op)!), outputs.get(c.op))) return 'skip';
  if (o.dataUpstream.some((x) => st(x) === 'skipped')) return 'skip';
  if (o.dataUpstream.some((x) => st(x) !== 'succeeded')) return 'upstream_failed';
  return 'run';
}

function expectedDone(status: Map<string, Final>): PipelineDone['status'] {
  const all = [...status.values()];
  if (all.some((s) => s === 'failed' || s === 'upstream_failed')) return 'failed';
  if (all.includes('stopped')) return 'stopped';
  if (!all.includes('succeeded')) return 'skipped';
  return 'succeeded';
}

/** Drives one random run to its end, checking every decision against the oracle. */
function expectSoundRun(s: Scenario): void {
  const graph = buildPipelineGraph({ ops: buildInput(s), concurrency: s.concurrency ?? undefined });
  const gen = new Map(s.ops.map((o, i) => [`op${i}`, o]));
  const options = { admitAhead: s.admitAhead };
  let engine: PipelineEngine = createPipelineEngine(graph, options);
  const status = new Map<string, Final>();
  const outputs = new Map<string, Record<string, ParamValue>>();
  const running = new Map<string, number>();
  const attempts = new Map<string, number>();
  const finals = new Map<string, number>();
  const ready = new Set<string>();
  let now = Date.UTC(2024, 0, 1);
  let done: PipelineDone | undefined;
  const markFinal = (op: string, f: Final): void => {
    expect(status.has(op)).toBe(false);
    status.set(op, f);
    finals.set(op, (finals.get(op) ?? 0) + 1);
  };

  const apply = (d: Decisions): void => {
    for (const x of d.skip) markFinal(x.op, 'skipped');
    for (const x of d.upstreamFailed) markFinal(x.op, 'upstream_failed');
    // every decision is justified by the statuses known at the end of the event
    for (const x of d.skip)
      expect(['skip', 'upstream_failed']).toContain(oracle(graph, x.op, status, outputs));
    for (const x of d.upstreamFailed)
      expect(['skip', 'upstream_failed']).toContain(oracle(graph, x.op, status, outputs));
    // an op is judged when its trigger holds (it starts, or waits for a slot or its execute_at); once
    // ready it is committed, so concurrency limits never change what runs
    const admitted = [
      ...d.queued,
      ...d.delayed.map((x) => x.op),
      ...d.start.filter((x) => x.attempt === 1).map((x) => x.op),
    ].filter((op) => !ready.has(op));
    for (const op of admitted) {
      expect([op, oracle(graph, op, status, outputs)]).toEqual([op, 'run']);
      ready.add(op);
    }
    for (const x of d.start) {
      expect(status.has(x.op)).toBe(false);
      expect(running.has(x.op)).toBe(false);
      expect(x.attempt).toBe((attempts.get(x.op) ?? 0) + 1);
      expect(x.attempt).toBeLessThanOrEqual(graph.op(x.op).maxRetries + 1);
      attempts.set(x.op, x.attempt);
      running.set(x.op, x.attempt);
    }
    // ops past the concurrency are for an executor that holds them at it (admitAhead)
    expect(running.size).toBeLessThanOrEqual((s.concurrency ?? Infinity) + s.admitAhead);
    if (d.done) {
      expect(done).toBeUndefined();
      done = d.done;
    }
    // liveness: nothing decidable is left waiting
    for (const op of graph.topologicalOrder()) {
      if (engine.view(op).state === 'waiting')
        expect([op, oracle(graph, op, status, outputs)]).toEqual([op, 'wait']);
    }
  };

  // a twin that is never restored must decide exactly the same
  const twin = createPipelineEngine(graph, options);
  const both = (call: (e: PipelineEngine) => Decisions): Decisions => {
    const d = call(engine);
    expect(call(twin)).toEqual(d);
    return d;
  };
  let last = both((e) => e.start(now));
  apply(last);
  for (let steps = 0; !done; steps++) {
    expect(steps).toBeLessThan(400); // terminates
    if (s.restoreEvery && steps % s.restoreEvery === 0)
      engine = restorePipelineEngine(graph, JSON.parse(JSON.stringify(engine.toJSON())), options);
    now += 1000;
    let d: Decisions;
    if (running.size) {
      const names = [...running.keys()].sort();
      const op = names[s.choices[steps % s.choices.length] % names.length];
      const attempt = running.get(op)!;
      const g = gen.get(op)!;
      const outcome = g.outcomes[attempt - 1] ?? 'succeeded';
      const outs = { ok: g.ok };
      running.delete(op);
      d = both((e) => e.onStatus(op, outcome, now, { attempt, outputs: outs }));
      expect(d.ignored).toBeUndefined();
      if (outcome === 'succeeded') {
        outputs.set(op, outs);
        markFinal(op, 'succeeded');
      } else if (outcome === 'stopped') markFinal(op, 'stopped');
      else if (!d.retryAt.some((x) => x.op === op)) markFinal(op, 'failed');
      else expect(d.retryAt.find((x) => x.op === op)!.at).toBeGreaterThanOrEqual(now);
    } else {
      // nothing runs and the run is not done: a retry timer must be pending (never stuck)
      expect(last.wakeAt).toBeDefined();
      now = Math.max(now, last.wakeAt!);
      d = both((e) => e.tick(now));
    }
    apply(d);
    last = d;
  }
  // every op marked exactly once, as the engine sees it
  for (const op of graph.topologicalOrder()) {
    expect([op, finals.get(op)]).toEqual([op, 1]);
    expect(engine.view(op).state).toBe(status.get(op));
  }
  expect(done!.status).toBe(expectedDone(status));
  expect(engine.runningCount).toBe(0);
}

describe('engine properties', () => {
  it('terminates, starts nothing before its trigger holds, decides every op exactly once', () => {
    fc.assert(
      fc.property(scenario, (s) => expectSoundRun(s)),
      { numRuns: 300 },
    );
  });

  it('a stop at any point ends the run with every op final and nothing started after', () => {
    fc.assert(
      fc.property(scenario, fc.nat(20), (s, stopAfter) => {
        const graph = buildPipelineGraph({ ops: buildInput(s), concurrency: s.concurrency ?? undefined });
        const e = createPipelineEngine(graph);
        let now = 0;
        let d = e.start(now);
        const running = new Set(d.start.map((x) => x.op));
        for (let i = 0; i < stopAfter && running.size && !d.done; i++) {
          const op = [...running].sort()[0];
          running.delete(op);
          d = e.onStatus(op, 'succeeded', ++now);
          d.start.forEach((x) => running.add(x.op));
        }
        if (d.done) return;
        d = e.stop(++now);
        expect(d.stop.map((x) => x.op).sort()).toEqual([...running].sort());
        for (const op of [...running]) {
          d = e.onStatus(op, 'stopped', ++now);
          expect(d.start).toEqual([]);
        }
        expect(e.done?.status).toBe('stopped');
        for (const op of graph.topologicalOrder())
          expect(['succeeded', 'skipped', 'stopped']).toContain(e.view(op).state);
      }),
      { numRuns: 200 },
    );
  });
});

/**
 * Everything at once: op-level concurrency against a changing outside world, execute_at, timeouts,
 * manual skips and stops of ops, a pipeline stop, restarts. Checked: termination, one final status
 * per op, one start per attempt, limits, stops only for running attempts, and a never-restored twin
 * deciding exactly the same.
 */
const chaos = fc.record({
  base: scenario,
  extras: fc.array(
    fc.record({
      concurrency: fc.option(fc.integer({ min: 1, max: 2 }), { freq: 3 }),
      delay: fc.option(fc.nat(5), { freq: 3 }),
      timeout: fc.option(fc.integer({ min: 1, max: 6 }), { freq: 3 }),
    }),
    { minLength: 12, maxLength: 12 },
  ),
  actions: fc.array(fc.nat(99), { minLength: 64, maxLength: 64 }),
});

function expectChaosToSettle(c: typeof chaos extends fc.Arbitrary<infer T> ? T : never): void {
  const T0 = Date.UTC(2024, 0, 1);
  const input = buildInput(c.base).map((op, i) => {
    const x = c.extras[i];
    return {
      ...op,
      ...(x.concurrency !== null ? { concurrency: x.concurrency } : {}),
      ...(x.delay !== null ? { execute_at: T0 + x.delay * 1000 } : {}),
      ...(x.timeout !== null ? { timeout: x.timeout } : {}),
    };
  });
  const graph = buildPipelineGraph({ ops: input, concurrency: c.base.concurrency ?? undefined });
  const elsewhere = new Map<string, number>();
  const options = { runningElsewhere: (op: string) => elsewhere.get(op) ?? 0 };
  let engine = createPipelineEngine(graph, options);
  const twin = createPipelineEngine(graph, options);
  const both = (call: (e: PipelineEngine) => Decisions): Decisions => {
    const d = call(engine);
    expect(call(twin)).toEqual(d);
    return d;
  };
  const final = new Map<string, number>();
  const running = new Map<string, number>();
  const attempts = new Map<string, number>();
  const stopAsked = new Set<string>();
  let done = false;
  let now = T0;
  const mark = (op: string): void => {
    final.set(op, (final.get(op) ?? 0) + 1);
  };
  const apply = (d: Decisions): void => {
    d.skip.forEach((x) => mark(x.op));
    d.upstreamFailed.forEach((x) => mark(x.op));
    d.stopped.forEach((x) => mark(x.op));
    for (const x of d.stop) {
      expect(running.get(x.op)).toBe(x.attempt);
      stopAsked.add(x.op);
    }
    for (const x of d.start) {
      expect(final.has(x.op)).toBe(false);
      expect(running.has(x.op)).toBe(false);
      expect(x.attempt).toBe((attempts.get(x.op) ?? 0) + 1);
      const limit = graph.op(x.op).concurrency;
      if (limit !== undefined) expect(elsewhere.get(x.op) ?? 0).toBeLessThan(limit);
      attempts.set(x.op, x.attempt);
      running.set(x.op, x.attempt);
      const at = graph.op(x.op).executeAt;
      if (at !== undefined) expect(now).toBeGreaterThanOrEqual(at);
    }
    expect(running.size).toBeLessThanOrEqual(c.base.concurrency ?? Infinity);
    if (d.done) {
      expect(done).toBe(false);
      done = true;
    }
  };
  let last = both((e) => e.start(now));
  apply(last);
  for (let step = 0; !done; step++) {
    expect(step).toBeLessThan(500);
    const a = c.actions[step % c.actions.length];
    if (c.base.restoreEvery && step % c.base.restoreEvery === 0)
      engine = restorePipelineEngine(graph, JSON.parse(JSON.stringify(engine.toJSON())), options);
    now += 500;
    let d: Decisions;
    const names = graph.topologicalOrder();
    const open = names.filter((n) => !final.has(n) && !running.has(n));
    if (a < 3) {
      d = both((e) => e.stop(now));
    } else if (a < 10 && open.length) {
      const op = open[a % open.length];
      const st = a % 2 ? 'skipped' : 'stopped';
      d = both((e) => e.onStatus(op, st, now));
      if (!d.ignored) mark(op);
    } else if (a < 20) {
      for (const n of names) elsewhere.set(n, (a + n.length) % 3);
      d = both((e) => e.tick(now));
    } else if (running.size) {
      const op = [...running.keys()].sort()[a % running.size];
      const attempt = running.get(op)!;
      const outcome = stopAsked.has(op)
        ? 'stopped'
        : (['succeeded', 'succeeded', 'failed', 'stopped'] as const)[a % 4];
      running.delete(op);
      stopAsked.delete(op);
      d = both((e) => e.onStatus(op, outcome, now, { attempt, outputs: { ok: a % 2 === 0 } }));
      expect(d.ignored).toBeUndefined();
      if (!d.retryAt.some((x) => x.op === op)) mark(op);
    } else {
      if (last.wakeAt === undefined) elsewhere.clear(); // only the outside world can unblock an op
      now = Math.max(now, last.wakeAt ?? now);
      d = both((e) => e.tick(now));
    }
    apply(d);
    last = d;
  }
  for (const op of graph.topologicalOrder()) expect([op, final.get(op)]).toEqual([op, 1]);
  expect(running.size).toBe(0);
}

describe('engine properties under chaos', () => {
  it('settles with one final status per op whatever happens', () => {
    fc.assert(
      fc.property(chaos, (c) => expectChaosToSettle(c)),
      { numRuns: 300 },
    );
  });
});
