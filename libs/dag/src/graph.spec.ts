import * as fs from 'node:fs';
import * as path from 'node:path';
import { parsePolyaxonfiles } from '@myelin/spec';
import { DagValidationError } from './errors';
import { buildPipelineGraph, pipelineGraphFromSpec, validatePipeline } from './graph';
import type { DagOpInput, DagTemplateInput, PipelineInput } from './types';

const FIXTURES = path.join(__dirname, '..', '..', 'spec', 'src', '__fixtures__', 'valid');
const loadSpec = (f: string) =>
  parsePolyaxonfiles([{ path: f, content: fs.readFileSync(path.join(FIXTURES, f), 'utf8') }]);

const TEMPLATES: DagTemplateInput[] = [
  {
    name: 'prepare',
    inputs: [{ name: 'source', type: 's3_path' }],
    outputs: [
      { name: 'dataset', type: 'path' },
      { name: 'rows', type: 'int' },
    ],
  },
  {
    name: 'train',
    inputs: [
      { name: 'data', type: 'path' },
      { name: 'lr', type: 'float', is_optional: true, default: 0.1 },
      { name: 'optimizer', type: 'str', is_optional: true, options: ['sgd', 'adam'] },
    ],
    outputs: [{ name: 'model', type: 'path' }],
  },
];
const pipeline = (ops: DagOpInput[], extra: Partial<PipelineInput> = {}): PipelineInput => ({
  ops,
  templates: TEMPLATES,
  ...extra,
});
const messages = (input: PipelineInput) =>
  validatePipeline(input).map((e) => `${e.code} ${e.path}: ${e.message}`);

describe('graph building', () => {
  it('indexes ops, explicit and implicit upstream, layers and a topological order', () => {
    const g = buildPipelineGraph({
      ops: [
        { name: 'report', dependencies: ['train', 'evaluate'] },
        { name: 'prepare' },
        { name: 'train', params: { data: '{{ ops.prepare.outputs.dataset }}' } },
        { name: 'evaluate', conditions: [{ kind: 'status', op: 'train', trigger: 'succeeded' }] },
      ],
    });
    expect(g.size).toBe(4);
    expect(g.upstream('train')).toEqual(['prepare']);
    expect(g.upstream('evaluate')).toEqual(['train']);
    expect(g.downstream('train').sort()).toEqual(['evaluate', 'report']);
    expect(g.layers()).toEqual([['prepare'], ['train'], ['evaluate'], ['report']]);
    expect(g.topologicalOrder()).toEqual(['prepare', 'train', 'evaluate', 'report']);
    expect(g.op('train').dataUpstream).toEqual(['prepare']);
    expect(g.op('report')).toMatchObject({
      trigger: 'all_succeeded',
      maxRetries: 0,
      retryDelay: 60,
      maxRetryDelay: 3600,
      skipOnUpstreamSkip: false,
      cache: false,
    });
  });

  it('matches the compiled DAG of @myelin/spec for parsed files', () => {
    for (const f of ['pipeline_dag.yml', 'pipeline_interval_refs.yml', 'pipeline_cron.yml']) {
      const spec = loadSpec(f);
      const g = pipelineGraphFromSpec(spec);
      const dag = spec.pipeline!;
      expect(g.layers()).toEqual(dag.layers);
      expect(g.topologicalOrder()).toEqual(dag.order);
      for (const name of dag.order) {
        expect(g.upstream(name).sort()).toEqual([...dag.upstream[name]].sort());
        expect(g.downstream(name).sort()).toEqual([...dag.downstream[name]].sort());
      }
    }
    const g = pipelineGraphFromSpec(loadSpec('pipeline_interval_refs.yml'));
    expect(g.settings).toEqual({ concurrency: 2 });
    expect(g.op('publish').executeAt).toBe(Date.parse('2019-07-01T00:00:00Z'));
    expect(g.op('prepare')).toMatchObject({
      maxRetries: 3,
      retryDelay: 60,
      retryExpBackoff: true,
      maxRetryDelay: 3600,
      cache: true,
    });
    expect(pipelineGraphFromSpec(loadSpec('pipeline_cron.yml')).settings).toEqual({
      timeout: 3600,
      executeAt: Date.parse('2019-06-24T21:20:07+00:00'),
    });
  });

  it('rejects a spec of another kind', () => {
    const spec = parsePolyaxonfiles([
      { path: 'job.yml', content: 'version: 1\nkind: job\nbuild: {image: busybox}\nrun: {cmd: echo}\n' },
    ]);
    expect(() => pipelineGraphFromSpec(spec)).toThrow('expected a `kind: pipeline` spec, got `kind: job`');
  });

  it('gives the same fingerprint to the same graph and another to a changed one', () => {
    const ops = [{ name: 'a' }, { name: 'b', dependencies: ['a'] }];
    expect(buildPipelineGraph({ ops }).fingerprint).toBe(buildPipelineGraph({ ops }).fingerprint);
    expect(buildPipelineGraph({ ops: [{ name: 'a' }, { name: 'b' }] }).fingerprint).not.toBe(
      buildPipelineGraph({ ops }).fingerprint,
    );
  });
});

