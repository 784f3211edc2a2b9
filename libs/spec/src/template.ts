/**
 * The small subset of Jinja that polyaxonfiles used: `{{ name }}`, `{{name}}`, `{{- name -}}`,
 * dotted access and indexing (`{{ cnn.kernels[0] }}`, `{{ ops.train.outputs.model }}`).
 * Filters and `{% %}` statements are reported as errors.
 */
import { ParamValue } from './types';

export type PathSegment = string | number;

export interface TemplateExpr {
  /** Offset of `{{` in the string. */
  start: number;
  /** Offset just after `}}`. */
  end: number;
  /** Text between the braces, trimmed (and without whitespace-control dashes). */
  expr: string;
  root: string;
  path: PathSegment[];
  trimLeft: boolean;
  trimRight: boolean;
}

export interface TemplateSyntaxError {
  start: number;
  message: string;
}

const TEMPLATE_RE = /\{\{(-?)([\s\S]*?)(-?)\}\}/g;
const SEGMENT_RE = /^[A-Za-z0-9_-]+$/;

export function hasTemplate(s: string): boolean {
  return s.includes('{{') || s.includes('{%');
}

function parsePath(expr: string): PathSegment[] | string {
  const out: PathSegment[] = [];
  let i = 0;
  const readName = (): string | undefined => {
    const m = /^[A-Za-z0-9_-]+/.exec(expr.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    return m[0];
  };
  const first = readName();
  if (first === undefined || /^[0-9]/.test(first)) return `\`${expr}\` is not a variable name`;
  out.push(first);
  while (i < expr.length) {
    const c = expr[i];
    if (c === '.') {
      i++;
      const seg = readName();
      if (seg === undefined) return `unexpected text after \`.\` in \`${expr}\``;
      out.push(/^\d+$/.test(seg) ? Number(seg) : seg);
    } else if (c === '[') {
      const m = /^\[\s*(?:(\d+)|'([^']*)'|"([^"]*)")\s*\]/.exec(expr.slice(i));
      if (!m) return `cannot read the index in \`${expr}\``;
      i += m[0].length;
      out.push(m[1] !== undefined ? Number(m[1]) : (m[2] ?? m[3]));
    } else if (c === '|') {
      return `filters (\`${expr.slice(i).trim()}\`) are not supported; compute the value in params instead`;
    } else {
      return `unsupported template expression \`${expr}\`: only names, dotted names and [index] are supported`;
    }
  }
  if (out.some((s) => typeof s === 'string' && !SEGMENT_RE.test(s))) return `invalid name in \`${expr}\``;
  return out;
}

/** Finds the `{{ ... }}` expressions of a string. */
export function scanTemplates(s: string): { exprs: TemplateExpr[]; errors: TemplateSyntaxError[] } {
  const exprs: TemplateExpr[] = [];
  const errors: TemplateSyntaxError[] = [];
  const stmt = /\{%[\s\S]*?%\}/.exec(s);
  if (stmt) errors.push({ start: stmt.index, message: `Jinja statements such as \`${stmt[0]}\` are not supported` });
  TEMPLATE_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = TEMPLATE_RE.exec(s)) !== null) {
    const expr = m[2].trim();
    if (expr === '') {
      errors.push({ start: m.index, message: 'empty template `{{ }}`' });
      continue;
    }
    const path = parsePath(expr);
    if (typeof path === 'string') {
      errors.push({ start: m.index, message: path });
      continue;
    }
    exprs.push({
      start: m.index,
      end: m.index + m[0].length,
      expr,
      root: path[0] as string,
      path,
      trimLeft: m[1] === '-',
      trimRight: m[3] === '-',
    });
  }
  const rest = s.replace(TEMPLATE_RE, '');
  if (!stmt && rest.includes('{{')) {
    errors.push({ start: s.indexOf('{{', 0), message: 'unclosed template: `{{` without `}}`' });
  }
  return { exprs, errors };
}

/** The expression if the whole string (ignoring surrounding spaces) is one template. */
export function wholeTemplate(s: string): TemplateExpr | undefined {
  const { exprs, errors } = scanTemplates(s);
  if (errors.length || exprs.length !== 1) return undefined;
  const e = exprs[0];
  return s.slice(0, e.start).trim() === '' && s.slice(e.end).trim() === '' ? e : undefined;
}

