import { parsePolyaxonfiles } from '@myelin/spec';
import type { RunEntity } from '@myelin/persistence';
import { pipelineView } from './pipeline-ops.view';

const spec = parsePolyaxonfiles([
  {
    path: 'p.yml',
    content: [
      'version: 1',
      'kind: pipeline',
      'ops:',
      '  - {name: a, template: {name: t}}',
      '  - {name: b, template: {name: t}, dependencies: [a], max_retries: 2}',
      '  - {name: c, template: {name: t}, dependencies: [a, b]}',
      '  - {name: d, template: {name: t}, dependencies: [c]}',
      'templates:',
      '  - {kind: experiment, name: t, run: {cmd: echo}}',
      '',
    ].join('\n'),
  },
]);

let n = 0;
const run = (over: Partial<RunEntity>): RunEntity =>
  ({ uuid: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`, number: n, createdAt: new Date(1000 + n), statusMessage: '', spec: {}, ...over }) as RunEntity;

describe('pipelineView', () => {
  it('gives each op its latest run, a retrying op while retries remain, reused/cached ops, and waiting ops without a run', () => {
    const pipeline = run({ kind: 'pipeline', status: 'running', spec: spec as unknown as Record<string, unknown> });
    const children = [
      run({ trialKey: 'a:mark', status: 'skipped', statusReason: 'Reused', statusMessage: 'succeeded in op run x' }),
      run({ trialKey: 'b:1', status: 'failed', statusReason: 'Failed', statusMessage: 'exit code 1', spec: { pipelineDecision: 'all_succeeded: a succeeded' } }),
    ];
    const view = pipelineView(pipeline, children);
    expect(view.layers).toEqual([['a'], ['b'], ['c'], ['d']]);
    expect(view.edges).toEqual([
      ['a', 'b'],
      ['a', 'c'],
      ['b', 'c'],
      ['c', 'd'],
    ]);
    const byName = Object.fromEntries(view.ops.map((o) => [o.name, o]));
    expect(byName.a).toMatchObject({ status: 'reused', attempts: 0, message: 'succeeded in op run x' });
    expect(byName.b).toMatchObject({ status: 'retrying', attempts: 1, maxRetries: 2, decision: 'all_succeeded: a succeeded', runs: [children[1].number] });
    expect(byName.c).toMatchObject({ status: 'waiting', reason: 'Waiting', run: null, runs: [], upstream: ['a', 'b'] });

    const over = pipelineView({ ...pipeline, status: 'failed' } as RunEntity, [
      ...children,
      run({ trialKey: 'b:2', status: 'failed', statusReason: 'Failed', statusMessage: 'exit code 1' }),
      run({ trialKey: 'c:mark', status: 'skipped', statusReason: 'Cached', statusMessage: 'cache hit: run y' }),
    ]);
    const after = Object.fromEntries(over.ops.map((o) => [o.name, o]));
    expect(after.b).toMatchObject({ status: 'failed', attempts: 2 });
    expect(after.c.status).toBe('cached');
    expect(after.d).toMatchObject({ status: 'waiting', reason: 'NotRun' });
  });
});
