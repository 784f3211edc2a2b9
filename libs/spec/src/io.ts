/** Typed `inputs` / `outputs` and the conversion / checking of values against them. */
import { parse as parseYaml } from 'yaml';
import { asMap, asSeq, checkKeys, Checker, field, join, readAny, readBool, readEnum, readStr, required } from './checker';
import { pyRepr } from './template';
import { IO_TYPES, IOSpec, IOType, ParamValue } from './types';
import { YNode } from './yaml-tree';

export const NAME_RE = /^[-a-zA-Z0-9_]+$/;
const IO_KEYS = ['name', 'description', 'type', 'default', 'is_optional', 'is_list', 'is_flag', 'options'] as const;

export function readIOList(c: Checker, node: YNode | undefined, path: string): IOSpec[] | undefined {
  const seq = asSeq(c, node, path, 'a list of {name, type, ...} entries');
  if (!seq) return undefined;
  const out: IOSpec[] = [];
  seq.items.forEach((it, i) => {
    const p = join(path, i);
    const map = asMap(c, it, p, 'a {name, type, ...} mapping');
    if (!map) {
      if (it.t === 'scalar' && it.value === null) c.error(it, p, 'expected a {name, type, ...} mapping, got null');
      return;
    }
    checkKeys(c, map, p, IO_KEYS, { iotype: 'the field is spelled `type`' });
    const nameNode = required(c, map, p, 'name');
    const name = readStr(c, nameNode, join(p, 'name'), {
      templates: false,
      pattern: NAME_RE,
      patternMsg: 'names may only contain letters, digits, `-` and `_`',
    });
    const type = readEnum(c, field(map, 'type'), join(p, 'type'), IO_TYPES);
    const io: IOSpec = {
      name: name ?? '',
      is_optional: readBool(c, field(map, 'is_optional'), join(p, 'is_optional')) ?? false,
      is_list: readBool(c, field(map, 'is_list'), join(p, 'is_list')) ?? false,
      is_flag: readBool(c, field(map, 'is_flag'), join(p, 'is_flag')) ?? false,
    };
    const desc = readStr(c, field(map, 'description'), join(p, 'description'), { templates: false });
    if (desc !== undefined) io.description = desc;
    if (type) io.type = type;
    const optNode = field(map, 'options');
    if (optNode && !(optNode.t === 'scalar' && optNode.value === null)) {
      const s = asSeq(c, optNode, join(p, 'options'));
      if (s) io.options = s.items.map((x, j) => readAny(c, x, join(join(p, 'options'), j), false));
    }
    if (io.is_flag && io.type !== 'bool') {
      c.error(field(map, 'is_flag') ?? map, join(p, 'is_flag'), `only a \`bool\` input can be a flag, this one is \`${io.type ?? 'untyped'}\``);
    }
    const defEntry = map.entries.get('default');
    if (defEntry && !(defEntry.value.t === 'scalar' && defEntry.value.value === null)) {
      const def = readAny(c, defEntry.value, join(p, 'default'), false);
      if (!io.is_optional) {
        c.error(defEntry.keyLoc, join(p, 'default'), `\`${io.name}\` has a default but is not optional; add \`is_optional: true\` or remove the default`);
      }
      const err = checkIOValue(io, def);
      if (err) c.error(defEntry.value, join(p, 'default'), err);
      else io.default = def;
    }
    if (name !== undefined) out.push(io);
  });
  return out;
}

function typeName(v: ParamValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `${typeof v === 'number' ? (Number.isInteger(v) ? 'the integer' : 'the float') : 'the boolean'} ${pyRepr(v)}`;
}

const PATH_PREFIXES: Partial<Record<IOType, RegExp>> = {
  gcs_path: /^gs:\/\/[^/]+/,
  s3_path: /^s3:\/\/[^/]+/,
  azure_path: /^wasbs?:\/\/[^@]+@[^/]+/,
};

