/** Entry points: build an optimizer for a parsed `hptuning` section, or restore one from its JSON state. */
import { searchAlgorithmOf } from '@myelin/spec';
import type { HPTuning, SearchAlgorithm, SearchMetric } from '@myelin/spec';
import type { Algorithm } from './core/algorithm';
import { HpoError } from './core/errors';
import { SearchOptimizer, STATE_FORMAT } from './core/optimizer';
import { toSeed } from './core/rng';
import type { Optimizer, OptimizerOptions, OptimizerState } from './core/types';
import { AshaAlgorithm, AshaState } from './algorithms/asha';
import { BOAlgorithm, BOState } from './algorithms/bo';
import { GridSearchAlgorithm, GridState } from './algorithms/grid';
import { HyperbandAlgorithm, HyperbandState } from './algorithms/hyperband';
import { RandomSearchAlgorithm, RandomState } from './algorithms/random';
import { TPEAlgorithm, TPEState } from './algorithms/tpe';
import { SearchSpace } from './space/space';

/** The metric `value` refers to: the algorithm's, else the caller's, else the first early-stopping rule's. */
export function searchMetricOf(hp: HPTuning, options: OptimizerOptions = {}): SearchMetric {
  const own = hp.hyperband?.metric ?? hp.bo?.metric ?? hp.tpe?.metric ?? hp.asha?.metric;
  if (own) return { ...own };
  if (options.metric) return { ...options.metric };
  const rule = hp.early_stopping[0];
  if (rule) return { name: rule.metric, optimization: rule.optimization };
  return { name: 'value', optimization: 'maximize' };
}

function algorithmFor(hp: HPTuning, algorithm: SearchAlgorithm, space: SearchSpace, state?: unknown): Algorithm {
  switch (algorithm) {
    case 'grid_search':
      return new GridSearchAlgorithm(hp.matrix, hp.grid_search, state as GridState | undefined);
    case 'random_search':
      return new RandomSearchAlgorithm(hp.matrix, hp.random_search!.n_experiments, state as RandomState | undefined);
    case 'hyperband':
      return new HyperbandAlgorithm(hp.matrix, hp.hyperband!, state as HyperbandState | undefined);
    case 'asha':
      return new AshaAlgorithm(hp.matrix, hp.asha!, state as AshaState | undefined);
    case 'bo':
      return new BOAlgorithm(hp.bo!, space, state as BOState | undefined);
    case 'tpe':
      return new TPEAlgorithm(hp.tpe!, space, state as TPEState | undefined);
  }
}

function build(hp: HPTuning, options: OptimizerOptions, state?: OptimizerState): Optimizer {
  if (!hp.matrix || Object.keys(hp.matrix).length === 0) throw new HpoError('empty-space', 'hptuning.matrix is empty: there is nothing to search');
  const algorithm = searchAlgorithmOf(hp);
  if (state && state.algorithm !== algorithm) {
    throw new HpoError('algorithm-mismatch', `the state was saved by ${state.algorithm}, the hptuning section uses ${algorithm}`);
  }
  const resource = hp.hyperband?.resource.name ?? hp.asha?.resource.name;
  if (resource !== undefined && resource in hp.matrix) {
    throw new HpoError('unsupported-space', `\`${resource}\` is the ${algorithm} resource: it cannot also be a matrix param`);
  }
  const space = new SearchSpace(hp.matrix);
  const seed = state?.seed ?? toSeed(options.seed ?? hp.seed ?? Math.floor(Math.random() * 0x7fffffff));
  return new SearchOptimizer({
    algorithm,
    impl: algorithmFor(hp, algorithm, space, state?.algo),
    space,
    metric: state?.metric ?? searchMetricOf(hp, options),
    concurrency: Math.max(1, hp.concurrency ?? 1),
    earlyStopping: hp.early_stopping ?? [],
    seed,
    ...(state ? { state } : {}),
  });
}

/** A fresh optimizer for `hptuning` (as parsed by @myelin/spec). */
export function createOptimizer(hptuning: HPTuning, options: OptimizerOptions = {}): Optimizer {
  return build(hptuning, options);
}

/** An optimizer continuing exactly where `state` (from `toJSON()`) stopped. */
export function restoreOptimizer(hptuning: HPTuning, state: OptimizerState): Optimizer {
  if (!state || state.format !== STATE_FORMAT) {
    throw new HpoError('invalid-state', `not an optimizer state (expected format ${STATE_FORMAT})`);
  }
  return build(hptuning, {}, state);
}
