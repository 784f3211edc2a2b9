/**
 * Matrix options: parsing of the list / dict / "a:b:c" forms into one canonical shape,
 * expansion of discrete options, description and reference sampling of distributions.
 */
import { Checker, isNull, join, readAny } from './checker';
import { didYouMean } from './errors';
import { pyNumber, pyRepr } from './template';
import {
  Matrix,
  MatrixContinuousOption,
  MatrixDistribution,
  MatrixOption,
  MatrixOptionKind,
  ParamValue,
} from './types';
import { describeNode, YMap, YNode } from './yaml-tree';

interface NumericForm {
  required: readonly string[];
  optional: readonly string[];
}

const NUMERIC_FORMS: Record<Exclude<MatrixOptionKind, 'values' | 'pvalues'>, NumericForm> = {
  range: { required: ['start', 'stop', 'step'], optional: [] },
  linspace: { required: ['start', 'stop', 'num'], optional: [] },
  logspace: { required: ['start', 'stop', 'num'], optional: ['base'] },
  geomspace: { required: ['start', 'stop', 'num'], optional: [] },
  uniform: { required: ['low', 'high'], optional: ['size'] },
  quniform: { required: ['low', 'high', 'q'], optional: ['size'] },
  loguniform: { required: ['low', 'high'], optional: ['size'] },
  qloguniform: { required: ['low', 'high', 'q'], optional: ['size'] },
  normal: { required: ['loc', 'scale'], optional: ['size'] },
  qnormal: { required: ['loc', 'scale', 'q'], optional: ['size'] },
  lognormal: { required: ['loc', 'scale'], optional: ['size'] },
  qlognormal: { required: ['loc', 'scale', 'q'], optional: ['size'] },
};

export const MATRIX_OPTION_KINDS: readonly MatrixOptionKind[] = [
  'values',
  'pvalues',
  'range',
  'linspace',
  'logspace',
  'geomspace',
  'uniform',
  'quniform',
  'loguniform',
  'qloguniform',
  'normal',
  'qnormal',
  'lognormal',
  'qlognormal',
];

const CONTINUOUS = new Set<MatrixOptionKind>([
  'uniform',
  'quniform',
  'loguniform',
  'qloguniform',
  'normal',
  'qnormal',
  'lognormal',
  'qlognormal',
]);

/** pvalues and the continuous options (grid search rejects them). */
export function isDistribution(option: MatrixOption): boolean {
  return option.kind === 'pvalues' || CONTINUOUS.has(option.kind);
}

export function isContinuous(option: MatrixOption): option is MatrixContinuousOption {
  return CONTINUOUS.has(option.kind);
}

function formText(form: NumericForm): string {
  const req = form.required.join(':');
  return form.optional.length ? `"${req}" (or "${req}:${form.optional.join(':')}")` : `"${req}"`;
}

function formHelp(kind: string, form: NumericForm): string {
  const keys = [...form.required, ...form.optional.map((o) => `${o}?`)];
  return `expected ${formText(form)}, a list [${keys.join(', ')}] or a mapping {${keys.join(', ')}}`;
}

function parseNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(v)) return Number(v);
  return undefined;
}

/** Resolves a whole-value template (`values: "{{ choices }}"`) to a node. */
function resolveNode(c: Checker, node: YNode, path: string): YNode | undefined {
  const before = c.errors.length;
  const r = c.resolveWhole(node);
  for (let i = before; i < c.errors.length; i++) if (c.errors[i].path === '') c.errors[i].path = path;
  if (r === 'none') return node;
  if (r === undefined) return undefined;
  return toNode(r.value, node);
}

function toNode(v: ParamValue, at: YNode): YNode {
  const loc = at.loc;
  if (Array.isArray(v)) return { t: 'seq', loc, items: v.map((x) => toNode(x, at)) };
  if (v !== null && typeof v === 'object') {
    const entries = new Map();
    for (const [k, x] of Object.entries(v)) entries.set(k, { key: k, keyLoc: loc, value: toNode(x, at) });
    return { t: 'map', loc, entries };
  }
  return { t: 'scalar', loc, value: v, style: 'plain' };
}

