/** `kind: pipeline`: ops, inline templates, DAG checks, conditions, schedule. */
import {
  asMap,
  asSeq,
  checkKeys,
  Checker,
  entry,
  field,
  isNull,
  join,
  readAny,
  readBool,
  readEnum,
  readInt,
  readStr,
  readStrList,
  required,
} from './checker';
import { resolveExpr } from './context';
import { didYouMean } from './errors';
import { checkIOValue, NAME_RE } from './io';
import { readBuild, readEnvironment, readLogging } from './sections';
import { render, TemplateExpr, Resolution } from './template';
import {
  IOSpec,
  OpCondition,
  ParamValue,
  PipelineOp,
  PipelineTemplate,
  Schedule,
  SCHEDULE_CATCH_UPS,
  ScheduleCatchUp,
  TemplateRef,
  TriggerPolicy,
} from './types';
import { Loc, YMap, YNode } from './yaml-tree';

export interface CompiledPipeline {
  /** Ops in a topological order (every op after its upstream ops). */
  order: string[];
  /** Topological layers: the ops of one layer do not depend on each other. */
  layers: string[][];
  /** Explicit dependencies plus ops referenced by `{{ ops.X.outputs.y }}` params and by conditions. */
  upstream: Record<string, string[]>;
  downstream: Record<string, string[]>;
}

export interface ReadTemplate {
  (node: YNode, path: string): PipelineTemplate | undefined;
}

const TRIGGERS: readonly TriggerPolicy[] = ['all_succeeded', 'all_failed', 'all_done', 'one_succeeded', 'one_failed', 'one_done'];
const OP_KEYS = [
  'name',
  'template',
  'description',
  'tags',
  'logging',
  'params',
  'environment',
  'build',
  'dependencies',
  'trigger',
  'conditions',
  'max_retries',
  'retry_delay',
  'retry_exp_backoff',
  'max_retry_delay',
  'skip_on_upstream_skip',
  'concurrency',
  'execute_at',
  'timeout',
  'cache',
  'version',
  'kind',
];

const ISO_RE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export function readDatetime(c: Checker, node: YNode | undefined, path: string): string | undefined {
  const s = readStr(c, node, path, { coerce: false, templates: false });
  if (s === undefined) return undefined;
  if (!ISO_RE.test(s.trim()) || Number.isNaN(Date.parse(s.trim()))) {
    c.error(node!, path, `expected an ISO 8601 datetime such as 2019-06-24T21:20:07+00:00, got ${JSON.stringify(s)}`);
    return undefined;
  }
  return s.trim();
}

const CRON_MACROS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);
const CRON_FIELDS: Array<{ name: string; min: number; max: number; names?: string[] }> = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day of week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

export function cronError(expr: string): string | undefined {
  const t = expr.trim();
  if (CRON_MACROS.has(t.toLowerCase())) return undefined;
  const parts = t.split(/\s+/);
  if (parts.length !== 5) return `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`;
  for (let i = 0; i < 5; i++) {
    const f = CRON_FIELDS[i];
    for (const item of parts[i].split(',')) {
      const m = /^(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:\/(\d+))?$/.exec(item);
      if (!m) return `invalid ${f.name} field \`${parts[i]}\``;
      if (m[2] !== undefined && Number(m[2]) < 1) return `invalid step in ${f.name} field \`${parts[i]}\``;
      if (m[1] === '*') continue;
      for (const v of m[1].split('-')) {
        const idx = f.names ? f.names.indexOf(v.toLowerCase()) : -1;
        const n = idx >= 0 ? idx + (f.name === 'month' ? 1 : 0) : /^\d+$/.test(v) ? Number(v) : NaN;
        if (Number.isNaN(n) || n < f.min || n > f.max) return `${f.name} \`${v}\` is out of range ${f.min}-${f.max}`;
      }
    }
  }
  return undefined;
}

/**
 * Where an op's template sent with the run is filed: its `path` in the project code, or its `url`
 * (`myelin run` reads the one and fetches the other, and sends both as files under this key);
 * undefined for inline (`name`) templates and for `action`/`event` ones.
 */
export function templateFileOf(ref: TemplateRef): string | undefined {
  return ref.path ?? ref.url;
}

