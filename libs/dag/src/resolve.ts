/** Output passing: `{{ ops.<op>.outputs.<name> }}` in an op's params replaced by the upstream op's outputs. */
import type { ParamValue } from '@myelin/spec';
import { scanOutputRefs } from './refs';

export interface ResolvedParams {
  params: Record<string, ParamValue>;
  /** References whose op reported no such output (`ops.a.outputs.x`), in order of appearance. */
  missing: string[];
}

const REF_RE = /\{\{\s*(.*?)\s*\}\}/g;

function text(v: ParamValue): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * Resolves the output references of one op's params. A param that is exactly one reference takes
 * the output's value with its type (a number stays a number); a reference inside a longer string is
 * replaced by the value's text (strings as they are, other values as JSON). Other `{{ }}`
 * expressions are left for the template's own rendering. Missing outputs are listed, and their
 * references left as written.
 */
export function resolveOpParams(
  params: Readonly<Record<string, ParamValue>>,
  outputsOf: (op: string) => Readonly<Record<string, ParamValue>> | undefined,
): ResolvedParams {
  const missing: string[] = [];
  const lookup = (op: string, name: string): ParamValue | undefined => {
    const outs = outputsOf(op);
    if (outs && Object.prototype.hasOwnProperty.call(outs, name)) return outs[name];
    const expr = `ops.${op}.outputs.${name}`;
    if (!missing.includes(expr)) missing.push(expr);
    return undefined;
  };
  const walk = (v: ParamValue): ParamValue => {
    if (typeof v === 'string') {
      const { refs } = scanOutputRefs(v);
      if (!refs.length) return v;
      if (refs.length === 1 && refs[0].whole) return lookup(refs[0].op, refs[0].output) ?? v;
      return v.replace(REF_RE, (all, expr: string) => {
        const ref = scanOutputRefs(`{{ ${expr} }}`).refs[0];
        if (!ref) return all;
        const value = lookup(ref.op, ref.output);
        return value === undefined ? all : text(value);
      });
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  const out: Record<string, ParamValue> = {};
  for (const [k, v] of Object.entries(params)) out[k] = walk(v);
  return { params: out, missing };
}
