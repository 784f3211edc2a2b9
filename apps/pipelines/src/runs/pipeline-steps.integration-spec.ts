import { randomUUID } from 'node:crypto';
import { PipelineOpCreate, PipelineStatusChanged, RunCreated, RunOutputsRead, RunStatusChanged } from '@myelin/contracts';
import { InProcessBus, MessageHandler } from '@myelin/bus';
import { openServiceDatabase, PIPELINES_SCHEMA, ServiceDatabase } from '@myelin/persistence';
import { AppHandle } from '@myelin/runtime';
import { checkPolyaxonfiles } from '@myelin/spec';
import { createTempDir, createTestDatabase, TempDir, TestDatabase, waitFor } from '@myelin/testing';
import { bootstrap } from '../bootstrap';

jest.setTimeout(60_000);

/**
 * The pipelines service alone on its own PostgreSQL database, the API stood in for on the
 * in-process bus (it answers PipelineOpCreate with a new op run and records the pipeline's
 * statuses): op runs that end together are decided together.
 */
describe('pipelines service: steps', () => {
  let app: AppHandle;
  let bus: InProcessBus;
  let db: TestDatabase;
  let side: ServiceDatabase;
  let runsDir: TempDir;
  const opRuns = new Map<string, string>(); // op name -> run uuid
  const pipelineStatuses: PipelineStatusChanged.Payload[] = [];
  const opParams = new Map<string, Record<string, unknown>>(); // op name -> params it was created with
  const outputsAsked: string[] = []; // run uuids tracking was asked about
  const opStatus = new Map<string, string>(); // op name -> the status the API stand-in reports for its run

  /** The scheduler's word that an op run of the pipeline succeeded. */
  const opSucceeded = (runUuid: string, pipelineUuid: string) =>
    bus.emit(RunStatusChanged.PATTERN, {
      runUuid,
      status: 'succeeded',
      reason: 'Succeeded',
      message: '',
      at: new Date().toISOString(),
      exitCode: 0,
      parentUuid: pipelineUuid,
      parentKind: 'pipeline',
    } satisfies RunStatusChanged.Payload);

  beforeAll(async () => {
    db = await createTestDatabase('myelin_pipeline_steps');
    runsDir = await createTempDir('myelin-pipeline-steps-runs');
    bus = new InProcessBus();
    await bus.consume(
      'api',
      new Map<string, MessageHandler>([
        [
          PipelineOpCreate.PATTERN,
          (async (r: PipelineOpCreate.Payload) => {
            const runUuid = opRuns.get(r.op) ?? randomUUID();
            opRuns.set(r.op, runUuid);
            opParams.set(r.op, r.params ?? {});
            return { runUuid, number: opRuns.size, status: r.mark ?? opStatus.get(r.op) ?? 'created' } satisfies PipelineOpCreate.Reply;
          }) as MessageHandler,
        ],
        [PipelineStatusChanged.PATTERN, (async (e: PipelineStatusChanged.Payload) => void pipelineStatuses.push(e)) as MessageHandler],
      ]),
    );
    // Stands in for tracking: the op runs' directories are not in this service's runs folder, so
    // their outputs are asked for. The first request about a `produce*` op run fails (tracking unavailable).
    await bus.consume(
      'tracking',
      new Map<string, MessageHandler>([
        [
          RunOutputsRead.PATTERN,
          (async (r: RunOutputsRead.Payload) => {
            const before = outputsAsked.includes(r.runUuid);
            outputsAsked.push(r.runUuid);
            if (!before && [opRuns.get('produce'), opRuns.get('produce-unheard')].includes(r.runUuid)) throw new Error('tracking is unavailable');
            // Not in the store yet (an S3 copy still running): twice for `produce-late`, always for `lonely`.
            if (r.runUuid === opRuns.get('lonely')) return { outputs: null } satisfies RunOutputsRead.Reply;
            if (r.runUuid === opRuns.get('produce-late') && outputsAsked.filter((u) => u === r.runUuid).length <= 2) return { outputs: null } satisfies RunOutputsRead.Reply;
            if (r.runUuid === opRuns.get('produce-late')) return { outputs: { seed: 9 } } satisfies RunOutputsRead.Reply;
            // `judge` (an outputs condition depends on it): not there on the first read.
            if (r.runUuid === opRuns.get('judge')) return (outputsAsked.filter((u) => u === r.runUuid).length <= 1 ? { outputs: null } : { outputs: { seed: 9 } }) satisfies RunOutputsRead.Reply;
            return { outputs: { seed: 7 } } satisfies RunOutputsRead.Reply;
          }) as MessageHandler,
        ],
      ]),
    );
    app = await bootstrap({
      env: { MYELIN_DATABASE_URL: db.url, MYELIN_PORT: '0', MYELIN_LOG_LEVEL: 'error', MYELIN_RUNS_DIR: runsDir.path, MYELIN_OP_CHECK_SECONDS: '1' },
      bus,
      listen: false,
    });
    side = await openServiceDatabase({ url: db.url, ...PIPELINES_SCHEMA });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await side?.close();
    await bus?.close();
    await db?.drop();
    await runsDir?.remove();
  });

  it('decides op runs that end together in fewer steps than there are endings, each ending logged once and in order', async () => {
    const width = 12;
    const lines = ['version: 1', 'kind: pipeline', 'name: wide', `concurrency: ${width}`, 'ops:'];
    for (let i = 0; i < width; i++) lines.push(`  - name: op${i}`, '    template: {name: t}');
    lines.push('templates:', '  - kind: experiment', '    name: t', '    run: {cmd: "true"}', '');
    const compiled = checkPolyaxonfiles([{ path: 'wide.yml', content: lines.join('\n') }]);
    if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
    const pipelineUuid = randomUUID();
    const pipeline = JSON.parse(JSON.stringify(compiled.spec)) as Record<string, unknown>;
    await bus.emit(RunCreated.PATTERN, { runUuid: pipelineUuid, project: 'alice/p', number: 1, kind: 'pipeline', at: new Date().toISOString(), pipeline } satisfies RunCreated.Payload);
    await waitFor(() => opRuns.size === width, { timeoutMs: 20_000, what: 'every op run to be asked for' });
    const actionsDone = async () =>
      Number(((await side.dataSource.query(`SELECT count(*)::int AS n FROM pipelines.actions WHERE pipeline_uuid = $1 AND done_at IS NOT NULL`, [pipelineUuid])) as Array<{ n: number }>)[0].n);
    await waitFor(async () => (await actionsDone()) === width, { timeoutMs: 20_000, what: 'every start action to be acknowledged' });

    // Every op run ends at the same moment.
    await Promise.all(
      [...opRuns.values()].map((runUuid) =>
        opSucceeded(runUuid, pipelineUuid),
      ),
    );
    await waitFor(() => pipelineStatuses.some((s) => s.pipelineUuid === pipelineUuid && s.status === 'succeeded'), { timeoutMs: 20_000, what: 'the pipeline to succeed' });

    const decisions = (await side.dataSource.query(`SELECT input, at::text AS at FROM pipelines.decisions WHERE pipeline_uuid = $1 ORDER BY id`, [pipelineUuid])) as Array<{
      input: { type: string; op?: string };
      at: string; // to the microsecond: now() is the transaction's start
    }>;
    const endings = decisions.filter((d) => d.input.type === 'status');
    // Each ending decided once.
    expect(endings.map((d) => d.input.op).sort()).toEqual([...opRuns.keys()].sort());
    // One transaction per step, so the decisions of one step share its start time: fewer steps than endings.
    const steps = new Set(endings.map((d) => d.at));
    expect(steps.size).toBeLessThan(width);
    // The last ending of the last step finished the pipeline.
    expect(pipelineStatuses.filter((s) => s.pipelineUuid === pipelineUuid).map((s) => s.status)).toEqual(['running', 'succeeded']);
  });

  /** A pipeline (`name`) with the given `ops:` lines over two templates, `produce` (output `seed`) and `consume` (input `seed`); created now, its uuid returned once `first` is asked for. */
  const startPipeline = async (name: string, ops: string[], first: string, number: number): Promise<string> => {
    const spec = [
      'version: 1',
      'kind: pipeline',
      `name: ${name}`,
      'ops:',
      ...ops,
      'templates:',
      '  - kind: experiment',
      '    name: produce',
      '    outputs: [{name: seed, type: int}]',
      '    run: {cmd: "true"}',
      '  - kind: experiment',
      '    name: consume',
      '    inputs: [{name: seed, type: int}]',
      '    run: {cmd: "echo {{ seed }}"}',
      '',
    ].join('\n');
    const compiled = checkPolyaxonfiles([{ path: `${name}.yml`, content: spec }]);
    if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
    const pipelineUuid = randomUUID();
    const pipeline = JSON.parse(JSON.stringify(compiled.spec)) as Record<string, unknown>;
    await bus.emit(RunCreated.PATTERN, { runUuid: pipelineUuid, project: 'alice/p', number, kind: 'pipeline', at: new Date().toISOString(), pipeline } satisfies RunCreated.Payload);
    await waitFor(() => opRuns.has(first), { timeoutMs: 20_000, what: 'the first op run to be asked for' });
    return pipelineUuid;
  };
  /** Two ops, `<produce>` passing its output `seed` to `<consume>` (and `extra` ops). */
  const startProducerConsumer = (produce: string, consume: string, number: number, extra: string[] = []): Promise<string> =>
    startPipeline(
      produce,
      [`  - name: ${produce}`, '    template: {name: produce}', `  - name: ${consume}`, '    template: {name: consume}', `    params: {seed: "{{ ops.${produce}.outputs.seed }}"}`, ...extra],
      produce,
      number,
    );

  it("passes outputs read through tracking, asking again when tracking did not answer (no 'missing upstream outputs')", async () => {
    const pipelineUuid = await startProducerConsumer('produce', 'consume', 2);
    const produced = opRuns.get('produce')!;
    const acknowledged = async () =>
      Number(((await side.dataSource.query(`SELECT count(*)::int AS n FROM pipelines.actions WHERE run_uuid = $1 AND done_at IS NOT NULL`, [produced])) as Array<{ n: number }>)[0].n);
    await waitFor(async () => (await acknowledged()) === 1, { timeoutMs: 20_000, what: 'the start of the first op acknowledged' });
    await opSucceeded(produced, pipelineUuid);
    await waitFor(() => opParams.has('consume'), { timeoutMs: 20_000, what: 'the second op run to be asked for' });
    expect(opParams.get('consume')).toEqual({ seed: 7 });
    expect(outputsAsked.filter((uuid) => uuid === produced)).toHaveLength(2);
  });

  it('waits for outputs not in the store yet when a later op refers to them, and only then', async () => {
    const pipelineUuid = await startProducerConsumer('produce-late', 'consume-late', 4, ['  - name: lonely', '    template: {name: produce}']);
    await waitFor(() => opRuns.has('lonely'), { timeoutMs: 20_000, what: 'the independent op run to be asked for' });
    const acknowledged = async (runUuid: string) =>
      Number(((await side.dataSource.query(`SELECT count(*)::int AS n FROM pipelines.actions WHERE run_uuid = $1 AND done_at IS NOT NULL`, [runUuid])) as Array<{ n: number }>)[0].n);
    for (const op of ['produce-late', 'lonely']) await waitFor(async () => (await acknowledged(opRuns.get(op)!)) === 1, { timeoutMs: 20_000, what: `the start of ${op} acknowledged` });
    for (const op of ['produce-late', 'lonely']) {
      opStatus.set(op, 'succeeded'); // what the API answers from now on, as the real one would
      await opSucceeded(opRuns.get(op)!, pipelineUuid);
    }
    // The store answers "none" twice for produce-late: the service looks again (the periodic
    // confirmation, every second here) and passes the seed once it is there.
    await waitFor(() => opParams.has('consume-late'), { timeoutMs: 20_000, what: 'the consuming op run to be asked for' });
    expect(opParams.get('consume-late')).toEqual({ seed: 9 });
    expect(outputsAsked.filter((uuid) => uuid === opRuns.get('produce-late'))).toHaveLength(3);
    // Nobody refers to lonely's outputs: "none" is its answer, asked for once.
    expect(outputsAsked.filter((uuid) => uuid === opRuns.get('lonely'))).toHaveLength(1);
  });

  it('also waits for outputs an outputs condition looks at', async () => {
    // Nothing refers to judge's outputs in its params: only the condition of `gated` needs them.
    const pipelineUuid = await startPipeline(
      'judged',
      [
        '  - name: judge',
        '    template: {name: produce}',
        '  - name: gated',
        '    template: {name: produce}',
        '    dependencies: [judge]',
        '    conditions: [{kind: outputs, op: judge, exp: eq, params: [[seed, 9]]}]',
      ],
      'judge',
      5,
    );
    const acknowledged = async () =>
      Number(((await side.dataSource.query(`SELECT count(*)::int AS n FROM pipelines.actions WHERE run_uuid = $1 AND done_at IS NOT NULL`, [opRuns.get('judge')])) as Array<{ n: number }>)[0].n);
    await waitFor(async () => (await acknowledged()) === 1, { timeoutMs: 20_000, what: 'the start of judge acknowledged' });
    opStatus.set('judge', 'succeeded');
    await opSucceeded(opRuns.get('judge')!, pipelineUuid);
    // The condition holds only with judge's outputs: read again until they are there, then `gated` starts.
    await waitFor(() => opParams.has('gated'), { timeoutMs: 20_000, what: 'the gated op run to be asked for' });
    expect(outputsAsked.filter((uuid) => uuid === opRuns.get('judge'))).toHaveLength(2);
  });

  it('ends an op run whose status event was lost once its outputs can be read (the periodic confirmation asks again)', async () => {
    await startProducerConsumer('produce-unheard', 'consume-unheard', 3);
    // The op run ends, but its status event never arrives: only the confirmation with the API sees
    // it, and its first read of the outputs fails. A second confirmation must still end it.
    opStatus.set('produce-unheard', 'succeeded');
    await waitFor(() => opParams.has('consume-unheard'), { timeoutMs: 20_000, what: 'the second op run to be asked for' });
    expect(opParams.get('consume-unheard')).toEqual({ seed: 7 });
    expect(outputsAsked.filter((uuid) => uuid === opRuns.get('produce-unheard'))).toHaveLength(2);
  });
});