export function readSchedule(c: Checker, node: YNode | undefined, path: string): Schedule | undefined {
  const map = asMap(c, node, path);
  if (!map) return undefined;
  const kindNode = required(c, map, path, 'kind', 'interval or cron');
  const kind = readEnum(c, kindNode, join(path, 'kind'), ['interval', 'cron'] as const);
  if (!kind) return undefined;
  if (kind === 'interval') {
    checkKeys(c, map, path, ['kind', 'start_at', 'end_at', 'frequency', 'depends_on_past', 'catch_up'], { cron: '`cron` needs `kind: cron`' });
    const start_at = readDatetime(c, required(c, map, path, 'start_at', 'when the first run happens'), join(path, 'start_at'));
    const end_at = readDatetime(c, field(map, 'end_at'), join(path, 'end_at'));
    const frequency = readInt(c, required(c, map, path, 'frequency', 'seconds between runs'), join(path, 'frequency'), { gt: 0 });
    const dop = readBool(c, field(map, 'depends_on_past'), join(path, 'depends_on_past'));
    const catchUp = readCatchUp(c, map, path);
    if (start_at && end_at && Date.parse(end_at) <= Date.parse(start_at)) c.error(field(map, 'end_at')!, join(path, 'end_at'), 'must be after start_at');
    if (start_at === undefined || frequency === undefined) return undefined;
    const s: Schedule = { kind, start_at, frequency };
    if (end_at) s.end_at = end_at;
    if (dop !== undefined) s.depends_on_past = dop;
    if (catchUp) s.catch_up = catchUp;
    return s;
  }
  checkKeys(c, map, path, ['kind', 'cron', 'start_at', 'end_at', 'depends_on_past', 'catch_up'], { frequency: '`frequency` needs `kind: interval`' });
  const cronNode = required(c, map, path, 'cron', 'a cron expression such as "0 0 * * *"');
  const cron = readStr(c, cronNode, join(path, 'cron'), { templates: false });
  if (cron !== undefined) {
    const err = cronError(cron);
    if (err) c.error(cronNode!, join(path, 'cron'), `invalid cron expression: ${err}`);
  }
  const start_at = readDatetime(c, field(map, 'start_at'), join(path, 'start_at'));
  const end_at = readDatetime(c, field(map, 'end_at'), join(path, 'end_at'));
  const dop = readBool(c, field(map, 'depends_on_past'), join(path, 'depends_on_past'));
  const catchUp = readCatchUp(c, map, path);
  if (start_at && end_at && Date.parse(end_at) <= Date.parse(start_at)) c.error(field(map, 'end_at')!, join(path, 'end_at'), 'must be after start_at');
  if (cron === undefined) return undefined;
  const s: Schedule = { kind: 'cron', cron: cron.trim() };
  if (start_at) s.start_at = start_at;
  if (end_at) s.end_at = end_at;
  if (dop !== undefined) s.depends_on_past = dop;
  if (catchUp) s.catch_up = catchUp;
  return s;
}

/** `catch_up` (Myelin extension): latest, all or none. */
function readCatchUp(c: Checker, map: NonNullable<ReturnType<typeof asMap>>, path: string): ScheduleCatchUp | undefined {
  return readEnum(c, field(map, 'catch_up'), join(path, 'catch_up'), SCHEDULE_CATCH_UPS);
}

function readTemplateRef(c: Checker, node: YNode | undefined, path: string): TemplateRef | undefined {
  const map = asMap(c, node, path, 'a mapping with one of name, url, path, action, event');
  if (!map) return undefined;
  const keys = ['name', 'url', 'path', 'action', 'event'] as const;
  checkKeys(c, map, path, keys);
  const out: TemplateRef = {};
  for (const k of keys) {
    const v = readStr(c, field(map, k), join(path, k), { nonEmpty: true, templates: false });
    if (v !== undefined) out[k] = v;
  }
  const set = keys.filter((k) => out[k] !== undefined);
  if (set.length !== 1) {
    c.error(map, path, set.length === 0 ? 'a template needs one of name, url, path, action or event' : `a template takes one of name, url, path, action or event, got ${set.join(' and ')}`);
    return undefined;
  }
  return out;
}

interface OpDraft {
  op: PipelineOp;
  map: YMap;
  path: string;
  paramNodes: Map<string, { node: YNode; keyLoc: Loc }>;
  refs: Array<{ op: string; output: string; param: string; node: YNode; expr: string }>;
  conditionNodes: YNode[];
}

