/**
 * grid_search: the Cartesian product of every option's values in matrix key order (first key varies
 * slowest, as `enumerateGrid` of @myelin/spec), capped by `n_experiments`. Combinations are computed
 * from a cursor, so a huge grid costs nothing until it is walked.
 */
import { expandMatrixOption, isDistribution } from '@myelin/spec';
import type { GridSearch, Matrix, ParamValue } from '@myelin/spec';
import type { Algorithm, Next } from '../core/algorithm';
import { HpoError } from '../core/errors';

export interface GridState {
  cursor: number;
}

export class GridSearchAlgorithm implements Algorithm {
  private readonly keys: string[];
  private readonly lists: ParamValue[][];
  readonly total: number;
  private cursor: number;

  constructor(matrix: Matrix, config: GridSearch | undefined, state?: GridState) {
    this.keys = Object.keys(matrix);
    for (const k of this.keys) {
      if (isDistribution(matrix[k])) {
        throw new HpoError('unsupported-space', `grid_search cannot enumerate \`${k}\` (${matrix[k].kind}): use values/range/linspace/logspace/geomspace`);
      }
    }
    this.lists = this.keys.map((k) => expandMatrixOption(matrix[k]));
    const size = this.lists.reduce((acc, l) => acc * l.length, 1);
    this.total = Math.min(size, config?.n_experiments ?? Infinity);
    this.cursor = state?.cursor ?? 0;
  }

  /** The i-th combination of the grid. */
  combination(i: number): Record<string, ParamValue> {
    const out: Record<string, ParamValue> = {};
    let rest = i;
    for (let k = this.keys.length - 1; k >= 0; k--) {
      const n = this.lists[k].length;
      out[this.keys[k]] = this.lists[k][rest % n];
      rest = Math.floor(rest / n);
    }
    // Keep matrix key order in the object.
    const ordered: Record<string, ParamValue> = {};
    for (const k of this.keys) ordered[k] = out[k];
    return ordered;
  }

  next(): Next {
    if (this.cursor >= this.total) return 'done';
    return { params: this.combination(this.cursor++) };
  }

  exhausted(): boolean {
    return this.cursor >= this.total;
  }

  toJSON(): GridState {
    return { cursor: this.cursor };
  }
}
