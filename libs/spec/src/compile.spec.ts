import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  checkPolyaxonfiles,
  CompiledSpec,
  formatSpecError,
  parsePolyaxonfiles,
  renderTrial,
  SpecError,
  SpecSource,
  SpecValidationError,
  summarizeSpec,
} from './index';

const MERGE = path.join(__dirname, '__fixtures__', 'merge');
const VALID = path.join(__dirname, '__fixtures__', 'valid');

function src(dir: string, file: string): SpecSource {
  return { path: file, content: fs.readFileSync(path.join(dir, file), 'utf8') };
}

function one(content: string, params?: Record<string, string>): CompiledSpec {
  return parsePolyaxonfiles([{ path: 'polyaxonfile.yml', content }], { params });
}

function errorsOf(content: string, params?: Record<string, string>): SpecError[] {
  const r = checkPolyaxonfiles([{ path: 'polyaxonfile.yml', content }], { params });
  if (r.ok) throw new Error('expected errors');
  return r.errors;
}

const EXPERIMENT = `
version: 1
kind: experiment
params:
  lr: 0.01
  layers: [64, 32]
  use_bn: true
build:
  image: python:3.7
run:
  cmd: python train.py --lr={{ lr }} --layers={{ layers }} --bn={{ use_bn }}
`;

