/**
 * Whether an op param fits a template input, for graphs built in code. Files parsed by `@myelin/spec`
 * were already checked there in full (path schemes, `auth`, `uri` forms); this checks the shape
 * (number, integer, boolean, string, mapping, list), `is_list` and `options`, which is what a graph
 * assembled by a program gets wrong.
 */
import type { IOType, ParamValue } from '@myelin/spec';
import type { DagIO } from './types';

function describe(v: ParamValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v === 'string' ? 'the string' : typeof v === 'number' ? (Number.isInteger(v) ? 'the integer' : 'the float') : 'the boolean'} ${JSON.stringify(v)}`;
}

const SHAPES: Record<IOType, { test: (v: ParamValue) => boolean; what: string }> = {
  int: { test: (v) => typeof v === 'number' && Number.isInteger(v), what: 'an int' },
  float: { test: (v) => typeof v === 'number', what: 'a float' },
  metric: { test: (v) => typeof v === 'number', what: 'a metric (number)' },
  bool: { test: (v) => typeof v === 'boolean', what: 'a bool' },
  str: { test: (v) => typeof v === 'string', what: 'a string' },
  path: { test: (v) => typeof v === 'string', what: 'a path' },
  gcs_path: { test: (v) => typeof v === 'string', what: 'a gcs_path' },
  s3_path: { test: (v) => typeof v === 'string', what: 'an s3_path' },
  azure_path: { test: (v) => typeof v === 'string', what: 'an azure_path' },
  auth: { test: (v) => typeof v === 'string', what: 'an auth string' },
  uri: {
    test: (v) => typeof v === 'string' || (v !== null && typeof v === 'object' && !Array.isArray(v)),
    what: 'a URI',
  },
  dict: { test: (v) => v !== null && typeof v === 'object' && !Array.isArray(v), what: 'a mapping' },
  metadata: { test: (v) => v !== null && typeof v === 'object' && !Array.isArray(v), what: 'a mapping' },
  list: { test: (v) => Array.isArray(v), what: 'a list' },
};

const same = (a: ParamValue, b: ParamValue): boolean => JSON.stringify(a) === JSON.stringify(b);

/** An error message, or undefined when the value fits. Strings with `{{` are checked once rendered. */
export function checkParamValue(io: DagIO, v: ParamValue): string | undefined {
  if (v === null) return io.is_optional ? undefined : 'expected a value, got null';
  if (typeof v === 'string' && v.includes('{{')) return undefined;
  if (io.is_list && !Array.isArray(v)) return `expected a list (is_list), got ${describe(v)}`;
  const items = io.is_list ? (v as ParamValue[]) : [v];
  for (const it of items) {
    if (typeof it === 'string' && it.includes('{{')) continue;
    const shape = io.type ? SHAPES[io.type] : undefined;
    if (shape && !shape.test(it)) return `expected ${shape.what}, got ${describe(it)}`;
    if (io.options && !io.options.some((o) => same(o, it)))
      return `${JSON.stringify(it)} is not one of the options ${JSON.stringify(io.options)}`;
  }
  return undefined;
}

/** A required input: not optional and without a default. */
export const isRequired = (io: DagIO): boolean => !io.is_optional && io.default === undefined;
