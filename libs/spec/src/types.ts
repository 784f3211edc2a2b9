/**
 * Typed, normalised form of a Polyaxon v0.x polyaxonfile.
 * Field names are the YAML field names (snake_case) so a reader can map them 1:1 to the docs.
 * Normalisation: `declarations` -> `params`, `configmap_refs` -> `config_map_refs`,
 * `persistence` -> `data_refs`/`artifact_refs`, enum values lower-cased (log level upper-cased),
 * matrix options in one canonical shape, defaults filled in where Polyaxon had them.
 */

export type SpecKind = 'experiment' | 'group' | 'job' | 'build' | 'notebook' | 'tensorboard' | 'pipeline';
export const SPEC_KINDS: readonly SpecKind[] = ['experiment', 'group', 'job', 'build', 'notebook', 'tensorboard', 'pipeline'];

export type ParamValue = string | number | boolean | null | ParamValue[] | { [k: string]: ParamValue };

export interface SpecSource {
  /** Used in error messages as given (pass a basename for short messages). */
  path: string;
  content: string;
}

// ---------------------------------------------------------------- header

export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';

export interface Logging {
  level?: LogLevel;
  formatter?: string;
}

export type IOType =
  | 'int'
  | 'float'
  | 'str'
  | 'bool'
  | 'dict'
  | 'list'
  | 'uri'
  | 'auth'
  | 'path'
  | 'gcs_path'
  | 's3_path'
  | 'azure_path'
  | 'metric'
  | 'metadata';
export const IO_TYPES: readonly IOType[] = [
  'int',
  'float',
  'str',
  'bool',
  'dict',
  'list',
  'uri',
  'auth',
  'path',
  'gcs_path',
  's3_path',
  'azure_path',
  'metric',
  'metadata',
];

/** One entry of `inputs` or `outputs`. */
export interface IOSpec {
  name: string;
  description?: string;
  type?: IOType;
  default?: ParamValue;
  is_optional: boolean;
  is_list: boolean;
  is_flag: boolean;
  options?: ParamValue[];
}

// ---------------------------------------------------------------- environment

export interface ResourceRequirement {
  requests?: number;
  limits?: number;
}

/** cpu in cores, memory in MB, gpu/tpu as counts. */
export interface Resources {
  cpu?: ResourceRequirement;
  memory?: ResourceRequirement;
  gpu?: ResourceRequirement;
  tpu?: ResourceRequirement;
}

/** A raw Kubernetes object (toleration, affinity) passed through untouched. */
export type K8sObject = { [k: string]: ParamValue };

/** `environment.outputs`: other runs whose outputs are mounted read-only. */
export interface OutputsRefs {
  jobs?: Array<string | number>;
  experiments?: Array<string | number>;
}

/** Pod-level settings, shared by every kind and by each replica entry. */
export interface PodEnvironment {
  resources?: Resources;
  node_selector?: Record<string, string>;
  tolerations?: K8sObject[];
  affinity?: K8sObject;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  service_account?: string;
  image_pull_secrets?: string[];
  max_restarts?: number;
  secret_refs?: string[];
  /** Also read from the deprecated spelling `configmap_refs`. */
  config_map_refs?: string[];
  /** Also filled from the deprecated `persistence.data`. */
  data_refs?: string[];
  /** Also filled from the deprecated `persistence.outputs`. */
  artifact_refs?: string[];
  outputs?: OutputsRefs;
}

export interface ReplicaEnvironment extends PodEnvironment {
  index: number;
}

export interface Replicas {
  n_workers?: number;
  /** tensorflow and mxnet only. */
  n_ps?: number;
  /** tensorflow only. */
  delay_workers_by_global_step?: boolean;
  default_worker?: PodEnvironment;
  default_ps?: PodEnvironment;
  worker?: ReplicaEnvironment[];
  ps?: ReplicaEnvironment[];
}

export interface Environment extends PodEnvironment {
  /** experiment and group only; needs a `framework` (tensorflow, mxnet, pytorch, horovod) or `backend: mpi`. */
  replicas?: Replicas;
}

export type DistributedFramework = 'tensorflow' | 'mxnet' | 'pytorch' | 'horovod';

// ---------------------------------------------------------------- build & run

export type BuildBackend = 'native' | 'kaniko' | 'other';

export interface Build {
  image?: string;
  dockerfile?: string;
  /** A build reference; numbers are converted to strings. */
  ref?: string;
  context?: string;
  build_steps?: string[];
  /** `[KEY, VALUE]` pairs; values are converted to strings. */
  env_vars?: Array<[string, string]>;
  lang_env?: string;
  commit?: string;
  branch?: string;
  nocache?: boolean;
  backend?: BuildBackend;
  /** Scheduling of the build pod itself. */
  environment?: PodEnvironment;
}

export interface Run {
  /** As written (after joining `\` line continuations); templates are not rendered here. */
  cmd: string | string[];
}

export type ExperimentBackend = 'native' | 'kubeflow' | 'mpi' | 'other';
export type NotebookBackend = 'notebook' | 'lab';