function checkScalar(type: IOType, v: ParamValue): string | undefined {
  switch (type) {
    case 'int':
      return typeof v === 'number' && Number.isInteger(v) ? undefined : `expected an int, got ${typeName(v)}`;
    case 'float':
    case 'metric':
      return typeof v === 'number' ? undefined : `expected a ${type === 'metric' ? 'metric (number)' : 'float'}, got ${typeName(v)}`;
    case 'bool':
      return typeof v === 'boolean' ? undefined : `expected a bool, got ${typeName(v)}`;
    case 'str':
    case 'path':
      return typeof v === 'string' ? undefined : `expected a ${type === 'str' ? 'string' : 'path'}, got ${typeName(v)}`;
    case 'dict':
    case 'metadata':
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? undefined : `expected a mapping, got ${typeName(v)}`;
    case 'list':
      return Array.isArray(v) ? undefined : `expected a list, got ${typeName(v)}`;
    case 'auth':
      return typeof v === 'string' && /^[^:]+:.+$/.test(v) ? undefined : `expected "user:password", got ${typeName(v)}`;
    case 'uri':
      if (typeof v === 'string' && v.trim() !== '') return undefined;
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v.host === 'string') return undefined;
      return `expected a URI ("user:password@host" or {user, password, host}), got ${typeName(v)}`;
    case 'gcs_path':
    case 's3_path':
    case 'azure_path': {
      const scheme = { gcs_path: 'gs://bucket/path', s3_path: 's3://bucket/path', azure_path: 'wasbs://container@account.blob.core.windows.net/path' }[type];
      return typeof v === 'string' && PATH_PREFIXES[type]!.test(v) ? undefined : `expected a ${type} like "${scheme}", got ${typeName(v)}`;
    }
  }
}

/** Whether a value fits an input/output declaration; returns an error message or undefined. */
export function checkIOValue(io: IOSpec, v: ParamValue): string | undefined {
  if (v === null) return io.is_optional ? undefined : 'expected a value, got null';
  if (typeof v === 'string' && v.includes('{{')) return undefined; // checked once rendered
  const items = io.is_list ? v : [v];
  if (io.is_list && !Array.isArray(items)) return `expected a list (is_list), got ${typeName(v)}`;
  for (const it of items as ParamValue[]) {
    if (io.type) {
      const err = checkScalar(io.type, it);
      if (err) return err;
    }
    if (io.options && !io.options.some((o) => JSON.stringify(o) === JSON.stringify(it))) {
      return `${pyRepr(it)} is not one of the options ${pyRepr(io.options)}`;
    }
  }
  return undefined;
}

function yamlScalar(raw: string): ParamValue {
  try {
    const v: unknown = parseYaml(raw);
    if (v === undefined) return null;
    return v as ParamValue;
  } catch {
    return raw;
  }
}

/** Converts a raw `-P name=value` string to the type declared by `io` (or YAML-typed when untyped). */
export function convertCliValue(raw: string, io: IOSpec | undefined): { ok: true; value: ParamValue } | { ok: false; message: string } {
  if (!io || !io.type) return { ok: true, value: yamlScalar(raw) };
  const convertOne = (s: string): { ok: true; value: ParamValue } | { ok: false; message: string } => {
    const t = s.trim();
    switch (io.type) {
      case 'int':
        return /^[-+]?\d+$/.test(t) ? { ok: true, value: Number(t) } : { ok: false, message: `expected an int, got ${JSON.stringify(s)}` };
      case 'float':
      case 'metric':
        return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t) || /^[-+]?(inf|nan)$/i.test(t)
          ? { ok: true, value: Number(t.replace(/inf/i, 'Infinity').replace(/^[-+]?nan$/i, 'NaN')) }
          : { ok: false, message: `expected a float, got ${JSON.stringify(s)}` };
      case 'bool': {
        const l = t.toLowerCase();
        if (['true', 't', 'yes', 'y', '1', 'on'].includes(l)) return { ok: true, value: true };
        if (['false', 'f', 'no', 'n', '0', 'off'].includes(l)) return { ok: true, value: false };
        return { ok: false, message: `expected a bool (true or false), got ${JSON.stringify(s)}` };
      }
      case 'dict':
      case 'metadata':
      case 'list': {
        const v = yamlScalar(t);
        const err = checkScalar(io.type, v);
        return err ? { ok: false, message: err } : { ok: true, value: v };
      }
      case 'uri': {
        if (t.startsWith('{')) {
          const v = yamlScalar(t);
          const err = checkScalar('uri', v);
          return err ? { ok: false, message: err } : { ok: true, value: v };
        }
        return { ok: true, value: s };
      }
      default:
        return { ok: true, value: s };
    }
  };
  let value: ParamValue;
  if (io.is_list) {
    const asYaml = yamlScalar(raw);
    const parts = Array.isArray(asYaml) ? asYaml.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : raw.split(',');
    const vals: ParamValue[] = [];
    for (const p of parts) {
      const r = convertOne(p);
      if (!r.ok) return r;
      vals.push(r.value);
    }
    value = vals;
  } else {
    const r = convertOne(raw);
    if (!r.ok) return r;
    value = r.value;
  }
  const err = checkIOValue(io, value);
  return err ? { ok: false, message: err } : { ok: true, value };
}
