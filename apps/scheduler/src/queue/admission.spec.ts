import { decideAdmission, demandOf, Limits, neverFits, parentConcurrencyOf, queueOrder, Quota, Verdict, WaitingRun } from './admission';

let seq = 0;
function run(fields: Partial<WaitingRun> = {}): WaitingRun {
  seq += 1;
  return {
    runUuid: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    project: 'alice/vision',
    number: seq,
    user: 'alice',
    teams: [],
    parentUuid: null,
    parentKind: null,
    parentConcurrency: null,
    demand: { cpu: 0, memoryMb: 0, gpu: 0 },
    priority: 0,
    queuedAt: seq,
    ...fields,
  };
}

const limits = (fields: Partial<Limits> = {}): Limits => ({ maxParallel: 100, perProject: null, quotas: [], ...fields });
const quota = (fields: Partial<Quota> & Pick<Quota, 'scope' | 'name'>): Quota => ({ maxRuns: null, cpu: null, memoryMb: null, gpu: null, ...fields });
const decisions = (verdicts: Verdict[]) => verdicts.map((v) => v.decision);
const messageOf = (v: Verdict | undefined) => (v && v.decision !== 'start' ? v.message : '');

describe('queue order', () => {
  it('puts higher priority first and keeps FIFO within a priority', () => {
    const a = run({ priority: 0, queuedAt: 1 });
    const b = run({ priority: 5, queuedAt: 3 });
    const c = run({ priority: 0, queuedAt: 2 });
    const d = run({ priority: 5, queuedAt: 2 });
    expect([a, b, c, d].sort(queueOrder).map((r) => r.number)).toEqual([d.number, b.number, a.number, c.number]);
  });
});

