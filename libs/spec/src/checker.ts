/**
 * Field readers: each reads one node, reports what is wrong with its position and path,
 * and returns the typed value (or undefined when it could not).
 */
import { resolveExpr, TemplateScope } from './context';
import { didYouMean, SpecError } from './errors';
import { render, wholeTemplate } from './template';
import { ParamValue } from './types';
import { describeNode, Loc, locInScalar, YEntry, YMap, YNode, YSeq } from './yaml-tree';

export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

export class Checker {
  readonly errors: SpecError[] = [];

  constructor(public scope: TemplateScope) {}

  error(at: Loc | YNode, path: string, message: string): void {
    const loc = 'loc' in at ? at.loc : at;
    this.errors.push({ file: loc.file, line: loc.line, column: loc.column, path, message });
  }

  /** Reports template problems of a string scalar with the position of the offending `{{`. */
  templateErrors(node: YNode, path: string, errs: Array<{ start: number; message: string }>, text: string): void {
    for (const e of errs) {
      const needle = text.slice(e.start, e.start + 2);
      const occurrence = countOccurrences(text.slice(0, e.start), needle);
      const loc = node.t === 'scalar' ? locInScalar(node, needle, occurrence) : node.loc;
      this.error(loc, path, e.message);
    }
  }

  /** Checks that every template of a string field resolves (or is a known run-time placeholder). */
  checkTemplates(node: YNode, path: string, text: string, scope: TemplateScope = this.scope): void {
    if (!text.includes('{{') && !text.includes('{%')) return;
    const r = render(text, (e) => resolveExpr(scope, e));
    this.templateErrors(node, path, r.errors, text);
  }

  /**
   * A scalar written as a single `{{ name }}` where a number/bool/list is expected: resolved now
   * from compile-time params. Returns `undefined` (after reporting) when it cannot be.
   */
  resolveWhole(node: YNode): { node: YNode; value: ParamValue } | undefined | 'none' {
    if (node.t !== 'scalar' || typeof node.value !== 'string') return 'none';
    const text = node.value;
    const whole = wholeTemplate(text);
    if (!whole) return 'none';
    const r = resolveExpr({ ...this.scope, final: true, deferred: new Set() }, whole);
    if (r.kind === 'value') return { node, value: r.value };
    if (r.kind === 'error') {
      const deferred = this.scope.deferred.has(whole.root);
      this.error(
        locInScalar(node, '{{'),
        '',
        deferred
          ? `\`${whole.root}\` is a matrix param: it has no value when the file is compiled, so it cannot be used here`
          : r.message,
      );
    } else {
      this.error(locInScalar(node, '{{'), '', `\`{{ ${whole.expr} }}\` has no value when the file is compiled, so it cannot be used here`);
    }
    return undefined;
  }
}

function countOccurrences(s: string, needle: string): number {
  let n = 0;
  let i = s.indexOf(needle);
  while (i >= 0) {
    n++;
    i = s.indexOf(needle, i + 1);
  }
  return n;
}

/** Fixes up errors reported with an empty path by `resolveWhole`. */
function fixPath(c: Checker, before: number, path: string): void {
  for (let i = before; i < c.errors.length; i++) if (c.errors[i].path === '') c.errors[i].path = path;
}

/** Replaces a whole-template scalar by its value, as a synthetic node with the same location. */
function deTemplate(c: Checker, node: YNode, path: string): YNode | undefined {
  const before = c.errors.length;
  const r = c.resolveWhole(node);
  fixPath(c, before, path);
  if (r === 'none') return node;
  if (r === undefined) return undefined;
  return valueToNode(r.value, node.loc);
}

export function valueToNode(v: ParamValue, loc: Loc): YNode {
  if (Array.isArray(v)) return { t: 'seq', loc, items: v.map((x) => valueToNode(x, loc)) };
  if (v !== null && typeof v === 'object') {
    const entries = new Map<string, YEntry>();
    for (const [k, x] of Object.entries(v)) entries.set(k, { key: k, keyLoc: loc, value: valueToNode(x, loc) });
    return { t: 'map', loc, entries };
  }
  return { t: 'scalar', loc, value: v, style: 'plain' };
}

// ---------------------------------------------------------------- structure

export function isNull(n: YNode | undefined): boolean {
  return n === undefined || (n.t === 'scalar' && n.value === null);
}