function parseNumeric(
  c: Checker,
  kind: Exclude<MatrixOptionKind, 'values' | 'pvalues'>,
  raw: YNode,
  path: string,
): MatrixOption | undefined {
  const form = NUMERIC_FORMS[kind];
  const keys = [...form.required, ...form.optional];
  const node = resolveNode(c, raw, path);
  if (!node) return undefined;
  const vals: Record<string, number> = {};
  const fail = (at: YNode, msg?: string): undefined => {
    c.error(at, path, msg ?? formHelp(kind, form));
    return undefined;
  };
  if (node.t === 'scalar' && typeof node.value === 'string') {
    const parts = node.value.split(':');
    if (parts.length !== form.required.length && parts.length !== keys.length) return fail(node);
    for (let i = 0; i < parts.length; i++) {
      const n = parseNumber(parts[i]);
      if (n === undefined) return fail(node, `${keys[i]} must be a number, got ${JSON.stringify(parts[i].trim())} (${formHelp(kind, form)})`);
      vals[keys[i]] = n;
    }
  } else if (node.t === 'seq') {
    if (node.items.length !== form.required.length && node.items.length !== keys.length) {
      return fail(node, `expected ${form.required.length}${form.optional.length ? ` or ${keys.length}` : ''} elements [${keys.join(', ')}], got ${node.items.length}`);
    }
    for (let i = 0; i < node.items.length; i++) {
      const it = node.items[i];
      const n = it.t === 'scalar' ? parseNumber(it.value) : undefined;
      if (n === undefined) {
        c.error(it, join(path, i), `${keys[i]} must be a number, got ${describeNode(it)}`);
        return undefined;
      }
      vals[keys[i]] = n;
    }
  } else if (node.t === 'map') {
    let ok = true;
    for (const [k, e] of node.entries) {
      if (!keys.includes(k)) {
        c.error(e.keyLoc, join(path, k), `unexpected key \`${k}\`` + didYouMean(k, keys) + ` (${formHelp(kind, form)})`);
        ok = false;
        continue;
      }
      const n = e.value.t === 'scalar' ? parseNumber(e.value.value) : undefined;
      if (n === undefined) {
        c.error(e.value, join(path, k), `expected a number, got ${describeNode(e.value)}`);
        ok = false;
        continue;
      }
      vals[k] = n;
    }
    for (const k of form.required) {
      if (ok && !(k in vals) && !node.entries.has(k)) {
        c.error(node, join(path, k), `\`${k}\` is required (${formHelp(kind, form)})`);
        ok = false;
      }
    }
    if (!ok) return undefined;
  } else {
    return fail(node, `${formHelp(kind, form)}, got ${describeNode(node)}`);
  }
  return checkNumeric(c, kind, vals, node, path);
}

function checkNumeric(
  c: Checker,
  kind: Exclude<MatrixOptionKind, 'values' | 'pvalues'>,
  v: Record<string, number>,
  node: YNode,
  path: string,
): MatrixOption | undefined {
  const bad = (msg: string): undefined => {
    c.error(node, path, msg);
    return undefined;
  };
  if (v.size !== undefined && (!Number.isInteger(v.size) || v.size < 1)) return bad(`size must be a positive integer, got ${v.size}`);
  const size = v.size === undefined ? {} : { size: v.size };
  switch (kind) {
    case 'range':
      if (v.start >= v.stop) return bad(`stop must be greater than start, got start ${v.start}, stop ${v.stop}`);
      if (v.step <= 0) return bad(`step must be positive, got ${v.step}`);
      return { kind, start: v.start, stop: v.stop, step: v.step };
    case 'linspace':
    case 'logspace':
    case 'geomspace': {
      if (v.start >= v.stop) return bad(`stop must be greater than start, got start ${v.start}, stop ${v.stop}`);
      if (!Number.isInteger(v.num) || v.num < 1) return bad(`num must be a positive integer, got ${v.num}`);
      if (kind === 'geomspace') {
        if (v.start === 0 || v.stop === 0 || Math.sign(v.start) !== Math.sign(v.stop)) {
          return bad(`geomspace needs start and stop of the same sign and not 0, got ${v.start} and ${v.stop}`);
        }
        return { kind, start: v.start, stop: v.stop, num: v.num };
      }
      if (kind === 'logspace') {
        const base = v.base ?? 10;
        if (base <= 0 || base === 1) return bad(`base must be positive and not 1, got ${base}`);
        return { kind, start: v.start, stop: v.stop, num: v.num, base };
      }
      return { kind, start: v.start, stop: v.stop, num: v.num };
    }
    case 'uniform':
    case 'loguniform':
      if (v.low >= v.high) return bad(`high must be greater than low, got low ${v.low}, high ${v.high}`);
      return { kind, low: v.low, high: v.high, ...size };
    case 'quniform':
    case 'qloguniform':
      if (v.low >= v.high) return bad(`high must be greater than low, got low ${v.low}, high ${v.high}`);
      if (v.q <= 0) return bad(`q must be positive, got ${v.q}`);
      return { kind, low: v.low, high: v.high, q: v.q, ...size };
    case 'normal':
    case 'lognormal':
      if (v.scale <= 0) return bad(`scale must be positive, got ${v.scale}`);
      return { kind, loc: v.loc, scale: v.scale, ...size };
    case 'qnormal':
    case 'qlognormal':
      if (v.scale <= 0) return bad(`scale must be positive, got ${v.scale}`);
      if (v.q <= 0) return bad(`q must be positive, got ${v.q}`);
      return { kind, loc: v.loc, scale: v.scale, q: v.q, ...size };
  }
}