describe('admission', () => {
  it('starts runs while the global limit allows and says why the others wait', () => {
    const queue = [run(), run(), run()];
    const verdicts = decideAdmission(queue, [run()], limits({ maxParallel: 3 }));
    expect(decisions(verdicts)).toEqual(['start', 'start', 'wait']);
    expect(verdicts[2]).toMatchObject({ reason: 'GlobalLimit', message: 'waiting: 3 of 3 runs running (global limit)' });
  });

  it('holds a project at its limit while other projects start around it', () => {
    const running = [run(), run()];
    const queue = [run(), run({ project: 'bob/nlp', user: 'bob' })];
    const verdicts = decideAdmission(queue, running, limits({ perProject: 2 }));
    expect(decisions(verdicts)).toEqual(['wait', 'start']);
    expect(messageOf(verdicts[0])).toBe('waiting: project alice/vision has 2 of 2 runs running (project limit)');
  });

  it("enforces a group's hptuning.concurrency and a pipeline's concurrency", () => {
    const group = '11111111-1111-4111-8111-111111111111';
    const pipeline = '22222222-2222-4222-8222-222222222222';
    const trial = (f: Partial<WaitingRun> = {}) => run({ parentUuid: group, parentKind: 'group', parentConcurrency: 2, ...f });
    const op = (f: Partial<WaitingRun> = {}) => run({ parentUuid: pipeline, parentKind: 'pipeline', parentConcurrency: 1, ...f });
    const verdicts = decideAdmission([trial(), trial(), trial(), op(), op()], [], limits());
    expect(decisions(verdicts)).toEqual(['start', 'start', 'wait', 'start', 'wait']);
    expect(verdicts[2]).toMatchObject({ reason: 'GroupLimit' });
    expect(messageOf(verdicts[2])).toContain('2 of 2 trials running (hptuning.concurrency)');
    expect(verdicts[4]).toMatchObject({ reason: 'PipelineLimit' });
    expect(messageOf(verdicts[4])).toContain('1 of 1 ops running (pipeline concurrency)');
  });

  it('applies max-runs quotas per user, team and project', () => {
    const quotas = [
      quota({ scope: 'user', name: 'alice', maxRuns: 1 }),
      quota({ scope: 'team', name: 'acme/ml', maxRuns: 2 }),
      quota({ scope: 'project', name: 'carol/x', maxRuns: 1 }),
    ];
    const queue = [
      run({ user: 'alice' }),
      run({ user: 'alice' }),
      run({ user: 'bob', project: 'bob/p', teams: ['acme/ml'] }),
      run({ user: 'dan', project: 'dan/p', teams: ['acme/ml'] }),
      run({ user: 'erin', project: 'erin/p', teams: ['acme/ml'] }),
      run({ user: 'carol', project: 'carol/x' }),
      run({ user: 'frank', project: 'carol/x' }),
    ];
    const verdicts = decideAdmission(queue, [], limits({ quotas }));
    expect(decisions(verdicts)).toEqual(['start', 'wait', 'start', 'start', 'wait', 'start', 'wait']);
    expect(messageOf(verdicts[1])).toBe('waiting: user alice has 1 of 1 runs running (quota)');
    expect(messageOf(verdicts[4])).toBe('waiting: team acme/ml has 2 of 2 runs running (quota)');
    expect(messageOf(verdicts[6])).toBe('waiting: project carol/x has 1 of 1 runs running (quota)');
  });

  it('counts CPU, memory and GPU held by running runs against the quota', () => {
    const quotas = [quota({ scope: 'team', name: 'acme/ml', gpu: 4, cpu: 8, memoryMb: 16_000 })];
    const running = [run({ teams: ['acme/ml'], demand: { cpu: 4, memoryMb: 8000, gpu: 3 } })];
    const queue = [
      run({ teams: ['acme/ml'], demand: { cpu: 1, memoryMb: 1000, gpu: 2 } }),
      run({ teams: ['acme/ml'], demand: { cpu: 1, memoryMb: 9000, gpu: 0 }, user: 'bob', project: 'bob/p' }),
    ];
    const verdicts = decideAdmission(queue, running, limits({ quotas }));
    expect(verdicts[0]).toMatchObject({ decision: 'wait', reason: 'Quota', message: 'waiting: asks 2 GPU; team acme/ml uses 3 of 4 (quota)' });
    // The second run needs no GPU, but it is behind the first in the same quota: it does not jump ahead.
    expect(verdicts[1]).toMatchObject({ decision: 'wait', reason: 'Quota' });
    expect(messageOf(verdicts[1])).toContain('MB of memory');
  });

  it('keeps a resource quota strictly in order: a small run does not take what an earlier big one waits for', () => {
    const quotas = [quota({ scope: 'user', name: 'alice', gpu: 4 })];
    const running = [run({ demand: { cpu: 0, memoryMb: 0, gpu: 2 } })];
    const big = run({ demand: { cpu: 0, memoryMb: 0, gpu: 4 } });
    const small = run({ demand: { cpu: 0, memoryMb: 0, gpu: 1 } });
    const other = run({ user: 'bob', project: 'bob/p', demand: { cpu: 0, memoryMb: 0, gpu: 1 } });
    const verdicts = decideAdmission([big, small, other], running, limits({ quotas }));
    expect(decisions(verdicts)).toEqual(['wait', 'wait', 'start']);
    expect(verdicts[1]).toMatchObject({ reason: 'BehindInQuota', message: `waiting: behind run ${big.number}, which waits for the quota of user alice` });
  });

  it('marks a run that can never fit as unschedulable, with the reason, and lets the others start', () => {
    const quotas = [quota({ scope: 'team', name: 'acme/ml', gpu: 4 }), quota({ scope: 'project', name: 'alice/frozen', maxRuns: 0 })];
    const queue = [
      run({ teams: ['acme/ml'], demand: { cpu: 0, memoryMb: 0, gpu: 8 } }),
      run({ project: 'alice/frozen' }),
      run({ teams: ['acme/ml'], demand: { cpu: 0, memoryMb: 0, gpu: 4 } }),
    ];
    const verdicts = decideAdmission(queue, [], limits({ quotas, maxParallel: 1 }));
    expect(verdicts[0]).toEqual({ runUuid: queue[0].runUuid, decision: 'never', reason: 'Unschedulable', message: 'asks 8 GPU where the quota of team acme/ml allows 4' });
    expect(verdicts[1]).toMatchObject({ decision: 'never', message: 'the quota of project alice/frozen allows no runs' });
    expect(verdicts[2]).toEqual({ runUuid: queue[2].runUuid, decision: 'start' });
  });

  it('checks never-fit before the global limit (a full platform does not hide an impossible run)', () => {
    const quotas = [quota({ scope: 'user', name: 'alice', cpu: 2 })];
    const verdicts = decideAdmission([run({ demand: { cpu: 3, memoryMb: 0, gpu: 0 } })], [run({ user: 'x' })], limits({ quotas, maxParallel: 1 }));
    expect(verdicts[0]).toMatchObject({ decision: 'never', message: 'asks 3 CPU where the quota of user alice allows 2' });
  });

  it('ignores quotas of other users, teams and projects, and runs without a known submitter escape user quotas', () => {
    const quotas = [quota({ scope: 'user', name: 'bob', maxRuns: 0 }), quota({ scope: 'team', name: 'x/y', maxRuns: 0 })];
    expect(neverFits(run({ user: null }), quotas)).toBeNull();
    expect(neverFits(run({ user: 'bob' }), quotas)).toBe('the quota of user bob allows no runs');
    expect(decisions(decideAdmission([run(), run({ teams: ['x/z'] })], [], limits({ quotas })))).toEqual(['start', 'start']);
  });

  it('returns nothing for an empty queue and starts nothing at a zero free slot', () => {
    expect(decideAdmission([], [run()], limits())).toEqual([]);
    expect(decisions(decideAdmission([run()], [run(), run()], limits({ maxParallel: 2 })))).toEqual(['wait']);
  });
});