export function asMap(c: Checker, node: YNode | undefined, path: string, what = 'a mapping'): YMap | undefined {
  if (node === undefined || isNull(node)) return undefined;
  if (node.t !== 'map') {
    c.error(node, path, `expected ${what}, got ${describeNode(node)}`);
    return undefined;
  }
  return node;
}

export function asSeq(c: Checker, node: YNode | undefined, path: string, what = 'a list'): YSeq | undefined {
  if (node === undefined || isNull(node)) return undefined;
  const n = deTemplate(c, node, path);
  if (n === undefined) return undefined;
  if (n.t !== 'seq') {
    c.error(n, path, `expected ${what}, got ${describeNode(n)}`);
    return undefined;
  }
  return n;
}

/** Reports keys outside `allowed`; `hints` gives a specific explanation for known mistakes. */
export function checkKeys(
  c: Checker,
  map: YMap,
  path: string,
  allowed: readonly string[],
  hints: Record<string, string> = {},
): void {
  for (const [k, e] of map.entries) {
    if (allowed.includes(k)) continue;
    const hint = hints[k];
    const msg = hint !== undefined ? `unexpected key \`${k}\`: ${hint}` : `unexpected key \`${k}\`` + didYouMean(k, allowed);
    c.error(e.keyLoc, join(path, k), msg);
  }
}

export function entry(map: YMap | undefined, key: string): YEntry | undefined {
  return map?.entries.get(key);
}

export function field(map: YMap | undefined, key: string): YNode | undefined {
  const e = map?.entries.get(key);
  return e?.value;
}

/** Reports a missing required field at the parent mapping. */
export function required(c: Checker, map: YMap, path: string, key: string, what?: string): YNode | undefined {
  const n = field(map, key);
  if (n === undefined || isNull(n)) {
    const at = n ?? map;
    c.error(at, join(path, key), `\`${key}\` is required` + (what ? ` (${what})` : ''));
    return undefined;
  }
  return n;
}

// ---------------------------------------------------------------- scalars

export interface StrOpts {
  /** Check `{{ }}` names (default true). */
  templates?: boolean;
  nonEmpty?: boolean;
  pattern?: RegExp;
  patternMsg?: string;
  /** Accept numbers and booleans, converting them to strings. */
  coerce?: boolean;
}

export function readStr(c: Checker, node: YNode | undefined, path: string, opts: StrOpts = {}): string | undefined {
  if (node === undefined || isNull(node)) return undefined;
  if (node.t !== 'scalar') {
    c.error(node, path, `expected a string, got ${describeNode(node)}`);
    return undefined;
  }
  let v = node.value;
  if (typeof v !== 'string') {
    if (opts.coerce && (typeof v === 'number' || typeof v === 'boolean')) v = String(v);
    else {
      c.error(node, path, `expected a string, got ${describeNode(node)}`);
      return undefined;
    }
  }
  if (opts.nonEmpty && v.trim() === '') {
    c.error(node, path, 'must not be empty');
    return undefined;
  }
  if (opts.pattern && !opts.pattern.test(v)) {
    c.error(node, path, opts.patternMsg ?? `invalid value ${JSON.stringify(v)}`);
    return undefined;
  }
  if (opts.templates !== false) c.checkTemplates(node, path, v);
  return v;
}

const TRUE_STRINGS = new Set(['t', 'true', 'on', 'y', 'yes', '1']);
const FALSE_STRINGS = new Set(['f', 'false', 'off', 'n', 'no', '0']);

export function readBool(c: Checker, node: YNode | undefined, path: string): boolean | undefined {
  if (node === undefined || isNull(node)) return undefined;
  const n = deTemplate(c, node, path);
  if (n === undefined) return undefined;
  if (n.t === 'scalar') {
    const v = n.value;
    if (typeof v === 'boolean') return v;
    if (v === 1 || v === 0) return v === 1;
    if (typeof v === 'string') {
      const l = v.trim().toLowerCase();
      if (TRUE_STRINGS.has(l)) return true;
      if (FALSE_STRINGS.has(l)) return false;
    }
  }
  c.error(n, path, `expected a boolean (true or false), got ${describeNode(n)}`);
  return undefined;
}

export interface NumOpts {
  int?: boolean;
  min?: number;
  /** exclusive minimum */
  gt?: number;
  max?: number;
  lt?: number;
}