describe('validation', () => {
  it('names unknown ops in dependencies, conditions and references, with a suggestion', () => {
    expect(
      messages(
        pipeline([
          { name: 'prepare', template: 'prepare', params: { source: 's3://b/x' } },
          {
            name: 'train',
            template: 'train',
            dependencies: ['prepar'],
            params: { data: '{{ ops.prepere.outputs.dataset }}' },
          },
          { name: 'notify', conditions: [{ kind: 'status', op: 'evaluate', trigger: 'failed' }] },
        ]),
      ),
    ).toEqual([
      'unknown_op ops[1].dependencies[0]: no op named `prepar`; did you mean `prepare`?',
      'unknown_op ops[1].params.data: `ops.prepere.outputs.dataset`: no op named `prepere`; did you mean `prepare`?',
      'unknown_op ops[2].conditions[0].op: no op named `evaluate`',
    ]);
  });

  it('names unknown templates', () => {
    expect(messages(pipeline([{ name: 'a', template: { name: 'trian' }, params: {} }]))).toEqual([
      'unknown_template ops[0].template.name: no template named `trian`; did you mean `train`?',
    ]);
    expect(validatePipeline({ ops: [{ name: 'a', template: 'x' }] }).map((e) => e.message)).toEqual([
      'no template named `x` (the pipeline defines no templates)',
    ]);
    // url/path/action/event templates resolve elsewhere
    expect(validatePipeline({ ops: [{ name: 'a', template: { action: 'slack-notify' } }] })).toEqual([]);
  });

  it('lists the ops of a cycle in order, each upstream of the next', () => {
    const errors = validatePipeline({
      ops: [
        { name: 'start' },
        { name: 'a', dependencies: ['start', 'c'] },
        { name: 'b', dependencies: ['a'] },
        { name: 'c', params: { x: '{{ ops.b.outputs.y }}' } },
        { name: 'after', dependencies: ['c'] },
      ],
    });
    expect(errors).toEqual([
      {
        code: 'cycle',
        path: 'ops[1].dependencies',
        op: 'a',
        cycle: ['a', 'b', 'c', 'a'],
        message: 'the ops form a cycle: a -> b -> c -> a',
      },
    ]);
    expect(validatePipeline({ ops: [{ name: 'a', dependencies: ['a'] }] })).toEqual([
      {
        code: 'self_dependency',
        path: 'ops[0].dependencies[0]',
        op: 'a',
        message: 'an op cannot depend on itself',
      },
    ]);
  });

  it('finds a cycle in a long chain without deep recursion', () => {
    const n = 50_000;
    const ops = Array.from({ length: n }, (_, i) => ({
      name: `op${i}`,
      dependencies: [`op${(i + n - 1) % n}`],
    }));
    const [e] = validatePipeline({ ops });
    expect(e.code).toBe('cycle');
    expect(e.cycle).toHaveLength(n + 1);
    expect(e.cycle!.slice(0, 3)).toEqual(['op0', 'op1', 'op2']);
  });

  it('checks references to outputs against the template of the referenced op', () => {
    expect(
      messages(
        pipeline([
          { name: 'prepare', template: 'prepare', params: { source: 's3://b/x' } },
          { name: 'train', template: 'train', params: { data: '{{ ops.prepare.outputs.datset }}' } },
          { name: 'again', template: 'train', params: { data: 'x', lr: '{{ ops.train.outputs.loss }}' } },
          { name: 'bad', template: 'train', params: { data: '{{ ops.prepare.dataset }}' } },
          { name: 'self', template: 'train', params: { data: '{{ ops.self.outputs.model }}' } },
        ]),
      ),
    ).toEqual([
      'unknown_output ops[1].params.data: op `prepare` (template `prepare`) has no output `datset`; did you mean `dataset`?',
      'unknown_output ops[2].params.lr: op `train` (template `train`) has no output `loss`',
      'bad_reference ops[3].params.data: expected `ops.<op>.outputs.<name>`, got `ops.prepare.dataset`',
      'self_dependency ops[4].params.data: an op cannot use its own outputs (`ops.self.outputs.model`)',
    ]);
  });

  it('checks params against the template inputs (unknown, missing, mistyped, options, reference types)', () => {
    expect(
      messages(
        pipeline([
          { name: 'prepare', template: 'prepare', params: { source: 's3://b/x', sorce: 1 } },
          { name: 'train', template: 'train', params: { lr: 'fast', optimizer: 'rmsprop' } },
          { name: 'typed', template: 'train', params: { data: '{{ ops.prepare.outputs.rows }}' } },
          { name: 'inside', template: 'train', params: { data: 'gs://x/{{ ops.prepare.outputs.rows }}' } },
        ]),
      ),
    ).toEqual([
      'unknown_input ops[0].params.sorce: template `prepare` has no input `sorce`; did you mean `source`?',
      'invalid_param ops[1].params.lr: expected a float, got the string "fast"',
      'invalid_param ops[1].params.optimizer: "rmsprop" is not one of the options ["sgd","adam"]',
      "missing_input ops[1].params.data: template `train` requires the input `data`; set it in the op's params",
      'type_mismatch ops[2].params.data: input `data` is `path` but output `prepare.rows` is `int`',
    ]);
    // parsed files were checked by @myelin/spec: the engine trusts them
    expect(
      validatePipeline(pipeline([{ name: 'train', template: 'train', params: { lr: 'fast' } }]), {
        checkParams: false,
      }),
    ).toEqual([]);
  });

  it('checks outputs conditions against the declared outputs', () => {
    expect(
      messages(
        pipeline([
          { name: 'prepare', template: 'prepare', params: { source: 's3://b/x' } },
          { name: 'next', conditions: [{ kind: 'outputs', op: 'prepare', exp: 'eq', params: [['row', 3]] }] },
        ]),
      ),
    ).toEqual([
      'unknown_output ops[1].conditions[0].params[0]: op `prepare` (template `prepare`) has no output `row`; did you mean `rows`?',
    ]);
  });

  it('checks names and policies of graphs built in code', () => {
    expect(
      messages({
        ops: [
          { name: 'a b' },
          {
            name: 'x',
            trigger: 'all_succeded' as never,
            max_retries: -1,
            concurrency: 0,
            timeout: 0,
            execute_at: 'tomorrow',
          },
          { name: 'x' },
        ],
        concurrency: 1.5,
      }),
    ).toEqual([
      'invalid_policy concurrency: expected an integer >= 1, got 1.5',
      'invalid_name ops[0].name: op names may only contain letters, digits, `-` and `_`, got "a b"',
      'duplicate_op ops[2].name: an op named `x` is already defined (ops[0])',
      'invalid_policy ops[1].trigger: unknown trigger `all_succeded`; expected one of all_succeeded, all_failed, all_done, one_succeeded, one_failed, one_done; did you mean `all_succeeded`?',
      'invalid_policy ops[1].max_retries: expected an integer >= 0, got -1',
      'invalid_policy ops[1].concurrency: expected an integer >= 1, got 0',
      'invalid_policy ops[1].timeout: expected a number of seconds > 0, got 0',
      'invalid_policy ops[1].execute_at: expected an ISO 8601 datetime or epoch ms, got "tomorrow"',
    ]);
    expect(messages({ ops: [] })).toEqual(['empty_pipeline ops: a pipeline needs at least one op']);
  });

  it('throws every error at once from buildPipelineGraph', () => {
    let err: unknown;
    try {
      buildPipelineGraph({ ops: [{ name: 'a', dependencies: ['b', 'c'] }] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DagValidationError);
    expect((err as DagValidationError).errors.map((e) => e.path)).toEqual([
      'ops[0].dependencies[0]',
      'ops[0].dependencies[1]',
    ]);
    expect((err as Error).message).toBe(
      'ops[0].dependencies[0]: no op named `b`\nops[0].dependencies[1]: no op named `c`',
    );
  });
});