function readConditions(c: Checker, node: YNode | undefined, path: string, draft: OpDraft): OpCondition[] {
  if (!node || isNull(node)) return [];
  const items = node.t === 'seq' ? node.items.map((n, i) => ({ n, p: join(path, i) })) : [{ n: node, p: path }];
  const out: OpCondition[] = [];
  for (const { n, p } of items) {
    const map = asMap(c, n, p, 'a condition {kind: status|outputs, op, ...}');
    if (!map) continue;
    const kind = readEnum(c, required(c, map, p, 'kind', 'status or outputs'), join(p, 'kind'), ['status', 'outputs'] as const);
    if (!kind) continue;
    const opNode = required(c, map, p, 'op', 'the upstream op this condition looks at');
    const op = readStr(c, opNode, join(p, 'op'), { templates: false });
    if (kind === 'status') {
      checkKeys(c, map, p, ['kind', 'op', 'trigger']);
      const trigger = readEnum(c, required(c, map, p, 'trigger', 'succeeded, failed or done'), join(p, 'trigger'), ['succeeded', 'failed', 'done'] as const);
      if (op !== undefined && trigger) out.push({ kind, op, trigger });
    } else {
      checkKeys(c, map, p, ['kind', 'op', 'exp', 'params']);
      const exp = readEnum(c, required(c, map, p, 'exp', 'eq or ne'), join(p, 'exp'), ['eq', 'ne'] as const);
      const ps = asSeq(c, required(c, map, p, 'params', 'a list of [output, value] pairs'), join(p, 'params'), 'a list of [output, value] pairs');
      const params: Array<[string, ParamValue]> = [];
      ps?.items.forEach((it, i) => {
        const ip = join(join(p, 'params'), i);
        if (it.t !== 'seq' || it.items.length !== 2) {
          c.error(it, ip, 'expected an [output, value] pair');
          return;
        }
        const k = readStr(c, it.items[0], join(ip, 0), { templates: false, nonEmpty: true });
        if (k !== undefined) params.push([k, readAny(c, it.items[1], join(ip, 1), false)]);
      });
      if (op !== undefined && exp && ps) out.push({ kind, op, exp, params });
    }
    if (opNode) draft.conditionNodes.push(opNode);
  }
  return out;
}

function readOp(c: Checker, node: YNode, path: string, frameworks: Map<string, string | undefined>): OpDraft | undefined {
  const map = asMap(c, node, path, 'an op mapping {name, template, ...}');
  if (!map) return undefined;
  checkKeys(c, map, path, OP_KEYS, {
    depends_on: 'did you mean `dependencies`?',
    upstream: 'did you mean `dependencies`?',
    retries: 'did you mean `max_retries`?',
    condition: 'did you mean `conditions`?',
  });
  const name = readStr(c, required(c, map, path, 'name'), join(path, 'name'), {
    templates: false,
    pattern: NAME_RE,
    patternMsg: 'op names may only contain letters, digits, `-` and `_`',
  });
  const template = readTemplateRef(c, required(c, map, path, 'template', 'e.g. {name: my-template}'), join(path, 'template'));
  if (name === undefined || !template) return undefined;
  const op: PipelineOp = { name, template, params: {}, dependencies: [], trigger: 'all_succeeded', conditions: [] };
  const draft: OpDraft = { op, map, path, paramNodes: new Map(), refs: [], conditionNodes: [] };
  const desc = readStr(c, field(map, 'description'), join(path, 'description'), { templates: false });
  if (desc !== undefined) op.description = desc;
  const tags = readStrList(c, field(map, 'tags'), join(path, 'tags'), { templates: false });
  if (tags) op.tags = [...new Set(tags)];
  const logging = readLogging(c, field(map, 'logging'), join(path, 'logging'));
  if (logging) op.logging = logging;
  const pmap = asMap(c, field(map, 'params'), join(path, 'params'));
  if (pmap) {
    for (const [k, e] of pmap.entries) {
      op.params[k] = readAny(c, e.value, join(join(path, 'params'), k), false);
      draft.paramNodes.set(k, { node: e.value, keyLoc: e.keyLoc });
    }
  }
  const deps = readStrList(c, field(map, 'dependencies'), join(path, 'dependencies'), { templates: false });
  if (deps) op.dependencies = [...new Set(deps)];
  op.trigger = readEnum(c, field(map, 'trigger'), join(path, 'trigger'), TRIGGERS) ?? 'all_succeeded';
  op.conditions = readConditions(c, field(map, 'conditions'), join(path, 'conditions'), draft);
  const ints: Array<[keyof PipelineOp, number]> = [
    ['max_retries', 0],
    ['retry_delay', 0],
    ['max_retry_delay', 0],
  ];
  for (const [k, min] of ints) {
    const v = readInt(c, field(map, k), join(path, k), { min });
    if (v !== undefined) (op as unknown as Record<string, number>)[k] = v;
  }
  const conc = readInt(c, field(map, 'concurrency'), join(path, 'concurrency'), { min: 1 });
  if (conc !== undefined) op.concurrency = conc;
  const timeout = readInt(c, field(map, 'timeout'), join(path, 'timeout'), { gt: 0 });
  if (timeout !== undefined) op.timeout = timeout;
  for (const k of ['retry_exp_backoff', 'skip_on_upstream_skip', 'cache'] as const) {
    const v = readBool(c, field(map, k), join(path, k));
    if (v !== undefined) op[k] = v;
  }
  const at = readDatetime(c, field(map, 'execute_at'), join(path, 'execute_at'));
  if (at) op.execute_at = at;
  const fw = template.name !== undefined ? frameworks.get(template.name) : undefined;
  const env = readEnvironment(c, field(map, 'environment'), join(path, 'environment'), {
    replicas: true,
    framework: { value: fw, node: entry(map, 'environment')?.value },
  });
  if (env) op.environment = env;
  const build = readBuild(c, field(map, 'build'), join(path, 'build'));
  if (build) op.build = build;
  return draft;
}

