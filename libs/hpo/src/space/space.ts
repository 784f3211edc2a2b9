/**
 * The search space of a matrix, as the model-based algorithms see it. Each matrix param becomes one
 * or more dimensions (`size: k` gives k) with an internal coordinate:
 *
 * - `float`: continuous coordinate u in [low, high]; the param value is u, exp(u) for the log kinds
 *   (`loguniform`, `lognormal`: bounds/parameters in log space, as libs/spec defines them), rounded to a
 *   multiple of q for the quantised kinds. `normal`-family options are boxed to loc +/- 4 scale and keep
 *   their normal prior.
 * - `ordinal`: the index into an ordered list of numbers (`range`, `linspace`, `logspace`, `geomspace`,
 *   all-numeric `values`), so logspace/geomspace are searched on their log scale for free.
 * - `categorical`: an index into `values` (anything non-numeric) or `pvalues` (weighted prior).
 *
 * BO encodes a point to [0, 1]^D (floats scaled, ordinals by index, categoricals one-hot); TPE works
 * on the coordinates directly.
 */
import { expandMatrixOption } from '@myelin/spec';
import type { Matrix, MatrixOption, ParamValue } from '@myelin/spec';
import type { Rng } from '../core/rng';
import { HpoError } from '../core/errors';

export type Params = Record<string, ParamValue>;

export interface FloatDim {
  kind: 'float';
  param: string;
  low: number;
  high: number;
  /** Exponentiate the coordinate to get the value. */
  log: boolean;
  /** Quantisation step of the value, if any. */
  q?: number;
  /** Normal prior (normal-family options); otherwise uniform on [low, high]. */
  prior?: { mu: number; sigma: number };
}
export interface OrdinalDim {
  kind: 'ordinal';
  param: string;
  values: number[];
}
export interface CategoricalDim {
  kind: 'categorical';
  param: string;
  values: ParamValue[];
  /** Prior probabilities (uniform for `values`, the given ones for `pvalues`). */
  weights: number[];
}
export type Dim = FloatDim | OrdinalDim | CategoricalDim;

interface ParamLayout {
  name: string;
  option: MatrixOption;
  /** Indices of its dimensions. */
  dims: number[];
  /** A list param (`size` set). */
  list: boolean;
}

/** Trims floating noise (0.30000000000000004 -> 0.3), as libs/spec does for its values. */
export function clean(x: number): number {
  return Number.isInteger(x) ? x : Number(x.toPrecision(12));
}

function quantise(x: number, q: number): number {
  return clean(Math.round(x / q) * q) + 0; // + 0 turns -0 into 0 (JSON has no -0)
}

const BOX = 4;

function dimsOf(name: string, option: MatrixOption): Dim[] {
  switch (option.kind) {
    case 'values': {
      const vals = option.values;
      if (vals.length > 0 && vals.every((v) => typeof v === 'number' && Number.isFinite(v))) {
        return [{ kind: 'ordinal', param: name, values: [...(vals as number[])].sort((a, b) => a - b) }];
      }
      return [{ kind: 'categorical', param: name, values: [...vals], weights: vals.map(() => 1 / vals.length) }];
    }
    case 'pvalues':
      return [{ kind: 'categorical', param: name, values: [...option.values], weights: [...option.probabilities] }];
    case 'range':
    case 'linspace':
    case 'logspace':
    case 'geomspace':
      return [{ kind: 'ordinal', param: name, values: (expandMatrixOption(option) as number[]).sort((a, b) => a - b) }];
    default: {
      const n = option.size ?? 1;
      const one = (): FloatDim => {
        switch (option.kind) {
          case 'uniform':
            return { kind: 'float', param: name, low: option.low, high: option.high, log: false };
          case 'quniform':
            return { kind: 'float', param: name, low: option.low, high: option.high, log: false, q: option.q };
          case 'loguniform':
            return { kind: 'float', param: name, low: option.low, high: option.high, log: true };
          case 'qloguniform':
            return { kind: 'float', param: name, low: option.low, high: option.high, log: true, q: option.q };
          case 'normal':
          case 'qnormal':
          case 'lognormal':
          case 'qlognormal': {
            const d: FloatDim = {
              kind: 'float',
              param: name,
              low: option.loc - BOX * option.scale,
              high: option.loc + BOX * option.scale,
              log: option.kind === 'lognormal' || option.kind === 'qlognormal',
              prior: { mu: option.loc, sigma: option.scale },
            };
            if (option.kind === 'qnormal' || option.kind === 'qlognormal') d.q = option.q;
            return d;
          }
        }
      };
      return Array.from({ length: n }, one);
    }
  }
}

export class SearchSpace {
  readonly dims: Dim[] = [];
  readonly params: ParamLayout[] = [];
  /** Length of the [0, 1] encoding (one-hot categoricals count their size). */
  readonly encodedSize: number;
  private readonly offsets: number[] = [];

  constructor(readonly matrix: Matrix) {
    for (const [name, option] of Object.entries(matrix)) {
      const ds = dimsOf(name, option);
      if (ds.some((d) => d.kind !== 'float' && d.values.length === 0)) {
        throw new HpoError('empty-space', `matrix param \`${name}\` has no values`);
      }
      const idx = ds.map((d) => {
        this.dims.push(d);
        return this.dims.length - 1;
      });
      this.params.push({ name, option, dims: idx, list: 'size' in option && option.size !== undefined });
    }
    let off = 0;
    for (const d of this.dims) {
      this.offsets.push(off);
      off += d.kind === 'categorical' ? d.values.length : 1;
    }
    this.encodedSize = off;
  }

