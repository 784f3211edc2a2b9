/** The `hptuning` section of a group: matrix, search algorithm, concurrency, early stopping. */
import { asMap, asSeq, checkKeys, Checker, entry, field, isNull, join, readBool, readEnum, readInt, readNum, readStr, required } from './checker';
import { isDistribution, parseMatrix } from './matrix';
import {
  ASHA,
  BO,
  EarlyStopping,
  GaussianProcess,
  GridSearch,
  HPTuning,
  Hyperband,
  HyperbandResource,
  Matrix,
  Optimization,
  RandomSearch,
  SEARCH_ALGORITHMS,
  SearchAlgorithm,
  SearchMetric,
  TPE,
  UtilityFunction,
} from './types';
import { YMap, YNode } from './yaml-tree';

const OPTIMIZATIONS: readonly Optimization[] = ['maximize', 'minimize'];

function readMetric(c: Checker, node: YNode | undefined, path: string): SearchMetric | undefined {
  const map = asMap(c, node, path, 'a mapping {name, optimization}');
  if (!map) return undefined;
  checkKeys(c, map, path, ['name', 'optimization']);
  const name = readStr(c, required(c, map, path, 'name'), join(path, 'name'), { nonEmpty: true });
  const optimization = readEnum(c, field(map, 'optimization'), join(path, 'optimization'), OPTIMIZATIONS) ?? 'maximize';
  return name === undefined ? undefined : { name, optimization };
}

function requiredMetric(c: Checker, map: YMap, path: string): SearchMetric | undefined {
  const n = required(c, map, path, 'metric', 'a mapping {name, optimization}');
  return n ? readMetric(c, n, join(path, 'metric')) : undefined;
}

function readResource(c: Checker, node: YNode | undefined, path: string): HyperbandResource | undefined {
  const map = asMap(c, node, path, 'a mapping {name, type}');
  if (!map) return undefined;
  checkKeys(c, map, path, ['name', 'type']);
  const name = readStr(c, required(c, map, path, 'name', 'the param that receives the resource'), join(path, 'name'), { nonEmpty: true, templates: false });
  const type = readEnum(c, field(map, 'type'), join(path, 'type'), ['int', 'float'] as const) ?? 'float';
  return name === undefined ? undefined : { name, type };
}

function readGrid(c: Checker, map: YMap, path: string): GridSearch {
  checkKeys(c, map, path, ['n_experiments']);
  const n = readInt(c, field(map, 'n_experiments'), join(path, 'n_experiments'), { min: 1 });
  return n === undefined ? {} : { n_experiments: n };
}

function readRandom(c: Checker, map: YMap, path: string): RandomSearch | undefined {
  checkKeys(c, map, path, ['n_experiments']);
  const n = readInt(c, required(c, map, path, 'n_experiments', 'how many configurations to sample'), join(path, 'n_experiments'), { min: 1 });
  return n === undefined ? undefined : { n_experiments: n };
}

function readHyperband(c: Checker, map: YMap, path: string): Hyperband | undefined {
  checkKeys(c, map, path, ['max_iter', 'eta', 'resource', 'metric', 'resume']);
  const max_iter = readInt(c, required(c, map, path, 'max_iter'), join(path, 'max_iter'), { min: 1 });
  const eta = readNum(c, required(c, map, path, 'eta', 'the downsampling rate, e.g. 3'), join(path, 'eta'), { gt: 1 });
  const rn = required(c, map, path, 'resource', 'a mapping {name, type}');
  const resource = rn ? readResource(c, rn, join(path, 'resource')) : undefined;
  const metric = requiredMetric(c, map, path);
  const resume = readBool(c, field(map, 'resume'), join(path, 'resume')) ?? false;
  if (max_iter === undefined || eta === undefined || !resource || !metric) return undefined;
  return { max_iter, eta, resource, metric, resume };
}

function readGaussianProcess(c: Checker, node: YNode | undefined, path: string): GaussianProcess {
  const out: GaussianProcess = { kernel: 'matern', length_scale: 1.0, nu: 1.5, n_restarts_optimizer: 0 };
  const map = asMap(c, node, path);
  if (!map) return out;
  checkKeys(c, map, path, ['kernel', 'length_scale', 'nu', 'n_restarts_optimizer']);
  out.kernel = readEnum(c, field(map, 'kernel'), join(path, 'kernel'), ['matern', 'rbf'] as const) ?? 'matern';
  out.length_scale = readNum(c, field(map, 'length_scale'), join(path, 'length_scale'), { gt: 0 }) ?? 1.0;
  out.nu = readNum(c, field(map, 'nu'), join(path, 'nu'), { gt: 0 }) ?? 1.5;
  out.n_restarts_optimizer = readInt(c, field(map, 'n_restarts_optimizer'), join(path, 'n_restarts_optimizer'), { min: 0 }) ?? 0;
  return out;
}