export type Resolution =
  | { kind: 'value'; value: ParamValue }
  /** Leave the expression as written (run-time placeholder). */
  | { kind: 'keep' }
  | { kind: 'error'; message: string };

export interface RenderResult {
  /** The rendered string, or a typed value when the whole string was a single resolved template. */
  value: ParamValue;
  errors: Array<{ start: number; message: string }>;
  /** Whether some expressions were kept for later. */
  kept: boolean;
}

export function render(s: string, resolve: (e: TemplateExpr) => Resolution): RenderResult {
  const { exprs, errors } = scanTemplates(s);
  const errs: Array<{ start: number; message: string }> = [...errors];
  if (errs.length) return { value: s, errors: errs, kept: false };
  if (exprs.length === 0) return { value: s, errors: [], kept: false };
  const whole = wholeTemplate(s);
  if (whole) {
    const r = resolve(whole);
    if (r.kind === 'value') return { value: r.value, errors: [], kept: false };
    if (r.kind === 'error') return { value: s, errors: [{ start: whole.start, message: r.message }], kept: false };
    return { value: s, errors: [], kept: true };
  }
  let out = '';
  let last = 0;
  let kept = false;
  for (const e of exprs) {
    let before = s.slice(last, e.start);
    if (e.trimLeft) before = before.trimEnd();
    out += before;
    const r = resolve(e);
    if (r.kind === 'value') out += pyStr(r.value);
    else if (r.kind === 'keep') {
      out += s.slice(e.start, e.end);
      kept = true;
    } else errs.push({ start: e.start, message: r.message });
    last = e.end;
    if (e.trimRight) {
      const m = /^\s*/.exec(s.slice(last));
      last += m ? m[0].length : 0;
    }
  }
  out += s.slice(last);
  return { value: out, errors: errs, kept };
}

/** Follows `path[1..]` into a value; returns an error message when a step is missing. */
export function lookupPath(
  value: ParamValue,
  path: PathSegment[],
): { ok: true; value: ParamValue } | { ok: false; at: number; message: string; candidates: string[] } {
  let cur: ParamValue = value;
  for (let i = 1; i < path.length; i++) {
    const seg = path[i];
    const shown = path.slice(0, i).join('.');
    if (Array.isArray(cur)) {
      const idx = typeof seg === 'number' ? seg : /^\d+$/.test(seg) ? Number(seg) : NaN;
      if (!Number.isInteger(idx) || idx >= cur.length) {
        return { ok: false, at: i, message: `\`${shown}\` has no item ${String(seg)} (it has ${cur.length})`, candidates: [] };
      }
      cur = cur[idx];
    } else if (cur !== null && typeof cur === 'object') {
      const key = String(seg);
      if (!(key in cur)) {
        return { ok: false, at: i, message: `\`${shown}\` has no key \`${key}\``, candidates: Object.keys(cur) };
      }
      cur = cur[key];
    } else {
      return { ok: false, at: i, message: `\`${shown}\` is ${pyRepr(cur)}, it has no \`${String(seg)}\``, candidates: [] };
    }
  }
  return { ok: true, value: cur };
}

// ---------------------------------------------------------------- Python-style printing

/** Python's repr of a float/int (Polyaxon rendered values with Python's str()). */
export function pyNumber(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return String(n);
  const [mant, expS] = n.toExponential().split('e');
  const exp = Number(expS);
  if (exp < -4 || exp >= 16) {
    const sign = exp < 0 ? '-' : '+';
    const digits = String(Math.abs(exp)).padStart(2, '0');
    return `${mant}e${sign}${digits}`;
  }
  return String(n);
}

function pyQuote(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of s) {
    if (ch === '\\') out += '\\\\';
    else if (ch === q) out += '\\' + q;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else out += ch;
  }
  return q + out + q;
}

export function pyRepr(v: ParamValue): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return pyNumber(v);
  if (typeof v === 'string') return pyQuote(v);
  if (Array.isArray(v)) return '[' + v.map(pyRepr).join(', ') + ']';
  return '{' + Object.entries(v).map(([k, x]) => `${pyQuote(k)}: ${pyRepr(x)}`).join(', ') + '}';
}

/** What `{{ x }}` printed in Polyaxon: str(x) in Python. */
export function pyStr(v: ParamValue): string {
  return typeof v === 'string' ? v : pyRepr(v);
}