function parseValues(c: Checker, raw: YNode, path: string): MatrixOption | undefined {
  const node = resolveNode(c, raw, path);
  if (!node) return undefined;
  if (node.t !== 'seq') {
    c.error(node, path, `expected a list of values, got ${describeNode(node)}`);
    return undefined;
  }
  if (node.items.length === 0) {
    c.error(node, path, 'must list at least one value');
    return undefined;
  }
  return { kind: 'values', values: node.items.map((it, i) => readAny(c, it, join(path, i))) };
}

function parsePValues(c: Checker, raw: YNode, path: string): MatrixOption | undefined {
  const node = resolveNode(c, raw, path);
  if (!node) return undefined;
  if (node.t !== 'seq' || node.items.length === 0) {
    c.error(node, path, `expected a list of [value, probability] pairs, got ${describeNode(node)}`);
    return undefined;
  }
  const values: ParamValue[] = [];
  const probabilities: number[] = [];
  let ok = true;
  node.items.forEach((it, i) => {
    const p = join(path, i);
    if (it.t !== 'seq' || it.items.length !== 2) {
      c.error(it, p, `expected a [value, probability] pair, got ${describeNode(it)}`);
      ok = false;
      return;
    }
    const pr = it.items[1];
    const prob = pr.t === 'scalar' ? parseNumber(pr.value) : undefined;
    if (prob === undefined || prob < 0 || prob > 1) {
      c.error(pr, join(p, 1), `probability must be a number between 0 and 1, got ${describeNode(pr)}`);
      ok = false;
      return;
    }
    values.push(readAny(c, it.items[0], join(p, 0)));
    probabilities.push(prob);
  });
  if (!ok) return undefined;
  const sum = probabilities.reduce((a, b) => a + b, 0);
  if (sum > 1 + 1e-9) {
    c.error(node, path, `probabilities must sum to at most 1, got ${pyNumber(Number(sum.toPrecision(12)))}`);
    return undefined;
  }
  if (sum <= 0) {
    c.error(node, path, 'at least one probability must be positive');
    return undefined;
  }
  return { kind: 'pvalues', values, probabilities: probabilities.map((p) => clean(p / sum)) };
}

/** Parses one matrix entry (`{logspace: "0:1:5"}`), reporting errors under `path`. */
export function parseMatrixOption(c: Checker, node: YNode, path: string): MatrixOption | undefined {
  if (node.t !== 'map') {
    c.error(node, path, `expected a mapping with one of ${MATRIX_OPTION_KINDS.join(', ')}, got ${describeNode(node)}`);
    return undefined;
  }
  const keys = [...node.entries.keys()];
  const unknown = keys.filter((k) => !(MATRIX_OPTION_KINDS as readonly string[]).includes(k));
  for (const k of unknown) {
    const e = node.entries.get(k)!;
    c.error(e.keyLoc, join(path, k), `unknown matrix option \`${k}\`` + didYouMean(k, MATRIX_OPTION_KINDS));
  }
  if (unknown.length) return undefined;
  const set = keys.filter((k) => !isNull(node.entries.get(k)!.value));
  if (set.length !== 1) {
    c.error(
      node,
      path,
      set.length === 0
        ? `expected exactly one of ${MATRIX_OPTION_KINDS.join(', ')}`
        : `only one option per param, got ${set.map((k) => `\`${k}\``).join(' and ')}`,
    );
    return undefined;
  }
  const kind = set[0] as MatrixOptionKind;
  const value = node.entries.get(kind)!.value;
  const p = join(path, kind);
  if (kind === 'values') return parseValues(c, value, p);
  if (kind === 'pvalues') return parsePValues(c, value, p);
  return parseNumeric(c, kind, value, p);
}

export function parseMatrix(c: Checker, map: YMap, path: string): Matrix {
  const out: Matrix = {};
  for (const [k, e] of map.entries) {
    const o = parseMatrixOption(c, e.value, join(path, k));
    if (o) out[k] = o;
  }
  return out;
}

// ---------------------------------------------------------------- expansion

/** Trims floating noise (0.30000000000000004 -> 0.3) while keeping integers exact. */
export function clean(x: number): number {
  if (Number.isInteger(x)) return x;
  return Number(x.toPrecision(12));
}

function linspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : start + i * step));
}

/** Number of values of a discrete option (without materialising huge ranges). */
export function optionSize(option: MatrixOption): number {
  switch (option.kind) {
    case 'values':
    case 'pvalues':
      return option.values.length;
    case 'range':
      return Math.max(0, Math.ceil(clean((option.stop - option.start) / option.step)));
    case 'linspace':
    case 'logspace':
    case 'geomspace':
      return option.num;
    default:
      throw new Error(`\`${option.kind}\` is a continuous distribution: it has no finite list of values`);
  }
}

