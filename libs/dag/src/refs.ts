/** `{{ ops.<op>.outputs.<name> }}` references inside op params. */
import type { ParamValue } from '@myelin/spec';

export interface OutputRef {
  op: string;
  output: string;
  /** The expression as written, without the braces. */
  expr: string;
  /** The param value is this one reference and nothing else (so its type is the output's type). */
  whole: boolean;
}

export interface BadRef {
  expr: string;
  message: string;
}

const EXPR_RE = /\{\{\s*(.*?)\s*\}\}/g;
const SEGMENT_RE = /^[-A-Za-z0-9_]+$/;

/** The references to other ops' outputs in one string; other `{{ }}` expressions are not ours and are ignored. */
export function scanOutputRefs(s: string): { refs: OutputRef[]; bad: BadRef[] } {
  const refs: OutputRef[] = [];
  const bad: BadRef[] = [];
  if (!s.includes('{{')) return { refs, bad };
  const exprs = [...s.matchAll(EXPR_RE)];
  const whole = exprs.length === 1 && exprs[0][0] === s.trim();
  for (const m of exprs) {
    const expr = m[1];
    if (!/^ops\s*\./.test(expr) && expr !== 'ops') continue;
    const path = expr.split('.').map((p) => p.trim());
    if (
      path.length !== 4 ||
      path[2] !== 'outputs' ||
      !SEGMENT_RE.test(path[1]) ||
      !SEGMENT_RE.test(path[3])
    ) {
      bad.push({ expr, message: `expected \`ops.<op>.outputs.<name>\`, got \`${expr}\`` });
      continue;
    }
    refs.push({ op: path[1], output: path[3], expr, whole });
  }
  return { refs, bad };
}

/** Visits every string of a param value (lists and mappings included) with its path suffix. */
export function forEachString(v: ParamValue, path: string, fn: (s: string, path: string) => void): void {
  if (typeof v === 'string') fn(v, path);
  else if (Array.isArray(v)) v.forEach((x, i) => forEachString(x, `${path}[${i}]`, fn));
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) forEachString(x, `${path}.${k}`, fn);
}