function readUtilityFunction(c: Checker, node: YNode | undefined, path: string): UtilityFunction {
  const map = asMap(c, node, path);
  const defaults: UtilityFunction = {
    acquisition_function: 'ucb',
    kappa: 2.576,
    n_warmup: 5,
    n_iter: 10,
    gaussian_process: readGaussianProcess(c, undefined, ''),
  };
  if (!map) return defaults;
  checkKeys(c, map, path, ['acquisition_function', 'kappa', 'eps', 'n_warmup', 'n_iter', 'gaussian_process']);
  const af = readEnum(c, field(map, 'acquisition_function'), join(path, 'acquisition_function'), ['ucb', 'ei', 'poi'] as const) ?? 'ucb';
  const kappa = readNum(c, field(map, 'kappa'), join(path, 'kappa'), { min: 0 });
  const eps = readNum(c, field(map, 'eps'), join(path, 'eps'), { min: 0 });
  const afNode = field(map, 'acquisition_function') ?? map;
  if (af === 'ucb' && kappa === undefined && isNull(field(map, 'kappa'))) {
    c.error(afNode, join(path, 'kappa'), 'the acquisition function `ucb` requires `kappa`');
  }
  if ((af === 'ei' || af === 'poi') && eps === undefined && isNull(field(map, 'eps'))) {
    c.error(afNode, join(path, 'eps'), `the acquisition function \`${af}\` requires \`eps\``);
  }
  const out: UtilityFunction = {
    acquisition_function: af,
    n_warmup: readInt(c, field(map, 'n_warmup'), join(path, 'n_warmup'), { min: 1 }) ?? 5,
    n_iter: readInt(c, field(map, 'n_iter'), join(path, 'n_iter'), { min: 1 }) ?? 10,
    gaussian_process: readGaussianProcess(c, field(map, 'gaussian_process'), join(path, 'gaussian_process')),
  };
  if (kappa !== undefined) out.kappa = kappa;
  if (eps !== undefined) out.eps = eps;
  return out;
}

function readBO(c: Checker, map: YMap, path: string): BO | undefined {
  checkKeys(c, map, path, ['n_initial_trials', 'n_iterations', 'metric', 'utility_function']);
  const n_initial_trials = readInt(c, required(c, map, path, 'n_initial_trials'), join(path, 'n_initial_trials'), { min: 1 });
  const n_iterations = readInt(c, required(c, map, path, 'n_iterations'), join(path, 'n_iterations'), { min: 0 });
  const metric = requiredMetric(c, map, path);
  const utility_function = readUtilityFunction(c, field(map, 'utility_function'), join(path, 'utility_function'));
  if (n_initial_trials === undefined || n_iterations === undefined || !metric) return undefined;
  return { n_initial_trials, n_iterations, metric, utility_function };
}

function readTPE(c: Checker, map: YMap, path: string): TPE | undefined {
  checkKeys(c, map, path, ['n_experiments', 'n_initial_trials', 'metric']);
  const n_experiments = readInt(c, required(c, map, path, 'n_experiments'), join(path, 'n_experiments'), { min: 1 });
  const n_initial_trials = readInt(c, field(map, 'n_initial_trials'), join(path, 'n_initial_trials'), { min: 0 }) ?? 10;
  const metric = requiredMetric(c, map, path);
  if (n_experiments === undefined || !metric) return undefined;
  return { n_experiments, n_initial_trials, metric };
}

function readASHA(c: Checker, map: YMap, path: string): ASHA | undefined {
  checkKeys(c, map, path, ['n_experiments', 'resource', 'min_resource', 'max_resource', 'reduction_factor', 'metric']);
  const n_experiments = readInt(c, required(c, map, path, 'n_experiments'), join(path, 'n_experiments'), { min: 1 });
  const rn = required(c, map, path, 'resource', 'a mapping {name, type}');
  const resource = rn ? readResource(c, rn, join(path, 'resource')) : undefined;
  const isInt = resource?.type === 'int';
  const min_resource = readNum(c, field(map, 'min_resource'), join(path, 'min_resource'), { gt: 0, int: isInt }) ?? 1;
  const maxNode = required(c, map, path, 'max_resource');
  const max_resource = readNum(c, maxNode, join(path, 'max_resource'), { gt: 0, int: isInt });
  const reduction_factor = readNum(c, field(map, 'reduction_factor'), join(path, 'reduction_factor'), { gt: 1 }) ?? 3;
  const metric = requiredMetric(c, map, path);
  if (max_resource !== undefined && max_resource <= min_resource) {
    c.error(maxNode!, join(path, 'max_resource'), `must be greater than min_resource (${min_resource}), got ${max_resource}`);
    return undefined;
  }
  if (n_experiments === undefined || !resource || max_resource === undefined || !metric) return undefined;
  return { n_experiments, resource, min_resource, max_resource, reduction_factor, metric };
}