describe('admission: GPU devices of the host (local executor)', () => {
  const gpu = (n: number, f: Partial<WaitingRun> = {}) => run({ demand: { cpu: 0, memoryMb: 0, gpu: n }, ...f });

  it('starts GPU runs while devices are free and holds the next one with reason GpuDevices', () => {
    const queue = [gpu(2), gpu(1), gpu(2), run()];
    const verdicts = decideAdmission(queue, [gpu(1)], limits({ gpuDevices: { total: 4, free: 3 } }));
    expect(decisions(verdicts)).toEqual(['start', 'start', 'wait', 'start']);
    expect(verdicts[2]).toMatchObject({ reason: 'GpuDevices', message: 'waiting: asks 2 GPU; 0 of 4 devices free on this host' });
  });

  it('keeps GPU runs in order: a small one does not take the devices an earlier big one waits for; CPU runs go around', () => {
    const big = gpu(3);
    const verdicts = decideAdmission([big, gpu(1), run(), gpu(0.5, { project: 'bob/p', user: 'bob' })], [], limits({ gpuDevices: { total: 4, free: 2 } }));
    expect(decisions(verdicts)).toEqual(['wait', 'wait', 'start', 'wait']);
    expect(messageOf(verdicts[1])).toBe(`waiting: behind run ${big.number}, which waits for GPU devices`);
  });

  it('marks a run asking more GPUs than the host has unschedulable, also before a full platform', () => {
    const verdicts = decideAdmission([gpu(5), gpu(1), gpu(4)], [run()], limits({ maxParallel: 1, gpuDevices: { total: 4, free: 4 } }));
    expect(verdicts[0]).toEqual({ runUuid: expect.any(String), decision: 'never', reason: 'Unschedulable', message: 'asks 5 GPU where this host has 4 (MYELIN_GPU_DEVICES)' });
    expect(decisions(verdicts)).toEqual(['never', 'wait', 'wait']);
    const none = decideAdmission([gpu(0.5)], [], limits({ gpuDevices: { total: 0, free: 0 } }));
    expect(messageOf(none[0])).toBe('asks 1 GPU where this host has none (MYELIN_GPU_DEVICES is empty)');
  });

  it('names the quota first when a quota also holds the run', () => {
    const quotas = [quota({ scope: 'user', name: 'alice', gpu: 1 })];
    const verdicts = decideAdmission([gpu(2)], [], limits({ quotas, gpuDevices: { total: 1, free: 1 } }));
    expect(messageOf(verdicts[0])).toBe('asks 2 GPU where the quota of user alice allows 1');
  });

  it('counts no devices where the executor does not (Kubernetes: gpuDevices null)', () => {
    expect(decisions(decideAdmission([gpu(8), gpu(8)], [], limits({ gpuDevices: null })))).toEqual(['start', 'start']);
  });
});

describe('reading a compiled spec', () => {
  it('takes requests, else limits, for cpu, memory and gpu', () => {
    const spec = { raw: { environment: { resources: { cpu: { requests: 1.5, limits: 2 }, memory: { limits: 4096 }, gpu: { requests: 2 } } } } };
    expect(demandOf(spec)).toEqual({ cpu: 1.5, memoryMb: 4096, gpu: 2 });
  });

  it('asks nothing when the spec has no resources or nonsense values', () => {
    expect(demandOf({})).toEqual({ cpu: 0, memoryMb: 0, gpu: 0 });
    expect(demandOf(null)).toEqual({ cpu: 0, memoryMb: 0, gpu: 0 });
    expect(demandOf({ raw: { environment: { resources: { cpu: { requests: 'x' }, gpu: { limits: -1 } } } } })).toEqual({ cpu: 0, memoryMb: 0, gpu: 0 });
  });

  it("reads a trial's group concurrency", () => {
    expect(parentConcurrencyOf({ hptuning: { concurrency: 3 } })).toBe(3);
    expect(parentConcurrencyOf({ hptuning: {} })).toBeNull();
    expect(parentConcurrencyOf({ hptuning: { concurrency: 0 } })).toBeNull();
    expect(parentConcurrencyOf(undefined)).toBeNull();
  });
});
