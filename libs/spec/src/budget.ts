/** How many experiments a group will create, per algorithm. */
import { gridSize, isContinuous } from './matrix';
import { ASHA, HPTuning, Hyperband, SearchAlgorithm } from './types';

export interface HyperbandRung {
  /** Configurations run in this rung. */
  n_configs: number;
  /** Resource given to each (cast to the resource type). */
  resource: number;
}
export interface HyperbandBracket {
  /** Bracket index s, from s_max down to 0. */
  bracket: number;
  rungs: HyperbandRung[];
}
export interface HyperbandPlan {
  s_max: number;
  /** Budget per bracket, (s_max + 1) * max_iter. */
  budget: number;
  brackets: HyperbandBracket[];
  /** Experiments created over all brackets and rungs (each rung starts or resumes its configurations as new experiments). */
  n_experiments: number;
}

/** floor(log_base(x)) that is exact on powers (log(81)/log(3) is 4, not 3.9999). */
export function floorLog(x: number, base: number): number {
  let s = Math.floor(Math.log(x) / Math.log(base) + 1e-9);
  while (Math.pow(base, s + 1) <= x * (1 + 1e-12)) s++;
  while (s > 0 && Math.pow(base, s) > x * (1 + 1e-12)) s--;
  return Math.max(0, s);
}

/**
 * Hyperband's brackets: s_max = floor(log_eta(max_iter)), B = (s_max + 1) * max_iter; bracket s starts
 * n = ceil(B / max_iter * eta^s / (s + 1)) configurations with resource r = max_iter * eta^-s and each
 * rung keeps floor(n_i / eta) of them with eta times the resource.
 */
export function hyperbandPlan(h: Pick<Hyperband, 'max_iter' | 'eta' | 'resource'>): HyperbandPlan {
  const { max_iter, eta } = h;
  const s_max = floorLog(max_iter, eta);
  const budget = (s_max + 1) * max_iter;
  const cast = (x: number): number => (h.resource.type === 'int' ? Math.round(x) : Number(x.toPrecision(12)));
  const brackets: HyperbandBracket[] = [];
  let total = 0;
  for (let s = s_max; s >= 0; s--) {
    const n = Math.ceil(Number(((budget / max_iter) * Math.pow(eta, s) / (s + 1)).toPrecision(12)));
    const r = max_iter * Math.pow(eta, -s);
    const rungs: HyperbandRung[] = [];
    for (let i = 0; i <= s; i++) {
      const ni = i === 0 ? n : Math.floor(Number((n * Math.pow(eta, -i)).toPrecision(12)));
      if (ni <= 0) break;
      rungs.push({ n_configs: ni, resource: cast(r * Math.pow(eta, i)) });
      total += ni;
    }
    brackets.push({ bracket: s, rungs });
  }
  return { s_max, budget, brackets, n_experiments: total };
}

/** ASHA rungs: min_resource * rf^k up to max_resource. */
export function ashaRungs(a: Pick<ASHA, 'min_resource' | 'max_resource' | 'reduction_factor' | 'resource'>): number[] {
  const out: number[] = [];
  const k = floorLog(a.max_resource / a.min_resource, a.reduction_factor);
  for (let i = 0; i <= k; i++) {
    const r = a.min_resource * Math.pow(a.reduction_factor, i);
    out.push(a.resource.type === 'int' ? Math.round(r) : Number(r.toPrecision(12)));
  }
  return out;
}

export function searchAlgorithmOf(hp: HPTuning): SearchAlgorithm {
  if (hp.random_search) return 'random_search';
  if (hp.hyperband) return 'hyperband';
  if (hp.bo) return 'bo';
  if (hp.tpe) return 'tpe';
  if (hp.asha) return 'asha';
  return 'grid_search';
}

/** Size of the search space when every option is discrete, else undefined. */
export function discreteSpaceSize(hp: HPTuning): number | undefined {
  const opts = Object.values(hp.matrix);
  if (opts.length === 0 || opts.some(isContinuous)) return undefined;
  return gridSize(hp.matrix);
}

/**
 * Number of experiments the group creates: grid = product of option sizes capped by
 * n_experiments; random = n_experiments (capped by a finite space); hyperband = the plan's
 * total; bo = n_initial_trials + n_iterations; tpe/asha = n_experiments.
 */
export function experimentCount(hp: HPTuning): number {
  switch (searchAlgorithmOf(hp)) {
    case 'grid_search': {
      const size = gridSize(hp.matrix);
      const cap = hp.grid_search?.n_experiments;
      return cap !== undefined ? Math.min(cap, size) : size;
    }
    case 'random_search': {
      const n = hp.random_search!.n_experiments;
      const space = discreteSpaceSize(hp);
      return space !== undefined ? Math.min(n, space) : n;
    }
    case 'hyperband':
      return hyperbandPlan(hp.hyperband!).n_experiments;
    case 'bo':
      return hp.bo!.n_initial_trials + hp.bo!.n_iterations;
    case 'tpe':
      return hp.tpe!.n_experiments;
    case 'asha':
      return hp.asha!.n_experiments;
  }
}