  /** Number of distinct points when every dimension is discrete (ordinal or categorical), else Infinity. */
  finiteSize(): number {
    let n = 1;
    for (const d of this.dims) {
      if (d.kind === 'float') return Infinity;
      n *= d.values.length;
    }
    return n;
  }

  /** A coordinate vector drawn from the prior (uniform, the normal prior truncated to its box, pvalues weights). */
  sample(rng: Rng): number[] {
    return this.dims.map((d) => sampleDim(d, rng));
  }

  /** Param values of a coordinate vector, in matrix order. */
  decode(coords: readonly number[]): Params {
    const out: Params = {};
    for (const p of this.params) {
      const vals = p.dims.map((i) => decodeDim(this.dims[i], coords[i]));
      out[p.name] = p.list ? vals : vals[0];
    }
    return out;
  }

  /** Snaps each coordinate to the representative of its value (index rounding, quantisation). */
  snap(coords: readonly number[]): number[] {
    return coords.map((u, i) => snapDim(this.dims[i], u));
  }

  /** [0, 1]^encodedSize form for the GP. */
  encode(coords: readonly number[], out: Float64Array = new Float64Array(this.encodedSize)): Float64Array {
    this.dims.forEach((d, i) => {
      const o = this.offsets[i];
      const u = coords[i];
      switch (d.kind) {
        case 'float':
          out[o] = (u - d.low) / (d.high - d.low);
          break;
        case 'ordinal':
          out[o] = d.values.length > 1 ? u / (d.values.length - 1) : 0;
          break;
        case 'categorical':
          for (let k = 0; k < d.values.length; k++) out[o + k] = k === u ? 1 : 0;
          break;
      }
    });
    return out;
  }

  /** Coordinates of a point of the relaxed [0, 1] encoding (rounded/argmaxed and snapped). */
  fromEncoded(x: ArrayLike<number>): number[] {
    return this.dims.map((d, i) => {
      const o = this.offsets[i];
      switch (d.kind) {
        case 'float':
          return snapDim(d, d.low + Math.min(1, Math.max(0, x[o])) * (d.high - d.low));
        case 'ordinal':
          return d.values.length > 1 ? Math.round(Math.min(1, Math.max(0, x[o])) * (d.values.length - 1)) : 0;
        case 'categorical': {
          let best = 0;
          for (let k = 1; k < d.values.length; k++) if (x[o + k] > x[o + best]) best = k;
          return best;
        }
      }
    });
  }

  /** Which encoded columns belong to each dimension (offset, width). */
  encodedSlot(dim: number): { offset: number; width: number } {
    const d = this.dims[dim];
    return { offset: this.offsets[dim], width: d.kind === 'categorical' ? d.values.length : 1 };
  }
}

export function sampleDim(d: Dim, rng: Rng): number {
  switch (d.kind) {
    case 'float': {
      if (d.prior) {
        for (let i = 0; i < 100; i++) {
          const u = d.prior.mu + d.prior.sigma * rng.normal();
          if (u >= d.low && u <= d.high) return u;
        }
        return d.prior.mu;
      }
      return d.low + rng.uniform() * (d.high - d.low);
    }
    case 'ordinal':
      return rng.int(d.values.length);
    case 'categorical':
      return rng.weighted(d.weights);
  }
}

export function decodeDim(d: Dim, u: number): ParamValue {
  switch (d.kind) {
    case 'float': {
      const v = d.log ? Math.exp(u) : u;
      return d.q !== undefined ? quantise(v, d.q) : v;
    }
    case 'ordinal':
      return d.values[Math.min(d.values.length - 1, Math.max(0, Math.round(u)))];
    case 'categorical':
      return d.values[Math.min(d.values.length - 1, Math.max(0, Math.round(u)))];
  }
}

export function snapDim(d: Dim, u: number): number {
  switch (d.kind) {
    case 'float': {
      if (d.q === undefined) return u;
      const v = decodeDim(d, u) as number;
      if (!d.log) return v;
      return v > 0 ? Math.log(v) : u;
    }
    case 'ordinal':
    case 'categorical':
      return Math.min(d.values.length - 1, Math.max(0, Math.round(u)));
  }
}

/** Stable identity of a configuration (params are built in matrix order). */
export function paramsKey(params: Params): string {
  return JSON.stringify(params);
}

/**
 * Coordinates of a configuration not yet seen (`seen` tells by params), drawn from the prior; for small
 * finite spaces that are nearly used up, a weighted pick among what is left. Undefined when exhausted.
 */
export function sampleDistinct(space: SearchSpace, rng: Rng, seen: (p: Params) => boolean): number[] | undefined {
  for (let i = 0; i < 200; i++) {
    const c = space.sample(rng);
    if (!seen(space.decode(c))) return c;
  }
  const size = space.finiteSize();
  if (size <= 200_000) {
    const dims = space.dims;
    const left: number[][] = [];
    const weights: number[] = [];
    for (let i = 0; i < size; i++) {
      let rest = i;
      let w = 1;
      const c = new Array<number>(dims.length);
      for (let k = dims.length - 1; k >= 0; k--) {
        const d = dims[k] as OrdinalDim | CategoricalDim;
        c[k] = rest % d.values.length;
        rest = Math.floor(rest / d.values.length);
        if (d.kind === 'categorical') w *= d.weights[c[k]];
      }
      if (w > 0 && !seen(space.decode(c))) {
        left.push(c);
        weights.push(w);
      }
    }
    return left.length ? left[rng.weighted(weights)] : undefined;
  }
  for (let i = 0; i < 10_000; i++) {
    const c = space.sample(rng);
    if (!seen(space.decode(c))) return c;
  }
  return undefined;
}