/**
 * The values of a discrete option: `values`, the values of `pvalues`, `range` (numpy.arange),
 * `linspace`, `logspace`, `geomspace`. Throws for continuous distributions.
 */
export function expandMatrixOption(option: MatrixOption): ParamValue[] {
  switch (option.kind) {
    case 'values':
    case 'pvalues':
      return [...option.values];
    case 'range': {
      const n = optionSize(option);
      return Array.from({ length: n }, (_, i) => clean(option.start + i * option.step));
    }
    case 'linspace':
      return linspace(option.start, option.stop, option.num).map(clean);
    case 'logspace':
      return linspace(option.start, option.stop, option.num).map((e) => clean(Math.pow(option.base, e)));
    case 'geomspace': {
      const sign = Math.sign(option.start);
      const a = Math.log10(Math.abs(option.start));
      const b = Math.log10(Math.abs(option.stop));
      const vals = linspace(a, b, option.num).map((e) => sign * Math.pow(10, e));
      vals[0] = option.start;
      vals[vals.length - 1] = option.stop;
      return vals.map(clean);
    }
    default:
      throw new Error(`\`${option.kind}\` is a continuous distribution: sample it instead of expanding it`);
  }
}

/** Size of the full grid (product of option sizes); throws if an option is continuous. */
export function gridSize(matrix: Matrix): number {
  return Object.values(matrix).reduce((acc, o) => acc * optionSize(o), 1);
}

/** Enumerates the Cartesian product in matrix key order (first key varies slowest), up to `limit`. */
export function enumerateGrid(matrix: Matrix, limit = Infinity): Array<Record<string, ParamValue>> {
  const keys = Object.keys(matrix);
  const lists = keys.map((k) => expandMatrixOption(matrix[k]));
  const out: Array<Record<string, ParamValue>> = [];
  if (lists.some((l) => l.length === 0)) return out;
  const idx = new Array<number>(keys.length).fill(0);
  while (out.length < limit) {
    const row: Record<string, ParamValue> = {};
    keys.forEach((k, i) => (row[k] = lists[i][idx[i]]));
    out.push(row);
    let pos = keys.length - 1;
    while (pos >= 0) {
      idx[pos]++;
      if (idx[pos] < lists[pos].length) break;
      idx[pos] = 0;
      pos--;
    }
    if (pos < 0) break;
  }
  return out;
}

/** Inclusive numeric bounds of the values an option can produce (undefined when unbounded or categorical). */
export function optionBounds(option: MatrixOption): { min?: number; max?: number } {
  switch (option.kind) {
    case 'values':
    case 'pvalues': {
      const nums = option.values.filter((v): v is number => typeof v === 'number');
      if (nums.length !== option.values.length || nums.length === 0) return {};
      return { min: Math.min(...nums), max: Math.max(...nums) };
    }
    case 'range':
    case 'linspace':
    case 'logspace':
    case 'geomspace': {
      const vals = expandMatrixOption(option) as number[];
      return { min: Math.min(...vals), max: Math.max(...vals) };
    }
    case 'uniform':
      return { min: option.low, max: option.high };
    case 'quniform':
      return { min: Math.round(option.low / option.q) * option.q, max: Math.round(option.high / option.q) * option.q };
    case 'loguniform':
      return { min: Math.exp(option.low), max: Math.exp(option.high) };
    case 'qloguniform':
      return {
        min: Math.round(Math.exp(option.low) / option.q) * option.q,
        max: Math.round(Math.exp(option.high) / option.q) * option.q,
      };
    case 'lognormal':
      return { min: 0 };
    case 'qlognormal':
      return { min: 0 };
    default:
      return {};
  }
}