// ---------------------------------------------------------------- hptuning

export type Optimization = 'maximize' | 'minimize';

export interface SearchMetric {
  name: string;
  optimization: Optimization;
}

export interface MatrixValues {
  kind: 'values';
  values: ParamValue[];
}
/** Weighted choice; `probabilities` are normalised to sum to 1. */
export interface MatrixPValues {
  kind: 'pvalues';
  values: ParamValue[];
  probabilities: number[];
}
/** numpy.arange semantics: start, start+step, ... < stop. */
export interface MatrixRange {
  kind: 'range';
  start: number;
  stop: number;
  step: number;
}
export interface MatrixLinSpace {
  kind: 'linspace';
  start: number;
  stop: number;
  num: number;
}
/** numpy.logspace semantics: base ** linspace(start, stop, num). */
export interface MatrixLogSpace {
  kind: 'logspace';
  start: number;
  stop: number;
  num: number;
  base: number;
}
export interface MatrixGeomSpace {
  kind: 'geomspace';
  start: number;
  stop: number;
  num: number;
}
export interface MatrixUniform {
  kind: 'uniform';
  low: number;
  high: number;
  size?: number;
}
export interface MatrixQUniform {
  kind: 'quniform';
  low: number;
  high: number;
  q: number;
  size?: number;
}
/** exp(U(low, high)): the bounds are in log space (Polyaxon and hyperopt semantics). */
export interface MatrixLogUniform {
  kind: 'loguniform';
  low: number;
  high: number;
  size?: number;
}
export interface MatrixQLogUniform {
  kind: 'qloguniform';
  low: number;
  high: number;
  q: number;
  size?: number;
}
export interface MatrixNormal {
  kind: 'normal';
  loc: number;
  scale: number;
  size?: number;
}
export interface MatrixQNormal {
  kind: 'qnormal';
  loc: number;
  scale: number;
  q: number;
  size?: number;
}
/** exp(N(loc, scale)). */
export interface MatrixLogNormal {
  kind: 'lognormal';
  loc: number;
  scale: number;
  size?: number;
}
export interface MatrixQLogNormal {
  kind: 'qlognormal';
  loc: number;
  scale: number;
  q: number;
  size?: number;
}

export type MatrixDiscreteOption = MatrixValues | MatrixRange | MatrixLinSpace | MatrixLogSpace | MatrixGeomSpace;
export type MatrixContinuousOption =
  | MatrixUniform
  | MatrixQUniform
  | MatrixLogUniform
  | MatrixQLogUniform
  | MatrixNormal
  | MatrixQNormal
  | MatrixLogNormal
  | MatrixQLogNormal;
/** `pvalues` plus the continuous options. */
export type MatrixDistribution = MatrixPValues | MatrixContinuousOption;
export type MatrixOption = MatrixDiscreteOption | MatrixDistribution;
export type MatrixOptionKind = MatrixOption['kind'];
export type Matrix = Record<string, MatrixOption>;

export interface GridSearch {
  /** Caps the number of enumerated combinations. */
  n_experiments?: number;
}
export interface RandomSearch {
  n_experiments: number;
}
export interface HyperbandResource {
  name: string;
  type: 'int' | 'float';
}
export interface Hyperband {
  max_iter: number;
  eta: number;
  resource: HyperbandResource;
  metric: SearchMetric;
  resume: boolean;
}
export interface GaussianProcess {
  kernel: 'matern' | 'rbf';
  length_scale: number;
  nu: number;
  n_restarts_optimizer: number;
}
export interface UtilityFunction {
  acquisition_function: 'ucb' | 'ei' | 'poi';
  /** Required for ucb. */
  kappa?: number;
  /** Required for ei and poi. */
  eps?: number;
  n_warmup: number;
  n_iter: number;
  gaussian_process: GaussianProcess;
}
export interface BO {
  n_initial_trials: number;
  n_iterations: number;
  metric: SearchMetric;
  utility_function: UtilityFunction;
}
/** Myelin extension: Tree-structured Parzen Estimator. */
export interface TPE {
  n_experiments: number;
  n_initial_trials: number;
  metric: SearchMetric;
}
/** Myelin extension: asynchronous successive halving. */
export interface ASHA {
  n_experiments: number;
  resource: HyperbandResource;
  min_resource: number;
  max_resource: number;
  reduction_factor: number;
  metric: SearchMetric;
}

export type SearchAlgorithm = 'grid_search' | 'random_search' | 'hyperband' | 'bo' | 'tpe' | 'asha';
export const SEARCH_ALGORITHMS: readonly SearchAlgorithm[] = ['grid_search', 'random_search', 'hyperband', 'bo', 'tpe', 'asha'];