function ioType(io: IOSpec | undefined): string | undefined {
  return io?.type;
}

/** Op params against the template's inputs/outputs, and `{{ ops.X.outputs.y }}` references. */
function checkOpParams(c: Checker, d: OpDraft, templates: Map<string, PipelineTemplate>, ops: Map<string, OpDraft>): void {
  const tname = d.op.template.name;
  const tpl = tname !== undefined ? templates.get(tname) : undefined;
  const inputs = tpl?.inputs ?? [];
  const outputs = tpl?.outputs ?? [];
  const declared = new Map<string, IOSpec>([...inputs, ...outputs].map((io) => [io.name, io]));
  const pp = join(d.path, 'params');
  for (const [k, { node, keyLoc }] of d.paramNodes) {
    const p = join(pp, k);
    const value = d.op.params[k];
    const io = declared.get(k);
    if (tpl) {
      if (declared.size === 0) {
        if (!tpl.params || !(k in tpl.params)) {
          c.error(keyLoc, p, `template \`${tname}\` declares no inputs, so the op cannot set \`${k}\`` + didYouMean(k, Object.keys(tpl.params ?? {})));
          continue;
        }
      } else if (!io) {
        c.error(keyLoc, p, `template \`${tname}\` has no input \`${k}\`` + didYouMean(k, declared.keys()));
        continue;
      }
    }
    // references
    const visit = (v: ParamValue, n: YNode, vp: string): void => {
      if (typeof v === 'string') {
        const opsRef = (e: TemplateExpr): Resolution => {
          const [, opName, outputs_, outName] = e.path;
          if (e.path.length !== 4 || outputs_ !== 'outputs') {
            return { kind: 'error', message: `expected \`ops.<op>.outputs.<name>\`, got \`${e.expr}\`` };
          }
          const target = ops.get(String(opName));
          if (!target) return { kind: 'error', message: `no op named \`${String(opName)}\`` + didYouMean(String(opName), ops.keys()) };
          if (target === d) return { kind: 'error', message: 'an op cannot use its own outputs' };
          const ttn = target.op.template.name;
          const ttpl = ttn !== undefined ? templates.get(ttn) : undefined;
          if (ttpl) {
            const out = (ttpl.outputs ?? []).find((o) => o.name === String(outName));
            if (!out) {
              const names = (ttpl.outputs ?? []).map((o) => o.name);
              return {
                kind: 'error',
                message: `op \`${String(opName)}\` (template \`${ttn}\`) has no output \`${String(outName)}\`` + (names.length ? didYouMean(String(outName), names) : ' (it declares no outputs)'),
              };
            }
            const wholeRef = v.trim() === v.slice(e.start, e.end).trim();
            if (io && wholeRef && ioType(io) && ioType(out) && ioType(io) !== ioType(out)) {
              return { kind: 'error', message: `input \`${k}\` is \`${ioType(io)}\` but output \`${String(opName)}.${String(outName)}\` is \`${ioType(out)}\`` };
            }
          }
          d.refs.push({ op: String(opName), output: String(outName), param: k, node: n, expr: e.expr });
          return { kind: 'keep' };
        };
        const r = render(v, (e) => resolveExpr({ params: {}, flags: new Set(), deferred: new Set(), opsRef }, e));
        c.templateErrors(n, vp, r.errors, v);
        if (!r.kept && r.errors.length === 0 && io) {
          const err = checkIOValue(io, v);
          if (err) c.error(n, vp, err);
        }
        return;
      }
      if (Array.isArray(v)) {
        v.forEach((x, i) => visit(x, n.t === 'seq' ? n.items[i] : n, join(vp, i)));
        if (io && n.t === 'seq' && !v.some((x) => typeof x === 'string' && x.includes('{{'))) {
          const err = checkIOValue(io, v);
          if (err) c.error(n, vp, err);
        }
        return;
      }
      if (io && !(v !== null && typeof v === 'object')) {
        const err = checkIOValue(io, v);
        if (err) c.error(n, vp, err);
      } else if (v !== null && typeof v === 'object') {
        for (const [kk, x] of Object.entries(v)) visit(x, n.t === 'map' ? (n.entries.get(kk)?.value ?? n) : n, join(vp, kk));
        if (io) {
          const err = checkIOValue(io, v);
          if (err) c.error(n, vp, err);
        }
      }
    };
    visit(value, node, p);
  }
  if (tpl) {
    for (const inp of inputs) {
      if (!inp.is_optional && !(inp.name in d.op.params)) {
        const pm = entry(d.map, 'params');
        c.error(pm ? pm.keyLoc : d.map.loc, join(pp, inp.name), `template \`${tname}\` requires the input \`${inp.name}\`; set it in the op's params`);
      }
    }
  }
}

