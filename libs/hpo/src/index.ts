// @myelin/hpo: hyperparameter search behind one ask/tell interface. See README.md.
export { createOptimizer, restoreOptimizer, searchMetricOf } from './create';
export type {
  Optimizer,
  OptimizerOptions,
  OptimizerProgress,
  OptimizerState,
  StopDecision,
  Trial,
  TrialRecord,
  TrialReport,
  TrialStatus,
} from './core/types';
export { HpoError } from './core/errors';
export type { HpoErrorCode } from './core/errors';
export { EarlyStopper } from './early-stopping/early-stopper';
export type { EarlyStopperState } from './early-stopping/early-stopper';
export { Rng } from './core/rng';
export { SearchSpace } from './space/space';
export type { Dim, Params } from './space/space';
export { GaussianProcess, fitHyper } from './gp/gp';
export type { GPHyper } from './gp/gp';
export { correlation, matern, rbf } from './gp/kernels';
export { acquisition, expectedImprovement, probabilityOfImprovement, ucb } from './gp/acquisition';
export { ParzenEstimator } from './tpe/parzen';