/** Polyaxon's threshold rule: stop the group once any experiment's metric crosses `value`. */
export interface MetricEarlyStopping {
  kind: 'metric';
  metric: string;
  value: number;
  optimization: Optimization;
}
/** Stop a trial whose best value so far is worse than the median (or average) of the other trials at the same step. */
export interface MedianStoppingPolicy {
  kind: 'median' | 'average';
  metric: string;
  optimization: Optimization;
  /** Trials that must have reported before the rule applies (default 5). */
  min_trials: number;
  /** Steps a trial runs before it can be stopped (default 0). */
  min_steps: number;
  /** Apply every N reported steps (default 1). */
  evaluation_interval: number;
}
/** Stop the worst `percent` % of the running trials at each evaluation. */
export interface TruncationStoppingPolicy {
  kind: 'truncation';
  metric: string;
  optimization: Optimization;
  percent: number;
  min_trials: number;
  min_steps: number;
  evaluation_interval: number;
}
export type EarlyStoppingPolicy = MedianStoppingPolicy | TruncationStoppingPolicy;
export type EarlyStopping = MetricEarlyStopping | EarlyStoppingPolicy;

export interface HPTuning {
  seed?: number;
  /** Default 1. */
  concurrency: number;
  matrix: Matrix;
  grid_search?: GridSearch;
  random_search?: RandomSearch;
  hyperband?: Hyperband;
  bo?: BO;
  tpe?: TPE;
  asha?: ASHA;
  early_stopping: EarlyStopping[];
}

// ---------------------------------------------------------------- pipelines

export type TriggerPolicy = 'all_succeeded' | 'all_failed' | 'all_done' | 'one_succeeded' | 'one_failed' | 'one_done';

/** Exactly one field is set. */
export interface TemplateRef {
  name?: string;
  url?: string;
  path?: string;
  action?: string;
  event?: string;
}

export interface StatusCondition {
  kind: 'status';
  op: string;
  trigger: 'succeeded' | 'failed' | 'done';
}
export interface OutputsCondition {
  kind: 'outputs';
  op: string;
  exp: 'eq' | 'ne';
  params: Array<[string, ParamValue]>;
}
export type OpCondition = StatusCondition | OutputsCondition;

export interface PipelineOp {
  name: string;
  template: TemplateRef;
  description?: string;
  tags?: string[];
  logging?: Logging;
  /** Raw values or `{{ ops.<op>.outputs.<name> }}` references (kept unrendered). */
  params: Record<string, ParamValue>;
  environment?: Environment;
  build?: Build;
  /** Explicit `dependencies` (references in params and conditions add implicit ones, see `CompiledPipeline`). */
  dependencies: string[];
  trigger: TriggerPolicy;
  /** Always a list here (Polyaxon allowed one condition). */
  conditions: OpCondition[];
  max_retries?: number;
  retry_delay?: number;
  retry_exp_backoff?: boolean;
  max_retry_delay?: number;
  skip_on_upstream_skip?: boolean;
  concurrency?: number;
  execute_at?: string;
  timeout?: number;
  /** Myelin extension: reuse the outputs of an earlier run of the same op with the same params. */
  cache?: boolean;
}

/**
 * Myelin extension: what a schedule does with the slots it missed (the service was down, or the
 * schedule paused): start the newest only, every one in turn, or none. Default: the service's
 * MYELIN_SCHEDULE_CATCH_UP.
 */
export const SCHEDULE_CATCH_UPS = ['latest', 'all', 'none'] as const;
export type ScheduleCatchUp = (typeof SCHEDULE_CATCH_UPS)[number];
export interface IntervalSchedule {
  kind: 'interval';
  start_at: string;
  end_at?: string;
  frequency: number;
  depends_on_past?: boolean;
  catch_up?: ScheduleCatchUp;
}
export interface CronSchedule {
  kind: 'cron';
  cron: string;
  start_at?: string;
  end_at?: string;
  depends_on_past?: boolean;
  catch_up?: ScheduleCatchUp;
}
export type Schedule = IntervalSchedule | CronSchedule;

/** An inline template of a pipeline: a polyaxonfile of another kind, with a required name. */
export type PipelineTemplate = PolyaxonFile & { name: string };

// ---------------------------------------------------------------- file

export interface PolyaxonFile {
  version: number;
  kind: SpecKind;
  name?: string;
  description?: string;
  tags?: string[];
  logging?: Logging;
  /** Declared params (`declarations` in 0.4 files); templates in them are not rendered. */
  params?: Record<string, ParamValue>;
  inputs?: IOSpec[];
  outputs?: IOSpec[];
  /** experiment/group: ExperimentBackend; notebook: NotebookBackend; build: BuildBackend; job/pipeline: free. */
  backend?: string;
  /** Free label (keras, xgboost, ...), lower-cased; checked only when `environment.replicas` is set. */
  framework?: string;
  environment?: Environment;
  /** For `kind: build` the top-level build fields are gathered here. */
  build?: Build;
  run?: Run;
  hptuning?: HPTuning;
  // pipeline
  ops?: PipelineOp[];
  templates?: PipelineTemplate[];
  schedule?: Schedule;
  concurrency?: number;
  execute_at?: string;
  timeout?: number;
}