const POLICIES = ['median', 'average', 'truncation'] as const;

function readEarlyStopping(c: Checker, node: YNode | undefined, path: string): EarlyStopping[] {
  const seq = asSeq(c, node, path, 'a list of early-stopping rules');
  if (!seq) return [];
  const out: EarlyStopping[] = [];
  seq.items.forEach((it, i) => {
    const p = join(path, i);
    const map = asMap(c, it, p, 'a mapping {metric, value, optimization} or {policy, metric, ...}');
    if (!map) return;
    const pol = field(map, 'policy');
    if (pol && pol.t === 'scalar' && typeof pol.value === 'string') {
      // Myelin policy form
      const policy = readEnum(c, pol, join(p, 'policy'), POLICIES);
      const keys = ['policy', 'metric', 'optimization', 'min_trials', 'min_steps', 'evaluation_interval'];
      if (policy === 'truncation') keys.push('percent');
      checkKeys(c, map, p, keys, { value: 'a policy has no threshold; use a separate {metric, value} rule', percent: 'only the truncation policy takes `percent`' });
      const mNode = required(c, map, p, 'metric', 'the metric name, or {name, optimization}');
      let metric: string | undefined;
      let optimization: Optimization = 'maximize';
      if (mNode && mNode.t === 'map') {
        const m = readMetric(c, mNode, join(p, 'metric'));
        metric = m?.name;
        optimization = m?.optimization ?? 'maximize';
        if (field(map, 'optimization')) c.error(entry(map, 'optimization')!.keyLoc, join(p, 'optimization'), 'set the optimization once, in `metric`');
      } else {
        metric = readStr(c, mNode, join(p, 'metric'), { nonEmpty: true });
        optimization = readEnum(c, field(map, 'optimization'), join(p, 'optimization'), OPTIMIZATIONS) ?? 'maximize';
      }
      const min_trials = readInt(c, field(map, 'min_trials'), join(p, 'min_trials'), { min: 1 }) ?? 5;
      const min_steps = readInt(c, field(map, 'min_steps'), join(p, 'min_steps'), { min: 0 }) ?? 0;
      const evaluation_interval = readInt(c, field(map, 'evaluation_interval'), join(p, 'evaluation_interval'), { min: 1 }) ?? 1;
      if (!policy || metric === undefined) return;
      if (policy === 'truncation') {
        const percent = readNum(c, required(c, map, p, 'percent', 'the share of trials to stop, 1-99'), join(p, 'percent'), { gt: 0, lt: 100 });
        if (percent === undefined) return;
        out.push({ kind: 'truncation', metric, optimization, percent, min_trials, min_steps, evaluation_interval });
      } else {
        out.push({ kind: policy, metric, optimization, min_trials, min_steps, evaluation_interval });
      }
      return;
    }
    // Polyaxon form
    checkKeys(c, map, p, ['metric', 'value', 'optimization', 'policy']);
    const metric = readStr(c, required(c, map, p, 'metric'), join(p, 'metric'), { nonEmpty: true });
    const optimization = readEnum(c, field(map, 'optimization'), join(p, 'optimization'), OPTIMIZATIONS) ?? 'maximize';
    const polMap = asMap(c, pol, join(p, 'policy'), 'a policy name (median, average, truncation) or a mapping {kind, ...}');
    const valueNode = field(map, 'value');
    if (!polMap && isNull(valueNode)) {
      c.error(valueNode ?? map, join(p, 'value'), '`value` is required: the threshold that stops the group');
      return;
    }
    const value = readNum(c, valueNode, join(p, 'value'));
    if (metric === undefined) return;
    if (value !== undefined) out.push({ kind: 'metric', metric, value, optimization });
    if (polMap) {
      const pp = join(p, 'policy');
      const kind = readEnum(c, required(c, polMap, pp, 'kind', 'median, average or truncation'), join(pp, 'kind'), POLICIES);
      checkKeys(c, polMap, pp, kind === 'truncation' ? ['kind', 'evaluation_interval', 'percent'] : ['kind', 'evaluation_interval']);
      const evaluation_interval = readInt(c, field(polMap, 'evaluation_interval'), join(pp, 'evaluation_interval'), { min: 1 }) ?? 1;
      if (kind === 'truncation') {
        const percent = readNum(c, required(c, polMap, pp, 'percent'), join(pp, 'percent'), { gt: 0, lt: 100 });
        if (percent !== undefined) out.push({ kind, metric, optimization, percent, evaluation_interval, min_trials: 5, min_steps: 0 });
      } else if (kind) {
        out.push({ kind, metric, optimization, evaluation_interval, min_trials: 5, min_steps: 0 });
      }
    }
  });
  return out;
}

