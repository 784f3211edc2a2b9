export { formatSpecError, SpecValidationError } from './errors';
export type { SpecError } from './errors';
export { checkPolyaxonfiles, parsePolyaxonfiles, renderTrial } from './compile';
export type { CompiledSpec, CompileOptions } from './compile';
export type { CompiledPipeline } from './pipeline';
export { templateFileOf } from './pipeline';
export { summarizeSpec } from './summary';
export {
  describeMatrixOption,
  enumerateGrid,
  expandMatrixOption,
  gridSize,
  isContinuous,
  isDistribution,
  optionBounds,
  optionSize,
  sampleMatrixOption,
  MATRIX_OPTION_KINDS,
} from './matrix';
export { ashaRungs, experimentCount, hyperbandPlan, searchAlgorithmOf } from './budget';
export type { HyperbandBracket, HyperbandPlan, HyperbandRung } from './budget';
export { BUILTIN_CONTEXT_NAMES } from './context';
export { pyRepr, pyStr } from './template';
export { IO_TYPES, SCHEDULE_CATCH_UPS, SEARCH_ALGORITHMS, SPEC_KINDS } from './types';
export type * from './types';