function findCycle(upstream: Map<string, Set<string>>, nodes: string[]): string[] {
  const state = new Map<string, number>();
  const stack: string[] = [];
  let found: string[] = [];
  const dfs = (n: string): boolean => {
    state.set(n, 1);
    stack.push(n);
    for (const u of upstream.get(n) ?? []) {
      if (!nodes.includes(u)) continue;
      if (state.get(u) === 1) {
        found = [...stack.slice(stack.indexOf(u)), u];
        return true;
      }
      if (!state.has(u) && dfs(u)) return true;
    }
    stack.pop();
    state.set(n, 2);
    return false;
  };
  for (const n of nodes) if (!state.has(n) && dfs(n)) break;
  return found.reverse();
}

export interface PipelineResult {
  ops: PipelineOp[];
  templates: PipelineTemplate[];
  dag: CompiledPipeline;
}

export function readPipelineBody(c: Checker, map: YMap, readTemplate: ReadTemplate): PipelineResult {
  // templates first: ops are checked against them
  const templates: PipelineTemplate[] = [];
  const byName = new Map<string, PipelineTemplate>();
  const frameworks = new Map<string, string | undefined>();
  const tseq = asSeq(c, field(map, 'templates'), 'templates', 'a list of templates');
  tseq?.items.forEach((it, i) => {
    const p = join('templates', i);
    const t = readTemplate(it, p);
    if (!t) return;
    if (byName.has(t.name)) {
      const nn = it.t === 'map' ? (it.entries.get('name')?.value ?? it) : it;
      c.error(nn, join(p, 'name'), `a template named \`${t.name}\` is already defined`);
      return;
    }
    byName.set(t.name, t);
    frameworks.set(t.name, t.framework);
    templates.push(t);
  });

  const ops = new Map<string, OpDraft>();
  const order: OpDraft[] = [];
  const oseq = asSeq(c, required(c, map, '', 'ops', 'the list of operations'), 'ops', 'a list of ops');
  if (oseq && oseq.items.length === 0) c.error(oseq, 'ops', 'a pipeline needs at least one op');
  oseq?.items.forEach((it, i) => {
    const d = readOp(c, it, join('ops', i), frameworks);
    if (!d) return;
    if (ops.has(d.op.name)) {
      c.error(field(d.map, 'name')!, join(d.path, 'name'), `an op named \`${d.op.name}\` is already defined`);
      return;
    }
    ops.set(d.op.name, d);
    order.push(d);
  });

  for (const d of order) {
    const t = d.op.template.name;
    if (t !== undefined && !byName.has(t)) {
      const tn = asMap(c, field(d.map, 'template'), '')!;
      c.error(
        field(tn, 'name')!,
        join(join(d.path, 'template'), 'name'),
        `no template named \`${t}\` in \`templates\`` + (byName.size ? didYouMean(t, byName.keys()) : ' (the pipeline defines no templates)'),
      );
    }
    checkOpParams(c, d, byName, ops);
  }

  // the graph
  const upstream = new Map<string, Set<string>>();
  for (const d of order) {
    const up = new Set<string>();
    const depSeq = field(d.map, 'dependencies');
    d.op.dependencies.forEach((dep) => {
      const idx = depSeq && depSeq.t === 'seq' ? depSeq.items.findIndex((x) => x.t === 'scalar' && x.value === dep) : -1;
      const at = idx >= 0 && depSeq && depSeq.t === 'seq' ? depSeq.items[idx] : (depSeq ?? d.map);
      const p = join(join(d.path, 'dependencies'), Math.max(idx, 0));
      if (dep === d.op.name) c.error(at, p, 'an op cannot depend on itself');
      else if (!ops.has(dep)) c.error(at, p, `no op named \`${dep}\`` + didYouMean(dep, ops.keys()));
      else up.add(dep);
    });
    for (const r of d.refs) if (ops.has(r.op)) up.add(r.op);
    d.op.conditions.forEach((cond, i) => {
      if (cond.op === d.op.name) c.error(d.conditionNodes[i] ?? d.map, join(join(d.path, 'conditions'), i), 'an op cannot depend on itself');
      else if (!ops.has(cond.op)) c.error(d.conditionNodes[i] ?? d.map, join(join(d.path, 'conditions'), i), `no op named \`${cond.op}\`` + didYouMean(cond.op, ops.keys()));
      else up.add(cond.op);
    });
    upstream.set(d.op.name, up);
  }
  const indeg = new Map<string, number>();
  for (const d of order) indeg.set(d.op.name, upstream.get(d.op.name)!.size);
  const downstream = new Map<string, string[]>();
  for (const d of order) downstream.set(d.op.name, []);
  for (const [n, ups] of upstream) for (const u of ups) downstream.get(u)!.push(n);
  const layers: string[][] = [];
  let current = order.map((d) => d.op.name).filter((n) => indeg.get(n) === 0);
  const seen = new Set<string>();
  while (current.length) {
    layers.push(current);
    current.forEach((n) => seen.add(n));
    const next: string[] = [];
    for (const n of current) {
      for (const m of downstream.get(n)!) {
        indeg.set(m, indeg.get(m)! - 1);
        if (indeg.get(m) === 0) next.push(m);
      }
    }
    current = order.map((d) => d.op.name).filter((n) => next.includes(n));
  }
  const left = order.map((d) => d.op.name).filter((n) => !seen.has(n));
  if (left.length) {
    const cycle = findCycle(upstream, left);
    const members = (cycle.length ? cycle : left).map((n) => ops.get(n)!);
    const first = members.find((d) => entry(d.map, 'dependencies')) ?? members[0];
    const dep = entry(first.map, 'dependencies');
    c.error(dep ? dep.keyLoc : first.map.loc, dep ? join(first.path, 'dependencies') : first.path, `the ops form a cycle: ${(cycle.length ? cycle : left).join(' -> ')}`);
  }
  const dag: CompiledPipeline = {
    order: layers.flat(),
    layers,
    upstream: Object.fromEntries([...upstream].map(([k, v]) => [k, [...v]])),
    downstream: Object.fromEntries(downstream),
  };
  return { ops: order.map((d) => d.op), templates, dag };
}