export function readNum(c: Checker, node: YNode | undefined, path: string, opts: NumOpts = {}): number | undefined {
  if (node === undefined || isNull(node)) return undefined;
  const n = deTemplate(c, node, path);
  if (n === undefined) return undefined;
  let v: number | undefined;
  if (n.t === 'scalar') {
    if (typeof n.value === 'number') v = n.value;
    else if (typeof n.value === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(n.value)) v = Number(n.value);
  }
  const what = opts.int ? 'an integer' : 'a number';
  if (v === undefined || Number.isNaN(v) || !Number.isFinite(v)) {
    c.error(n, path, `expected ${what}, got ${describeNode(n)}`);
    return undefined;
  }
  if (opts.int && !Number.isInteger(v)) {
    c.error(n, path, `expected an integer, got ${v}`);
    return undefined;
  }
  if (opts.min !== undefined && v < opts.min) {
    c.error(n, path, `must be >= ${opts.min}, got ${v}`);
    return undefined;
  }
  if (opts.gt !== undefined && v <= opts.gt) {
    c.error(n, path, `must be > ${opts.gt}, got ${v}`);
    return undefined;
  }
  if (opts.max !== undefined && v > opts.max) {
    c.error(n, path, `must be <= ${opts.max}, got ${v}`);
    return undefined;
  }
  if (opts.lt !== undefined && v >= opts.lt) {
    c.error(n, path, `must be < ${opts.lt}, got ${v}`);
    return undefined;
  }
  return v;
}

export function readInt(c: Checker, node: YNode | undefined, path: string, opts: NumOpts = {}): number | undefined {
  return readNum(c, node, path, { ...opts, int: true });
}

/** Case-insensitive enum (Polyaxon accepted `ucb`, `UCB`, `Ucb`); returns the canonical spelling. */
export function readEnum<T extends string>(
  c: Checker,
  node: YNode | undefined,
  path: string,
  values: readonly T[],
  aliases: Record<string, T> = {},
): T | undefined {
  if (node === undefined || isNull(node)) return undefined;
  const n = deTemplate(c, node, path);
  if (n === undefined) return undefined;
  if (n.t !== 'scalar' || typeof n.value !== 'string') {
    c.error(n, path, `expected one of ${values.join(', ')}, got ${describeNode(n)}`);
    return undefined;
  }
  const l = n.value.trim().toLowerCase();
  const hit = values.find((v) => v.toLowerCase() === l) ?? aliases[l];
  if (hit === undefined) {
    c.error(n, path, `expected one of ${values.join(', ')}, got ${JSON.stringify(n.value)}` + didYouMean(l, values));
    return undefined;
  }
  return hit;
}

export function readStrList(c: Checker, node: YNode | undefined, path: string, opts: StrOpts = {}): string[] | undefined {
  const seq = asSeq(c, node, path, 'a list of strings');
  if (!seq) return undefined;
  const out: string[] = [];
  seq.items.forEach((it, i) => {
    const s = readStr(c, it, join(path, i), opts);
    if (s !== undefined) out.push(s);
    else if (isNull(it)) c.error(it, join(path, i), 'expected a string, got null');
  });
  return out;
}

/** A mapping whose values are scalars, stringified (node selectors, labels, annotations). */
export function readStrMap(c: Checker, node: YNode | undefined, path: string): Record<string, string> | undefined {
  const map = asMap(c, node, path);
  if (!map) return undefined;
  const out: Record<string, string> = {};
  for (const [k, e] of map.entries) {
    const v = e.value;
    if (v.t === 'scalar' && v.value === null) {
      c.error(v, join(path, k), 'expected a value, got null');
      continue;
    }
    const s = readStr(c, v, join(path, k), { coerce: true });
    if (s !== undefined) out[k] = s;
  }
  return out;
}

/** Any YAML value as a ParamValue (raw Kubernetes objects, params). Templates are checked. */
export function readAny(c: Checker, node: YNode, path: string, checkTemplates = true): ParamValue {
  switch (node.t) {
    case 'scalar':
      if (checkTemplates && typeof node.value === 'string') c.checkTemplates(node, path, node.value);
      return node.value;
    case 'seq':
      return node.items.map((it, i) => readAny(c, it, join(path, i), checkTemplates));
    case 'map': {
      const o: { [k: string]: ParamValue } = {};
      for (const [k, e] of node.entries) o[k] = readAny(c, e.value, join(path, k), checkTemplates);
      return o;
    }
  }
}

