import * as fs from 'node:fs';
import * as path from 'node:path';
import { cronError } from './pipeline';
import { checkPolyaxonfiles, formatSpecError, parsePolyaxonfiles } from './index';

const VALID = path.join(__dirname, '__fixtures__', 'valid');
const load = (f: string) => parsePolyaxonfiles([{ path: f, content: fs.readFileSync(path.join(VALID, f), 'utf8') }]);

describe('pipelines', () => {
  it('orders the DAG in layers', () => {
    const spec = load('pipeline_dag.yml');
    expect(spec.pipeline?.layers).toEqual([['job1'], ['experiment1', 'experiment2', 'experiment3'], ['job2']]);
    expect(spec.pipeline?.upstream.job2.sort()).toEqual(['experiment1', 'experiment2', 'experiment3']);
    expect(spec.pipeline?.downstream.job1).toEqual(['experiment1', 'experiment2', 'experiment3']);
    expect(spec.raw.ops?.[0]).toEqual({
      name: 'job1',
      template: { name: 'job-template' },
      params: { bucket: 's3://foo' },
      dependencies: [],
      trigger: 'all_succeeded',
      conditions: [],
    });
    expect(spec.raw.templates?.map((t) => [t.kind, t.name])).toEqual([
      ['experiment', 'experiment-template'],
      ['job', 'job-template'],
    ]);
  });

  it('adds the ops referenced by params and conditions as upstream, and keeps refs unrendered', () => {
    const spec = load('pipeline_interval_refs.yml');
    expect(spec.pipeline?.upstream).toEqual({
      prepare: [],
      train: ['prepare'],
      evaluate: ['train'],
      notify: ['evaluate', 'train'],
      publish: ['evaluate'],
    });
    expect(spec.pipeline?.order).toEqual(['prepare', 'train', 'evaluate', 'notify', 'publish']);
    const [prepare, train, evaluate, notify] = spec.raw.ops!;
    expect(prepare).toMatchObject({ max_retries: 3, retry_delay: 60, retry_exp_backoff: true, max_retry_delay: 3600, cache: true });
    expect(train.params).toEqual({ data: '{{ ops.prepare.outputs.dataset }}', lr: 0.01 });
    expect(evaluate.conditions).toEqual([{ kind: 'status', op: 'train', trigger: 'succeeded' }]);
    expect(notify.conditions).toEqual([{ kind: 'outputs', op: 'evaluate', exp: 'ne', params: [['passed', true]] }]);
    expect(notify.template).toEqual({ action: 'slack-notify' });
    expect(spec.raw.schedule).toEqual({
      kind: 'interval',
      start_at: '2019-06-24T21:20:07+00:00',
      end_at: '2019-12-31T00:00:00Z',
      frequency: 120,
      depends_on_past: true,
    });
    // a template's command keeps its templates: ops fill them at run time
    expect(spec.raw.templates?.[1].run?.cmd).toBe('python train.py --data={{ data }} --lr={{ lr }}');
  });

  it('requires the inputs of a template and checks implicit cycles', () => {
    const content = `version: 1
kind: pipeline
ops:
  - name: a
    template: {name: t}
    params: {x: "{{ ops.b.outputs.y }}"}
  - name: b
    template: {name: t}
    dependencies: [a]
    params: {x: 1}
  - name: c
    template: {name: t}
    params: {}
templates:
  - kind: job
    name: t
    inputs: [{name: x, type: int}]
    outputs: [{name: y, type: int}]
    build: {image: x}
    run: {cmd: "echo {{ x }}"}
`;
    const r = checkPolyaxonfiles([{ path: 'p.yml', content }]);
    expect(!r.ok && r.errors.map(formatSpecError)).toEqual([
      'p.yml:9:5: ops[1].dependencies: the ops form a cycle: a -> b -> a',
      'p.yml:13:5: ops[2].params.x: template `t` requires the input `x`; set it in the op\'s params',
    ]);
  });

  it('reads a schedule\'s catch-up policy (Myelin extension), and refuses an unknown one with its line', () => {
    const file = (schedule: string[]) => ['version: 1', 'kind: pipeline', 'schedule:', ...schedule, 'ops:', '  - name: a', '    template: {name: t}', 'templates:', '  - {kind: experiment, name: t, run: {cmd: echo}}', ''].join('\n');
    const cron = parsePolyaxonfiles([{ path: 'cron.yml', content: file(['  kind: cron', '  cron: "0 * * * *"', '  catch_up: all']) }]);
    expect(cron.raw.schedule).toEqual({ kind: 'cron', cron: '0 * * * *', catch_up: 'all' });
    const interval = parsePolyaxonfiles([{ path: 'interval.yml', content: file(['  kind: interval', "  start_at: '2026-01-01T00:00:00Z'", '  frequency: 60', '  catch_up: none']) }]);
    expect(interval.raw.schedule).toMatchObject({ kind: 'interval', catch_up: 'none' });
    // Without it the service's MYELIN_SCHEDULE_CATCH_UP applies: nothing is added to the spec.
    expect(parsePolyaxonfiles([{ path: 'plain.yml', content: file(['  kind: cron', '  cron: "0 * * * *"']) }]).raw.schedule).not.toHaveProperty('catch_up');
    const bad = checkPolyaxonfiles([{ path: 'bad.yml', content: file(['  kind: cron', '  cron: "0 * * * *"', '  catch_up: sometimes']) }]);
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.errors).toHaveLength(1);
    expect(bad.errors[0]).toMatchObject({ file: 'bad.yml', line: 6, path: 'schedule.catch_up' });
    expect(formatSpecError(bad.errors[0])).toMatch(/latest.*all.*none/);
  });

  it('validates cron expressions', () => {
    expect(cronError('0 0 * * *')).toBeUndefined();
    expect(cronError('*/15 9-17 * JAN-MAR mon-fri')).toBeUndefined();
    expect(cronError('@daily')).toBeUndefined();
    expect(cronError('0 0 * *')).toMatch(/5 fields/);
    expect(cronError('60 0 * * *')).toMatch(/minute `60`/);
    expect(cronError('0 0 * * 8')).toMatch(/day of week/);
  });
});