describe('formatting errors', () => {
  it('prints file:line:column: path: message', () => {
    expect(
      formatSpecError({ file: 'quickstart.yml', line: 12, column: 5, path: 'hptuning.matrix.lr.logspace', message: 'expected "start:stop:num"' }),
    ).toBe('quickstart.yml:12:5: hptuning.matrix.lr.logspace: expected "start:stop:num"');
    expect(formatSpecError({ file: 'a.yml', line: 1, column: 1, path: '', message: 'the file is empty' })).toBe('a.yml:1:1: the file is empty');
  });

  it('throws SpecValidationError with every error, one per line', () => {
    const content = 'version: 1\nkind: experiment\nbuilds: {image: x}\nrun:\n  cmd: python {{ lrr }}\n';
    let thrown: unknown;
    try {
      parsePolyaxonfiles([{ path: 'q.yml', content }]);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(SpecValidationError);
    const err = thrown as SpecValidationError;
    expect(err.errors).toHaveLength(2);
    expect(err.message.split('\n')).toEqual([
      'q.yml:3:1: builds: unknown section `builds`; did you mean `build`?',
      'q.yml:5:15: run.cmd: undefined variable `lrr` (no params are declared)',
    ]);
  });

  it('reports an empty file and a file that is not a mapping', () => {
    expect(errorsOf('')[0].message).toBe('the file is empty');
    expect(errorsOf('# just a comment\n')[0].message).toBe('the file is empty');
    expect(errorsOf('- a\n- b\n')[0].message).toMatch(/mapping of sections/);
    expect(checkPolyaxonfiles([])).toEqual({ ok: false, errors: [expect.objectContaining({ message: 'no polyaxonfile given' })] });
  });
});

describe('rendering', () => {
  it('renders run.cmd with Python-style values, as Polyaxon printed them', () => {
    const spec = one(EXPERIMENT);
    expect(spec.run).toEqual({ cmd: 'python train.py --lr=0.01 --layers=[64, 32] --bn=True' });
    expect(spec.raw.run?.cmd).toBe('python train.py --lr={{ lr }} --layers={{ layers }} --bn={{ use_bn }}');
    expect(spec.params).toEqual({ lr: 0.01, layers: [64, 32], use_bn: true });
  });

  it('joins a list cmd with &&', () => {
    const spec = one('version: 1\nkind: job\nbuild: {image: x}\nparams: {a: 1}\nrun:\n  cmd:\n    - echo {{ a }}\n    - echo done\n');
    expect(spec.run?.cmd).toBe('echo 1 && echo done');
  });

  it('joins plain multi-line commands, dropping the shell continuation backslashes', () => {
    const spec = parsePolyaxonfiles([src(VALID, 'experiment_keras_declarations.yml')]);
    expect(spec.run?.cmd).toBe(
      'python -u model.py --conv1_size=32 --conv2_size=64 --dropout=0.2 --hidden1_size=500 --optimizer=adam --log_learning_rate=-3 --lr=0.001 --augment=True --epochs=1',
    );
  });

  it('keeps built-in context names as placeholders unless a context is given', () => {
    const content = 'version: 1\nkind: job\nbuild: {image: x}\nrun:\n  cmd: python a.py --out={{ outputs_path }} --data={{ data_paths.mnist }} --id={{experiment_id}}\n';
    expect(one(content).run?.cmd).toBe('python a.py --out={{ outputs_path }} --data={{ data_paths.mnist }} --id={{experiment_id}}');
    const withContext = parsePolyaxonfiles([{ path: 'a.yml', content }], {
      context: { outputs_path: '/outputs/1', data_paths: { mnist: '/data/mnist' }, experiment_id: 7 },
    });
    expect(withContext.run?.cmd).toBe('python a.py --out=/outputs/1 --data=/data/mnist --id=7');
  });

  it('renders params that refer to other params and reports cycles', () => {
    const spec = one('version: 1\nkind: job\nbuild: {image: x}\nparams:\n  base: 2\n  double: "{{ base }}"\n  name: "run-{{ double }}"\nrun:\n  cmd: echo {{ name }} {{ double }}\n');
    expect(spec.params).toEqual({ base: 2, double: 2, name: 'run-2' });
    expect(spec.run?.cmd).toBe('echo run-2 2');
    const errs = errorsOf('version: 1\nkind: job\nbuild: {image: x}\nparams:\n  a: "{{ b }}"\n  b: "{{ a }}"\nrun:\n  cmd: echo\n');
    expect(errs.map((e) => e.message)).toContain('`a` refers to itself through other params');
  });

  it('renders is_flag inputs as --name or nothing', () => {
    const content = 'version: 1\nkind: job\nbuild: {image: x}\ninputs:\n  - {name: debug, type: bool, is_flag: true, is_optional: true, default: false}\nrun:\n  cmd: python a.py {{ debug }}\n';
    expect(one(content).run?.cmd).toBe('python a.py ');
    expect(one(content, { debug: 'true' }).run?.cmd).toBe('python a.py --debug');
  });

  it('renders the other sections into `rendered`, leaving `raw` untouched', () => {
    const spec = parsePolyaxonfiles([src(VALID, 'experiment_params_templates.yml')]);
    expect(spec.raw.build?.image).toBe('tensorflow/tensorflow:{{ tf_version }}');
    expect(spec.rendered?.build?.image).toBe('tensorflow/tensorflow:1.14.0-gpu');
    expect(spec.rendered?.build?.build_steps).toEqual(['pip install tensorflow-datasets==1.0.2']);
    expect(spec.rendered?.environment?.node_selector).toEqual({ run: 'lr-0.1' });
    // typed fields written as one template are resolved at compile time
    expect(spec.raw.environment?.resources?.gpu).toEqual({ requests: 2, limits: 2 });
    expect(spec.raw.logging).toEqual({ level: 'WARNING', formatter: 'json' });
  });

  it('points an undefined name at its position inside a multi-line command', () => {
    const content = ['version: 1', 'kind: job', 'build: {image: x}', 'params: {batch_size: 1}', 'run:', '  cmd: python a.py \\', '         --batch={{ batch_sise }}', ''].join('\n');
    expect(errorsOf(content).map(formatSpecError)).toEqual([
      'polyaxonfile.yml:7:18: run.cmd: undefined variable `batch_sise`; did you mean `batch_size`?',
    ]);
  });

  it('reports a missing key in a dotted name with the keys that exist', () => {
    const content = 'version: 1\nkind: job\nbuild: {image: x}\nparams:\n  cnn: {kernels: [1, 2]}\nrun:\n  cmd: echo {{ cnn.kernel }} {{ cnn.kernels[5] }}\n';
    expect(errorsOf(content).map((e) => e.message)).toEqual([
      '`cnn` has no key `kernel`; did you mean `kernels`?',
      '`cnn.kernels` has no item 5 (it has 2)',
    ]);
  });
});

describe('merging several files (-f a.yml -f b.yml)', () => {
  it('applies a kind-less declarations file as an override', () => {
    const spec = parsePolyaxonfiles([src(MERGE, 'polyaxonfile_distributed.yml'), src(MERGE, 'declaration.yml')]);
    expect(spec.kind).toBe('experiment');
    expect(spec.params).toEqual({ batch_size_train: 64, batch_size_test: 1000, epochs: 10, lr: 0.005, train_steps: 400, momentum: 0.06 });
    expect(spec.run?.cmd).toContain('--batch-size=64 --test-batch-size=1000 --epochs=10 --lr=0.005 --momentum=0.06');
  });

  it('deep-merges mappings in order, later wins, lists are replaced', () => {
    const spec = parsePolyaxonfiles([
      src(MERGE, 'polyaxonfile_distributed.yml'),
      src(MERGE, 'declaration.yml'),
      src(MERGE, 'more_workers.yml'),
    ]);
    expect(spec.raw.environment?.resources?.gpu).toEqual({ requests: 1, limits: 2 });
    expect(spec.raw.environment?.replicas?.n_workers).toBe(4);
    expect(spec.raw.environment?.replicas?.default_worker?.resources?.gpu).toEqual({ requests: 1, limits: 1 });
    expect(spec.params.lr).toBe(0.001);
    expect(spec.params.epochs).toBe(10);
    expect(spec.sources).toEqual(['polyaxonfile_distributed.yml', 'declaration.yml', 'more_workers.yml']);
  });

  it('reports errors in the file that brought the value', () => {
    const r = checkPolyaxonfiles([src(MERGE, 'polyaxonfile_distributed.yml'), src(MERGE, 'typo_override.yml')]);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(formatSpecError(r.errors[0])).toBe(
      'typo_override.yml:4:7: environment.resources.gpu.limit: unexpected key `limit`; did you mean `limits`?',
    );
    expect(r.errors[1]).toMatchObject({ file: 'typo_override.yml', line: 6, column: 8, path: 'params.lr' });
    expect(r.errors[1].message).toMatch(/^undefined variable `learning_rate`/);
    expect(r.errors).toHaveLength(2);
  });

  it('rejects a kind-less file on its own', () => {
    const r = checkPolyaxonfiles([src(MERGE, 'declaration.yml')]);
    expect(!r.ok && r.errors.map(formatSpecError)).toEqual([
      'declaration.yml:1:1: kind: `kind` is required: one of experiment, group, job, build, notebook, tensorboard, pipeline',
    ]);
  });

  it('lets a later file change the kind-specific sections', () => {
    const base = { path: 'a.yml', content: 'version: 1\nkind: experiment\nbuild: {image: x}\nrun: {cmd: "python {{ lr }}"}\n' };
    const group = { path: 'b.yml', content: 'kind: group\nhptuning:\n  matrix:\n    lr: {values: [1, 2]}\n' };
    const spec = parsePolyaxonfiles([base, group]);
    expect(spec.kind).toBe('group');
    expect(spec.numExperiments).toBe(2);
  });
});

describe('-P overrides', () => {
  const TYPED = `
version: 1
kind: experiment
inputs:
  - {name: lr, type: float, is_optional: true, default: 0.1}
  - {name: epochs, type: int}
  - {name: layers, type: int, is_list: true, is_optional: true, default: [1]}
  - {name: opts, type: dict, is_optional: true, default: {}}
  - {name: loss, type: str, is_optional: true, default: mse, options: [mse, mae]}
  - {name: debug, type: bool, is_optional: true, default: false}
build: {image: x}
run:
  cmd: python a.py --lr={{ lr }} --epochs={{ epochs }} --layers={{ layers }} --loss={{ loss }} --debug={{ debug }}
`;

  it('converts raw strings to the declared input type', () => {
    const spec = one(TYPED, { lr: '1e-3', epochs: '10', layers: '[64, 32]', opts: '{a: 1}', loss: 'mae', debug: 'yes' });
    expect(spec.params).toEqual({ lr: 0.001, epochs: 10, layers: [64, 32], opts: { a: 1 }, loss: 'mae', debug: true });
    expect(spec.run?.cmd).toBe('python a.py --lr=0.001 --epochs=10 --layers=[64, 32] --loss=mae --debug=True');
    expect(one(TYPED, { epochs: '3', layers: '1,2,3' }).params.layers).toEqual([1, 2, 3]);
  });

  it('reports values that do not fit, on the -P pseudo-file', () => {
    const errs = errorsOf(TYPED, { epochs: '1.5', lr: 'fast', loss: 'hinge', layers: '[a]', unknown: '1' });
    expect(errs.map(formatSpecError)).toEqual([
      '-P:1:1: params.epochs: expected an int, got "1.5"',
      '-P:2:1: params.lr: expected a float, got "fast"',
      "-P:3:1: params.loss: 'hinge' is not one of the options ['mse', 'mae']",
      '-P:4:1: params.layers: expected an int, got "a"',
      '-P:5:1: params.unknown: `unknown` is not declared in inputs or outputs',
    ]);
  });

  it('types untyped params as YAML scalars and may add new ones', () => {
    const spec = one(EXPERIMENT, { lr: '0.5', use_bn: 'false', layers: '[1]', name: 'resnet', empty: '' });
    expect(spec.params).toEqual({ lr: 0.5, layers: [1], use_bn: false, name: 'resnet', empty: null });
  });

  it('rejects -P for kinds without params', () => {
    const errs = errorsOf('version: 1\nkind: notebook\nbuild: {image: x}\n', { lr: '1' });
    expect(errs.map(formatSpecError)).toEqual(['-P:1:1: params.lr: `kind: notebook` takes no params']);
  });
});

describe('groups and renderTrial', () => {
  const GROUP = `
version: 1
kind: group
inputs:
  - {name: epochs, type: int, is_optional: true, default: 5}
  - {name: lr, type: float, is_optional: true, default: 0.1}
  - {name: tag, type: str, is_optional: true}
params:
  epochs: 10
  tag: "lr-{{ lr }}"
hptuning:
  concurrency: 2
  matrix:
    lr: {logspace: '-3:-1:3'}
    batch: {values: [32, 64]}
build: {image: x}
run:
  cmd: python a.py --lr={{ lr }} --batch={{ batch }} --epochs={{ epochs }} --tag={{ tag }}
`;

  it('leaves run undefined and counts the grid', () => {
    const spec = one(GROUP);
    expect(spec.run).toBeUndefined();
    expect(spec.algorithm).toBe('grid_search');
    expect(spec.numExperiments).toBe(6);
    expect(spec.params).toEqual({ epochs: 10, tag: 'lr-0.1', lr: 0.1 });
  });

  it('renders one trial over spec.params, re-rendering params that used matrix values', () => {
    const spec = one(GROUP);
    const t = renderTrial(spec, { lr: 0.001, batch: 64 });
    expect(t.cmd).toBe('python a.py --lr=0.001 --batch=64 --epochs=10 --tag=lr-0.1');
    expect(t.params).toEqual({ epochs: 10, tag: 'lr-0.1', lr: 0.001, batch: 64 });
    expect(t.rendered.run?.cmd).toBe(t.cmd);
  });

  it('throws when a trial misses a matrix value or has a wrongly typed one', () => {
    const spec = one(GROUP);
    expect(() => renderTrial(spec, { lr: 0.01 })).toThrow(/no value for `batch` in this trial/);
    expect(() => renderTrial(spec, { lr: 'x', batch: 1 })).toThrow(SpecValidationError);
  });

  it('injects the hyperband resource as a param', () => {
    const spec = parsePolyaxonfiles([src(VALID, 'group_hyperband.yml')]);
    const t = renderTrial(spec, { lr: 0.01, dropout: 0.25, activation: 'relu', num_epochs: 3 });
    expect(t.cmd).toBe('python3 train.py --num_epochs=3 --lr=0.01 --dropout=0.25 --activation=relu');
  });

  it('uses the context given to renderTrial for built-in names', () => {
    const content = 'version: 1\nkind: group\nhptuning: {matrix: {a: {values: [1]}}}\nrun: {cmd: "run {{ a }} {{ outputs_path }}"}\n';
    const spec = one(content);
    expect(renderTrial(spec, { a: 1 }).cmd).toBe('run 1 {{ outputs_path }}');
    expect(renderTrial(spec, { a: 1 }, { outputs_path: '/o' }).cmd).toBe('run 1 /o');
    const job = one('version: 1\nkind: job\nbuild: {image: x}\nrun: {cmd: "save {{ outputs_path }}/model"}\n');
    expect(renderTrial(job, {}, { outputs_path: '/out/3' }).cmd).toBe('save /out/3/model');
  });

  it('resolves a matrix written as one template from inputs', () => {
    const spec = parsePolyaxonfiles([src(VALID, 'group_matrix_from_inputs.yml')], { params: { losses: '[a, b, c]' } });
    expect(spec.hptuning?.matrix.loss).toEqual({ kind: 'values', values: ['a', 'b', 'c'] });
    expect(spec.hptuning?.random_search?.n_experiments).toBe(4);
    expect(spec.numExperiments).toBe(3);
  });

  it('cannot use a matrix param where the compiler needs a value', () => {
    const content = 'version: 1\nkind: group\nhptuning:\n  concurrency: "{{ lr }}"\n  matrix: {lr: {values: [1, 2]}}\nrun: {cmd: "a {{ lr }}"}\n';
    expect(errorsOf(content).map(formatSpecError)).toEqual([
      'polyaxonfile.yml:4:17: hptuning.concurrency: `lr` is a matrix param: it has no value when the file is compiled, so it cannot be used here',
    ]);
  });
});

describe('normalisation', () => {
  it('lower-cases enums and fills Polyaxon defaults', () => {
    const spec = parsePolyaxonfiles([src(VALID, 'group_bo_mixed_case.yml')]);
    expect(spec.hptuning?.bo).toEqual({
      n_initial_trials: 5,
      n_iterations: 5,
      metric: { name: 'accuracy', optimization: 'maximize' },
      utility_function: {
        acquisition_function: 'ei',
        eps: 0.1,
        n_warmup: 5,
        n_iter: 10,
        gaussian_process: { kernel: 'rbf', length_scale: 0.5, nu: 1.5, n_restarts_optimizer: 0 },
      },
    });
    expect(spec.hptuning?.early_stopping).toEqual([{ kind: 'metric', metric: 'loss', value: 0.05, optimization: 'minimize' }]);
    expect(spec.hptuning?.concurrency).toBe(1);
    const bo = parsePolyaxonfiles([src(VALID, 'group_bo.yml')]).hptuning?.bo;
    expect(bo?.utility_function).toMatchObject({ acquisition_function: 'ucb', kappa: 2.576, n_warmup: 1, n_iter: 2 });
    expect(bo?.utility_function.gaussian_process).toEqual({ kernel: 'matern', length_scale: 1, nu: 1.9, n_restarts_optimizer: 0 });
  });

  it('normalises early stopping rules, Polyaxon thresholds and policies alike', () => {
    const spec = parsePolyaxonfiles([src(VALID, 'group_early_stopping.yml')]);
    expect(spec.hptuning?.early_stopping).toEqual([
      { kind: 'metric', metric: 'loss', value: 0.01, optimization: 'minimize' },
      { kind: 'metric', metric: 'accuracy', value: 0.99, optimization: 'maximize' },
      { kind: 'median', metric: 'loss', optimization: 'minimize', evaluation_interval: 2, min_trials: 5, min_steps: 0 },
      { kind: 'truncation', metric: 'loss', optimization: 'minimize', percent: 20, evaluation_interval: 1, min_trials: 5, min_steps: 0 },
      { kind: 'median', metric: 'val_loss', optimization: 'minimize', evaluation_interval: 1, min_trials: 3, min_steps: 5 },
      { kind: 'truncation', metric: 'accuracy', optimization: 'maximize', percent: 25, evaluation_interval: 1, min_trials: 5, min_steps: 0 },
      { kind: 'average', metric: 'accuracy', optimization: 'maximize', evaluation_interval: 3, min_trials: 5, min_steps: 0 },
    ]);
  });

  it('fills the defaults of the Myelin algorithms', () => {
    expect(parsePolyaxonfiles([src(VALID, 'group_tpe.yml')]).hptuning?.tpe).toEqual({
      n_experiments: 40,
      n_initial_trials: 10,
      metric: { name: 'val_accuracy', optimization: 'maximize' },
    });
    const asha = one('version: 1\nkind: group\nhptuning:\n  asha: {n_experiments: 9, resource: {name: e}, max_resource: 9, metric: {name: acc}}\n  matrix: {a: {uniform: [0, 1]}}\nrun: {cmd: "x {{ a }} {{ e }}"}\n');
    expect(asha.hptuning?.asha).toEqual({
      n_experiments: 9,
      resource: { name: 'e', type: 'float' },
      min_resource: 1,
      max_resource: 9,
      reduction_factor: 3,
      metric: { name: 'acc', optimization: 'maximize' },
    });
  });

  it('maps deprecated environment spellings to their replacements', () => {
    const spec = parsePolyaxonfiles([src(VALID, 'experiment_full_environment.yml')]);
    const env = spec.raw.environment!;
    expect(env.config_map_refs).toEqual(['settings']);
    expect(env.data_refs).toEqual(['data-store']);
    expect(env.artifact_refs).toEqual(['outputs-store']);
    expect(env.outputs).toEqual({ jobs: [1, 'user/project/prepare-data'], experiments: [12] });
    expect(env.node_selector).toEqual({ polyaxon: 'experiments', gpu: 'true', zone: '3' });
    expect(env.labels).toEqual({ app: 'mnist', tier: '2' });
    expect(env.resources).toEqual({ cpu: { requests: 0.5, limits: 2 }, memory: { requests: 256, limits: 1024 }, tpu: { requests: 8, limits: 8 } });
    expect(spec.description).toBe('every environment field Polyaxon accepted');
  });

  it('normalises build fields', () => {
    const spec = parsePolyaxonfiles([src(VALID, 'experiment_build_variants.yml')]);
    expect(spec.raw.build?.env_vars).toEqual([
      ['LC_ALL', 'C.UTF-8'],
      ['PS_VERBOSE', '2'],
      ['DEBUG', 'true'],
    ]);
    expect(parsePolyaxonfiles([src(VALID, 'experiment_build_ref.yml')]).raw.build).toEqual({ ref: '1' });
    const build = parsePolyaxonfiles([src(VALID, 'build.yml')]);
    expect(build.raw.build?.image).toBe('my_image');
    expect(build.raw.environment?.resources?.memory).toEqual({ requests: 200, limits: 200 });
  });

  it('normalises replicas and framework labels', () => {
    const tf = parsePolyaxonfiles([src(VALID, 'experiment_distributed_tensorflow.yml')]);
    const r = tf.raw.environment!.replicas!;
    expect(r.n_workers).toBe(5);
    expect(r.worker?.map((w) => w.index)).toEqual([3, 4]);
    expect(r.default_worker?.node_selector).toEqual({ foo: 'true' });
    expect(parsePolyaxonfiles([src(VALID, 'experiment_distributed_mxnet.yml')]).raw.framework).toBe('mxnet');
  });

  it('accepts YAML anchors, aliases and merge keys', () => {
    const content = [
      'version: 1',
      'kind: experiment',
      'x-res: &res {cpu: {requests: 1, limits: 2}}',
      'environment:',
      '  resources: *res',
      'build: {image: x}',
      'run: {cmd: a}',
    ].join('\n');
    expect(errorsOf(content).map((e) => e.path)).toEqual(['x-res']);
    const ok = [
      'version: 1',
      'kind: job',
      'params: &p {a: 1}',
      'environment:',
      '  node_selector:',
      '    <<: *p',
      '    b: 2',
      'build: {image: x}',
      'run: {cmd: a}',
    ].join('\n');
    expect(one(ok).raw.environment?.node_selector).toEqual({ a: '1', b: '2' });
  });
});

describe('summarizeSpec', () => {
  it('describes a group', () => {
    const spec = parsePolyaxonfiles([src(VALID, 'group_hyperband.yml')]);
    expect(summarizeSpec(spec).split('\n')).toEqual([
      'kind: group',
      'algorithm: hyperband',
      'concurrency: 2',
      'experiments: 206 (5 brackets, max_iter 81, eta 3)',
      'metric: loss (minimize)',
      'matrix:',
      '  lr: uniform [0.001, 0.1)',
      '  dropout: values [0.25, 0.3]',
      "  activation: pvalues 'relu': 0.1, 'sigmoid': 0.8, 'tanh': 0.1",
    ]);
  });

  it('describes an experiment and a pipeline', () => {
    expect(summarizeSpec(one(EXPERIMENT)).split('\n')).toEqual([
      'kind: experiment',
      'params: lr=0.01, layers=[64, 32], use_bn=True',
      'cmd: python train.py --lr=0.01 --layers=[64, 32] --bn=True',
    ]);
    const p = parsePolyaxonfiles([src(VALID, 'pipeline_dag.yml')]);
    expect(summarizeSpec(p)).toContain('ops: 5 (job1, experiment1, experiment2, experiment3, job2)');
  });

  it('caps the grid by n_experiments', () => {
    const spec = parsePolyaxonfiles([src(VALID, 'group_grid_search_capped.yml')]);
    expect(spec.numExperiments).toBe(5);
    expect(summarizeSpec(spec)).toContain('experiments: 5');
  });
});