export interface HPTuningResult {
  hptuning: HPTuning;
  algorithm: SearchAlgorithm;
  /** Names injected per trial besides matrix keys (hyperband/ASHA resource). */
  resourceParam?: string;
}

const HPTUNING_KEYS = ['seed', 'concurrency', 'matrix', 'early_stopping', ...SEARCH_ALGORITHMS];

/** Which distributions each algorithm can search. */
function checkAlgorithmMatrix(c: Checker, algorithm: SearchAlgorithm, matrix: Matrix, matrixMap: YMap, path: string): void {
  for (const [k, o] of Object.entries(matrix)) {
    const e = matrixMap.entries.get(k)!;
    const optNode = e.value.t === 'map' ? [...e.value.entries.values()][0] : undefined;
    const at = optNode ? optNode.keyLoc : e.keyLoc;
    const p = join(join(path, k), o.kind);
    if (algorithm === 'grid_search' && isDistribution(o)) {
      c.error(at, p, `\`${o.kind}\` is a distribution and cannot be enumerated by grid search; use values/range/linspace/logspace/geomspace, or choose random_search, hyperband, bo, tpe or asha`);
    }
    if (algorithm === 'bo' && isDistribution(o) && o.kind !== 'uniform') {
      c.error(at, p, `bayesian optimization supports only \`uniform\` among distributions, not \`${o.kind}\``);
    }
  }
}

export function readHPTuning(c: Checker, node: YNode | undefined, path: string): HPTuningResult | undefined {
  const map = asMap(c, node, path);
  if (!map) return undefined;
  checkKeys(c, map, path, HPTUNING_KEYS, {
    random: 'did you mean `random_search`?',
    grid: 'did you mean `grid_search`?',
    bayesian_optimization: 'the Bayesian optimization section is called `bo`',
    n_experiments: '`n_experiments` belongs inside the algorithm, e.g. `random_search: {n_experiments: 10}`',
  });
  const seed = readInt(c, field(map, 'seed'), join(path, 'seed'));
  const concurrency = readInt(c, field(map, 'concurrency'), join(path, 'concurrency'), { min: 1 }) ?? 1;

  const set = [...map.entries.keys()].filter(
    (k): k is SearchAlgorithm => (SEARCH_ALGORITHMS as readonly string[]).includes(k) && !isNull(field(map, k)),
  );
  if (set.length > 1) {
    for (const a of set.slice(1)) {
      c.error(entry(map, a)!.keyLoc, join(path, a), `only one search algorithm can be used, got ${set.map((s) => `\`${s}\``).join(' and ')}`);
    }
  }
  const algorithm: SearchAlgorithm = set[0] ?? 'grid_search';
  const hp: HPTuning = { concurrency, matrix: {}, early_stopping: [] };
  if (seed !== undefined) hp.seed = seed;
  let resourceParam: string | undefined;
  for (const a of set) {
    const p = join(path, a);
    const m = asMap(c, field(map, a), p);
    if (!m) continue;
    switch (a) {
      case 'grid_search':
        hp.grid_search = readGrid(c, m, p);
        break;
      case 'random_search': {
        const r = readRandom(c, m, p);
        if (r) hp.random_search = r;
        break;
      }
      case 'hyperband': {
        const h = readHyperband(c, m, p);
        if (h) {
          hp.hyperband = h;
          resourceParam = h.resource.name;
        }
        break;
      }
      case 'bo': {
        const b = readBO(c, m, p);
        if (b) hp.bo = b;
        break;
      }
      case 'tpe': {
        const t = readTPE(c, m, p);
        if (t) hp.tpe = t;
        break;
      }
      case 'asha': {
        const s = readASHA(c, m, p);
        if (s) {
          hp.asha = s;
          resourceParam = s.resource.name;
        }
        break;
      }
    }
  }
  const mp = join(path, 'matrix');
  const matrixNode = field(map, 'matrix');
  const matrixMap = asMap(c, matrixNode, mp, 'a mapping of param name to one option');
  if (!matrixMap || matrixMap.entries.size === 0) {
    c.error(matrixNode ?? entry(map, 'matrix')?.keyLoc ?? map, mp, 'a group needs a non-empty `matrix` of params to search');
  } else {
    hp.matrix = parseMatrix(c, matrixMap, mp);
    checkAlgorithmMatrix(c, algorithm, hp.matrix, matrixMap, mp);
    if (resourceParam !== undefined && matrixMap.entries.has(resourceParam)) {
      c.error(matrixMap.entries.get(resourceParam)!.keyLoc, join(mp, resourceParam), `\`${resourceParam}\` is the ${algorithm} resource: the algorithm sets it, it cannot also be searched`);
    }
  }
  hp.early_stopping = readEarlyStopping(c, field(map, 'early_stopping'), join(path, 'early_stopping'));
  return { hptuning: hp, algorithm, resourceParam };
}