/** Short human description, e.g. `logspace 0..2 (5 values)` or `uniform [0, 1)`. */
export function describeMatrixOption(option: MatrixOption): string {
  const sz = 'size' in option && option.size !== undefined ? `, size ${option.size}` : '';
  switch (option.kind) {
    case 'values':
      return `values ${pyRepr(option.values)}`;
    case 'pvalues':
      return `pvalues ${option.values.map((v, i) => `${pyRepr(v)}: ${pyNumber(clean(option.probabilities[i]))}`).join(', ')}`;
    case 'range':
      return `range ${option.start}..${option.stop} step ${option.step} (${optionSize(option)} values)`;
    case 'linspace':
    case 'geomspace':
      return `${option.kind} ${option.start}..${option.stop} (${option.num} values)`;
    case 'logspace':
      return `logspace ${option.base}^${option.start}..${option.base}^${option.stop} (${option.num} values)`;
    case 'uniform':
      return `uniform [${option.low}, ${option.high})${sz}`;
    case 'quniform':
      return `quniform [${option.low}, ${option.high}] q=${option.q}${sz}`;
    case 'loguniform':
      return `loguniform exp([${option.low}, ${option.high}))${sz}`;
    case 'qloguniform':
      return `qloguniform exp([${option.low}, ${option.high}]) q=${option.q}${sz}`;
    case 'normal':
      return `normal(${option.loc}, ${option.scale})${sz}`;
    case 'qnormal':
      return `qnormal(${option.loc}, ${option.scale}) q=${option.q}${sz}`;
    case 'lognormal':
      return `lognormal(${option.loc}, ${option.scale})${sz}`;
    case 'qlognormal':
      return `qlognormal(${option.loc}, ${option.scale}) q=${option.q}${sz}`;
  }
}

// ---------------------------------------------------------------- reference sampler

function gaussian(random: () => number): number {
  let u = 0;
  while (u === 0) u = random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function quantise(x: number, q: number): number {
  return clean(Math.round(x / q) * q);
}

function sampleOne(option: MatrixOption, random: () => number): ParamValue {
  switch (option.kind) {
    case 'values':
    case 'range':
    case 'linspace':
    case 'logspace':
    case 'geomspace': {
      const vals = expandMatrixOption(option);
      return vals[Math.min(vals.length - 1, Math.floor(random() * vals.length))];
    }
    case 'pvalues': {
      const r = random();
      let acc = 0;
      for (let i = 0; i < option.values.length; i++) {
        acc += option.probabilities[i];
        if (r < acc) return option.values[i];
      }
      return option.values[option.values.length - 1];
    }
    case 'uniform':
      return option.low + random() * (option.high - option.low);
    case 'quniform':
      return quantise(option.low + random() * (option.high - option.low), option.q);
    case 'loguniform':
      return Math.exp(option.low + random() * (option.high - option.low));
    case 'qloguniform':
      return quantise(Math.exp(option.low + random() * (option.high - option.low)), option.q);
    case 'normal':
      return option.loc + option.scale * gaussian(random);
    case 'qnormal':
      return quantise(option.loc + option.scale * gaussian(random), option.q);
    case 'lognormal':
      return Math.exp(option.loc + option.scale * gaussian(random));
    case 'qlognormal':
      return quantise(Math.exp(option.loc + option.scale * gaussian(random)), option.q);
  }
}

/**
 * Reference sampler (the search engine may use its own): quantised options round to the
 * nearest multiple of q (Polyaxon floored), `qlognormal` quantises (Polyaxon exponentiated twice),
 * `size` yields a list of `size` draws.
 */
export function sampleMatrixOption(option: MatrixOption, random: () => number = Math.random): ParamValue {
  if ('size' in option && option.size !== undefined) {
    return Array.from({ length: option.size }, () => sampleOne(option, random));
  }
  return sampleOne(option, random);
}

export function distributionOf(option: MatrixOption): MatrixDistribution | undefined {
  return isDistribution(option) ? (option as MatrixDistribution) : undefined;
}
