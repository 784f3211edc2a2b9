/**
 * Loads YAML into a small positioned tree (`YNode`) and deep-merges several files.
 * Every node remembers the file, line and column it came from, so errors found after
 * a merge still point at the file that supplied the value.
 */
import {
  Alias,
  Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  Node as YamlNode,
  parseAllDocuments,
  Scalar,
} from 'yaml';
import { SpecError } from './errors';

export interface SourceFile {
  path: string;
  content: string;
  lines: LineCounter;
}

export interface Loc {
  file: string;
  line: number;
  column: number;
}

export type ScalarStyle = 'plain' | 'single' | 'double' | 'literal' | 'folded';
export type ScalarValue = string | number | boolean | null;

export interface YScalar {
  t: 'scalar';
  loc: Loc;
  value: ScalarValue;
  style: ScalarStyle;
  /** Source slice of the scalar, used to place template errors precisely. */
  src?: { file: SourceFile; start: number; end: number };
}

export interface YEntry {
  key: string;
  keyLoc: Loc;
  value: YNode;
}

export interface YMap {
  t: 'map';
  loc: Loc;
  entries: Map<string, YEntry>;
}

export interface YSeq {
  t: 'seq';
  loc: Loc;
  items: YNode[];
}

export type YNode = YScalar | YMap | YSeq;

export function locAt(file: SourceFile, offset: number): Loc {
  const p = file.lines.linePos(offset);
  return { file: file.path, line: p.line, column: p.col };
}

/** Location of `offset` chars into a scalar's source (falls back to the scalar start). */
export function locInScalar(node: YScalar, needle: string, occurrence = 0): Loc {
  if (!node.src) return node.loc;
  const text = node.src.file.content.slice(node.src.start, node.src.end);
  let idx = -1;
  let from = 0;
  for (let i = 0; i <= occurrence; i++) {
    idx = text.indexOf(needle, from);
    if (idx < 0) break;
    from = idx + 1;
  }
  if (idx < 0) return node.loc;
  return locAt(node.src.file, node.src.start + idx);
}

/** Plain/single-quoted multi-line scalars: re-fold from the source, dropping shell `\` line continuations. */
function refold(raw: string, style: 'plain' | 'single'): string {
  let text = raw;
  if (style === 'single') {
    text = text.replace(/^'/, '').replace(/'$/, '');
  }
  const lines = text.split(/\r?\n/);
  let out = '';
  let pendingBreak = false;
  lines.forEach((line, i) => {
    let l = i === 0 ? line.trimEnd() : line.trim();
    if (i < lines.length - 1 && l.endsWith('\\')) l = l.slice(0, -1).trimEnd();
    if (l === '') {
      if (i > 0 && i < lines.length - 1) {
        out += '\n';
        pendingBreak = true;
      }
      return;
    }
    if (out === '' || pendingBreak) out += l;
    else out += ' ' + l;
    pendingBreak = false;
  });
  if (style === 'single') out = out.replace(/''/g, "'");
  return out;
}

interface BuildCtx {
  file: SourceFile;
  doc: Document;
  errors: SpecError[];
  aliasDepth: number;
}

function styleOf(s: Scalar): ScalarStyle {
  switch (s.type) {
    case Scalar.QUOTE_SINGLE:
      return 'single';
    case Scalar.QUOTE_DOUBLE:
      return 'double';
    case Scalar.BLOCK_LITERAL:
      return 'literal';
    case Scalar.BLOCK_FOLDED:
      return 'folded';
    default:
      return 'plain';
  }
}

function scalarFrom(ctx: BuildCtx, s: Scalar): YScalar {
  const start = s.range?.[0] ?? 0;
  const end = s.range?.[1] ?? start;
  const loc = locAt(ctx.file, start);
  const style = styleOf(s);
  let value: ScalarValue;
  const v: unknown = s.value;
  if (v === null || v === undefined) value = null;
  else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') value = v;
  else if (typeof v === 'bigint') value = Number(v);
  else value = String(v);
  if (typeof value === 'string') {
    const raw = ctx.file.content.slice(start, end);
    if ((style === 'plain' || style === 'single') && /\n/.test(raw)) value = refold(raw, style);
    else if (style === 'folded') value = value.replace(/ \\ /g, ' ').replace(/ \\\n/g, '\n');
  }
  return { t: 'scalar', loc, value, style, src: { file: ctx.file, start, end } };
}

function isUnquotedTemplate(n: YamlNode): boolean {
  // `key: {{ name }}` parses as a flow map whose single key is another flow map
  if (!isMap(n) || !n.flow || n.items.length !== 1) return false;
  const inner = n.items[0].key;
  return isMap(inner) && inner.flow === true && n.items[0].value == null;
}

function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

