import { checkPolyaxonfiles } from '@myelin/spec';
import { admitAheadOf } from './admit-ahead';

/** The compiled spec of a pipeline with the given top lines, `ops:` lines and `templates:` lines. */
function pipeline(head: string[], ops: string[], templates: string[]) {
  const content = ['version: 1', 'kind: pipeline', ...head, 'ops:', ...ops, 'templates:', ...templates, ''].join('\n');
  const result = checkPolyaxonfiles([{ path: 'p.yml', content }]);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.spec;
}

const experiment = ['  - kind: experiment', '    name: t', '    run: {cmd: "true"}'];
const twoOps = ['  - name: a', '    template: {name: t}', '  - name: b', '    template: {name: t}'];

describe('admitAheadOf: ops handed to the scheduler past the pipeline concurrency', () => {
  it('is the concurrency when every op is an inline experiment or job', () => {
    expect(admitAheadOf(pipeline(['concurrency: 4'], twoOps, experiment))).toBe(4);
    // A build runs inside the admitted run (it waits in `building` holding its slot): it counts too.
    const job = ['  - kind: job', '    name: t', '    build: {image: python:3.11}', '    run: {cmd: "true"}'];
    expect(admitAheadOf(pipeline(['concurrency: 3'], twoOps, job))).toBe(3);
  });

  it('is 0 without a pipeline concurrency (nothing to hold)', () => {
    expect(admitAheadOf(pipeline([], twoOps, experiment))).toBe(0);
  });

  it('is 0 when one op is a group (its trials count under the group, not the pipeline)', () => {
    const templates = [
      ...experiment,
      '  - kind: group',
      '    name: search',
      '    hptuning: {concurrency: 2, grid_search: {n_experiments: 2}, matrix: {lr: {values: [0.1, 0.2]}}}',
      '    run: {cmd: "echo {{ lr }}"}',
    ];
    expect(admitAheadOf(pipeline(['concurrency: 2'], [...twoOps, '  - name: s', '    template: {name: search}'], templates))).toBe(0);
  });

  it('is 0 when one op is a polyaxonfile path (its kind is known only once compiled)', () => {
    expect(admitAheadOf(pipeline(['concurrency: 2'], [...twoOps, '  - name: c', '    template: {path: ops/c.yml}'], experiment))).toBe(0);
  });
});