function build(ctx: BuildCtx, n: YamlNode | null | undefined, fallback: Loc, path: string): YNode {
  if (n === null || n === undefined) return { t: 'scalar', loc: fallback, value: null, style: 'plain' };
  if (isAlias(n)) {
    const target = (n as Alias).resolve(ctx.doc);
    if (!target || ctx.aliasDepth > 50) {
      ctx.errors.push({ ...locAt(ctx.file, n.range?.[0] ?? 0), path, message: `unknown alias *${n.source}` });
      return { t: 'scalar', loc: fallback, value: null, style: 'plain' };
    }
    ctx.aliasDepth++;
    const r = build(ctx, target as YamlNode, fallback, path);
    ctx.aliasDepth--;
    return r;
  }
  const loc = n.range ? locAt(ctx.file, n.range[0]) : fallback;
  if (isScalar(n)) return scalarFrom(ctx, n);
  if (isSeq(n)) {
    return { t: 'seq', loc, items: n.items.map((it, i) => build(ctx, it as YamlNode, loc, childPath(path, i))) };
  }
  if (isMap(n)) {
    if (isUnquotedTemplate(n)) {
      const text = ctx.file.content.slice(n.range?.[0] ?? 0, n.range?.[1] ?? 0).trim();
      ctx.errors.push({
        ...loc,
        path,
        message: `a value starting with \`{{\` must be quoted in YAML: write "${text}"`,
      });
      return { t: 'scalar', loc, value: text, style: 'double' };
    }
    const map: YMap = { t: 'map', loc, entries: new Map() };
    const merges: YNode[] = [];
    for (const pair of n.items) {
      if (!isPair(pair)) continue;
      const k = pair.key as YamlNode | null;
      const keyLoc = k && k.range ? locAt(ctx.file, k.range[0]) : loc;
      let key: string;
      if (k && isScalar(k)) {
        const kv: unknown = k.value;
        if (kv === null || kv === undefined) {
          ctx.errors.push({ ...keyLoc, path, message: 'a mapping key cannot be empty' });
          continue;
        }
        key = String(kv);
      } else {
        ctx.errors.push({ ...keyLoc, path, message: 'mapping keys must be plain scalars' });
        continue;
      }
      const valueFallback = k && k.range ? locAt(ctx.file, k.range[1]) : loc;
      const value = build(ctx, pair.value as YamlNode | null, valueFallback, childPath(path, key));
      if (key === '<<' && k && isScalar(k) && k.type === Scalar.PLAIN) {
        merges.push(value);
        continue;
      }
      map.entries.set(key, { key, keyLoc, value });
    }
    // YAML merge keys (`<<: *defaults`): explicit keys win
    for (const m of merges) {
      const sources = m.t === 'seq' ? m.items : [m];
      for (const s of sources) {
        if (s.t !== 'map') continue;
        for (const [k, e] of s.entries) if (!map.entries.has(k)) map.entries.set(k, e);
      }
    }
    return map;
  }
  return { t: 'scalar', loc, value: null, style: 'plain' };
}

export interface LoadedFile {
  file: SourceFile;
  root: YNode | undefined;
}

/** Parses one source; YAML syntax problems are reported with their position. */
export function loadYaml(path: string, content: string, errors: SpecError[]): LoadedFile {
  const lines = new LineCounter();
  const file: SourceFile = { path, content, lines };
  const docs = parseAllDocuments(content, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, strict: false });
  const list = Array.isArray(docs) ? docs : [];
  const start = { file: path, line: 1, column: 1 };
  let root: YNode | undefined;
  let count = 0;
  for (const doc of list) {
    for (const e of doc.errors) {
      const loc = locAt(file, e.pos[0]);
      const msg = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      errors.push({ ...loc, path: '', message: `invalid YAML: ${msg}` });
    }
    if (doc.errors.length) return { file, root: undefined };
    if (doc.contents === null || doc.contents === undefined) continue;
    count++;
    if (count > 1) {
      const loc = doc.contents.range ? locAt(file, doc.contents.range[0]) : start;
      errors.push({ ...loc, path: '', message: 'a polyaxonfile holds one YAML document; pass several files with several `-f`' });
      return { file, root: undefined };
    }
    const ctx: BuildCtx = { file, doc, errors, aliasDepth: 0 };
    root = build(ctx, doc.contents as YamlNode, start, '');
  }
  if (root === undefined) {
    errors.push({ ...start, path: '', message: 'the file is empty' });
  }
  return { file, root };
}

/** Deep merge, later wins; mappings merge key by key, anything else is replaced (docker-compose style). */
export function mergeNodes(a: YNode, b: YNode): YNode {
  if (a.t !== 'map' || b.t !== 'map') return b;
  const entries = new Map<string, YEntry>(a.entries);
  for (const [k, eb] of b.entries) {
    const ea = entries.get(k);
    if (ea && ea.value.t === 'map' && eb.value.t === 'map') {
      entries.set(k, { key: eb.key, keyLoc: eb.keyLoc, value: mergeNodes(ea.value, eb.value) });
    } else {
      entries.set(k, eb);
    }
  }
  return { t: 'map', loc: a.loc, entries };
}

/** Converts a subtree to a plain JSON-like value. */
export function toPlain(n: YNode): unknown {
  switch (n.t) {
    case 'scalar':
      return n.value;
    case 'seq':
      return n.items.map(toPlain);
    case 'map': {
      const o: Record<string, unknown> = {};
      for (const [k, e] of n.entries) o[k] = toPlain(e.value);
      return o;
    }
  }
}

export function describeNode(n: YNode): string {
  if (n.t === 'map') return 'a mapping';
  if (n.t === 'seq') return 'a list';
  const v = n.value;
  if (v === null) return 'null';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 37) + '...' : v)}`;
  if (typeof v === 'boolean') return `the boolean ${v}`;
  return `the number ${v}`;
}
