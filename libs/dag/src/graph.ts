/**
 * The pipeline graph: ops with normalised policies, upstream/downstream adjacency in flat arrays
 * (compressed sparse rows, so a 100,000-op graph is a handful of typed arrays), a topological order,
 * and validation with precise errors.
 */
import type { CompiledSpec, OpCondition, ParamValue, TemplateRef, TriggerPolicy } from '@myelin/spec';
import { DagError, DagValidationError, suggest } from './errors';
import { checkParamValue, isRequired } from './params';
import { forEachString, scanOutputRefs } from './refs';
import type { DagIO, DagOp, DagOpInput, DagTemplateInput, Millis, PipelineInput } from './types';

/** Edge flags: the downstream op reads the upstream's outputs (a param reference). */
export const EDGE_DATA = 1;
/** Edge flags: the upstream must be final before the downstream is decided (references and conditions). */
export const EDGE_GATE = 2;

export const TRIGGER_POLICIES: readonly TriggerPolicy[] = [
  'all_succeeded',
  'all_failed',
  'all_done',
  'one_succeeded',
  'one_failed',
  'one_done',
];
const NAME_RE = /^[-a-zA-Z0-9_]+$/;
export const DEFAULT_RETRY_DELAY = 60;
export const DEFAULT_MAX_RETRY_DELAY = 3600;

export interface PipelineSettings {
  concurrency?: number;
  /** Seconds. */
  timeout?: number;
  executeAt?: Millis;
}

export class PipelineGraph {
  /** Name -> index into `ops` and every per-op array. */
  readonly index: ReadonlyMap<string, number>;

  constructor(
    readonly ops: readonly DagOp[],
    /** Ops in a topological order, layer by layer (input order inside a layer). */
    readonly order: Int32Array,
    /** Topological layer of each op (0 for ops without upstream). */
    readonly layerOf: Int32Array,
    /** Upstream of op i: `up[upOff[i] .. upOff[i + 1])`. */
    readonly upOff: Int32Array,
    readonly up: Int32Array,
    /** Downstream of op i: `down[downOff[i] .. downOff[i + 1])`, with `downFlags` (EDGE_DATA | EDGE_GATE) per edge. */
    readonly downOff: Int32Array,
    readonly down: Int32Array,
    readonly downFlags: Uint8Array,
    readonly settings: PipelineSettings,
    index?: ReadonlyMap<string, number>,
  ) {
    this.index = index ?? new Map(ops.map((o, i) => [o.name, i]));
  }

  private fp?: string;
  /** Changes whenever an op name or an edge changes; a snapshot only restores onto the same graph. */
  get fingerprint(): string {
    return (this.fp ??= fingerprintOf(this.ops, this.upOff, this.up));
  }

  get size(): number {
    return this.ops.length;
  }
  has(name: string): boolean {
    return this.index.has(name);
  }
  indexOf(name: string): number {
    const i = this.index.get(name);
    if (i === undefined)
      throw new Error(`no op named \`${name}\` in this pipeline` + suggest(name, this.index.keys()));
    return i;
  }
  op(name: string): DagOp {
    return this.ops[this.indexOf(name)];
  }
  upstream(name: string): string[] {
    const i = this.indexOf(name);
    return Array.from(this.up.subarray(this.upOff[i], this.upOff[i + 1]), (j) => this.ops[j].name);
  }
  downstream(name: string): string[] {
    const i = this.indexOf(name);
    return Array.from(this.down.subarray(this.downOff[i], this.downOff[i + 1]), (j) => this.ops[j].name);
  }
  /** Op names in topological order. */
  topologicalOrder(): string[] {
    return Array.from(this.order, (i) => this.ops[i].name);
  }
  /** Topological layers: the ops of one layer do not depend on each other. */
  layers(): string[][] {
    const out: string[][] = [];
    for (const i of this.order) (out[this.layerOf[i]] ??= []).push(this.ops[i].name);
    return out;
  }
}

function fingerprintOf(ops: readonly DagOp[], upOff: Int32Array, up: Int32Array): string {
  // FNV-1a, 32 bits, over names and upstream indices: cheap, and enough to catch a snapshot restored onto another graph.
  let h = 0x811c9dc5;
  const mix = (x: number): void => {
    h ^= x;
    h = Math.imul(h, 0x01000193) >>> 0;
  };
  for (let i = 0; i < ops.length; i++) {
    const n = ops[i].name;
    for (let k = 0; k < n.length; k++) mix(n.charCodeAt(k));
    mix(0x2f);
    for (let e = upOff[i]; e < upOff[i + 1]; e++) mix(up[e] + 1);
    mix(0x3b);
  }
  return `${ops.length.toString(36)}-${h.toString(16).padStart(8, '0')}`;
}

/** Parses an ISO 8601 datetime or passes epoch ms through; undefined when invalid. */
export function toMillis(v: string | number | undefined): Millis | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  const t = Date.parse(v.trim());
  return Number.isNaN(t) ? undefined : t;
}

export interface BuildOptions {
  /**
   * Check op params against the template inputs (unknown, missing, mistyped). Default true.
   * `pipelineGraphFromSpec` turns it off: `@myelin/spec` has already checked them in full.
   */
  checkParams?: boolean;
}

interface Draft {
  input: DagOpInput;
  /** Position in `input.ops` (for error paths). */
  at: number;
  template?: TemplateRef;
  /** Created on the first reference (most ops have none). */
  dataUpstream?: string[];
}

const NO_DATA: readonly string[] = Object.freeze([]);
const NO_PARAMS: Readonly<Record<string, ParamValue>> = Object.freeze({});
const NO_CONDITIONS: readonly OpCondition[] = Object.freeze([]);

/** Growable int array (the edge list of a graph of unknown size). */
class IntList {
  data = new Int32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new Int32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function checkPolicies(errors: DagError[], o: DagOpInput, path: string): void {
  const bad = (field: string, message: string): void => {
    errors.push({ code: 'invalid_policy', path: `${path}.${field}`, op: o.name, message });
  };
  if (o.trigger !== undefined && !TRIGGER_POLICIES.includes(o.trigger)) {
    bad(
      'trigger',
      `unknown trigger \`${String(o.trigger)}\`; expected one of ${TRIGGER_POLICIES.join(', ')}` +
        suggest(String(o.trigger), TRIGGER_POLICIES),
    );
  }
  for (const k of ['max_retries', 'retry_delay', 'max_retry_delay'] as const) {
    const v = o[k];
    if (v !== undefined && !(isInt(v) && v >= 0))
      bad(k, `expected an integer >= 0, got ${JSON.stringify(v)}`);
  }
  if (o.concurrency !== undefined && !(isInt(o.concurrency) && o.concurrency >= 1))
    bad('concurrency', `expected an integer >= 1, got ${JSON.stringify(o.concurrency)}`);
  if (o.timeout !== undefined && !(typeof o.timeout === 'number' && o.timeout > 0))
    bad('timeout', `expected a number of seconds > 0, got ${JSON.stringify(o.timeout)}`);
  if (o.execute_at !== undefined && toMillis(o.execute_at) === undefined)
    bad('execute_at', `expected an ISO 8601 datetime or epoch ms, got ${JSON.stringify(o.execute_at)}`);
}

const NO_IO: ReadonlyMap<string, DagIO> = new Map();
function ioByName(list: DagIO[] | undefined): Map<string, DagIO> {
  return new Map((list ?? []).map((io) => [io.name, io]));
}

/** Validates and indexes a pipeline; returns every error found (none means `graph` is set). */
export function analyzePipeline(
  input: PipelineInput,
  options: BuildOptions = {},
): { errors: DagError[]; graph?: PipelineGraph } {
  const checkParams = options.checkParams ?? true;
  const errors: DagError[] = [];
  const ops = input.ops ?? [];
  if (ops.length === 0)
    errors.push({ code: 'empty_pipeline', path: 'ops', message: 'a pipeline needs at least one op' });

  const settings: PipelineSettings = {};
  if (input.concurrency !== undefined) {
    if (isInt(input.concurrency) && input.concurrency >= 1) settings.concurrency = input.concurrency;
    else
      errors.push({
        code: 'invalid_policy',
        path: 'concurrency',
        message: `expected an integer >= 1, got ${JSON.stringify(input.concurrency)}`,
      });
  }
  if (input.timeout !== undefined) {
    if (typeof input.timeout === 'number' && input.timeout > 0) settings.timeout = input.timeout;
    else
      errors.push({
        code: 'invalid_policy',
        path: 'timeout',
        message: `expected a number of seconds > 0, got ${JSON.stringify(input.timeout)}`,
      });
  }
  if (input.execute_at !== undefined) {
    const t = toMillis(input.execute_at);
    if (t !== undefined) settings.executeAt = t;
    else
      errors.push({
        code: 'invalid_policy',
        path: 'execute_at',
        message: `expected an ISO 8601 datetime or epoch ms, got ${JSON.stringify(input.execute_at)}`,
      });
  }

  const templates = new Map<string, DagTemplateInput>();
  (input.templates ?? []).forEach((t, i) => {
    if (templates.has(t.name))
      errors.push({
        code: 'duplicate_template',
        path: `templates[${i}].name`,
        message: `a template named \`${t.name}\` is already defined`,
      });
    else templates.set(t.name, t);
  });

  // names first: references may point forward
  const index = new Map<string, number>();
  const drafts: Draft[] = [];
  ops.forEach((o, i) => {
    const path = `ops[${i}]`;
    if (typeof o.name !== 'string' || !NAME_RE.test(o.name)) {
      errors.push({
        code: 'invalid_name',
        path: `${path}.name`,
        message: `op names may only contain letters, digits, \`-\` and \`_\`, got ${JSON.stringify(o.name)}`,
      });
      return;
    }
    if (index.has(o.name)) {
      errors.push({
        code: 'duplicate_op',
        path: `${path}.name`,
        op: o.name,
        message: `an op named \`${o.name}\` is already defined (ops[${drafts.findIndex((d) => d.input.name === o.name)}])`,
      });
      return;
    }
    index.set(o.name, drafts.length);
    const template = typeof o.template === 'string' ? { name: o.template } : o.template;
    drafts.push({ input: o, at: i, template });
  });
  const templateOf = (d: Draft): DagTemplateInput | undefined =>
    d.template?.name !== undefined ? templates.get(d.template.name) : undefined;
  const unknownOp = (name: string): string => `no op named \`${name}\`` + suggest(name, index.keys());

  // upstream edges, op by op, straight into flat arrays: `upStart[i]..upStart[i+1]` in `upList`/`flagList`;
  // `stamp[j] === i + 1` when op i already has upstream j, at position `slot[j]`
  const n = drafts.length;
  const upStart = new Int32Array(n + 1);
  const upList = new IntList();
  const flagList = new IntList();
  const stamp = new Int32Array(n);
  const slot = new Int32Array(n);
  for (let self = 0; self < n; self++) {
    const d = drafts[self];
    const o = d.input;
    const dPath = `ops[${d.at}]`;
    upStart[self] = upList.length;
    const addUp = (j: number, flags: number): void => {
      if (j === self) return;
      if (stamp[j] === self + 1) {
        flagList.data[slot[j]] |= flags;
        return;
      }
      stamp[j] = self + 1;
      slot[j] = flagList.length;
      upList.push(j);
      flagList.push(flags);
    };
    checkPolicies(errors, o, dPath);

    // template
    if (d.template?.name !== undefined && !templates.has(d.template.name)) {
      errors.push({
        code: 'unknown_template',
        path: `${dPath}.template.name`,
        op: o.name,
        message:
          `no template named \`${d.template.name}\`` +
          (templates.size
            ? suggest(d.template.name, templates.keys())
            : ' (the pipeline defines no templates)'),
      });
    }
    const tpl = templateOf(d);

    // explicit dependencies
    const deps = o.dependencies ?? NO_DATA;
    for (let k = 0; k < deps.length; k++) {
      const dep = deps[k];
      const j = index.get(dep);
      if (j !== undefined && j !== self) addUp(j, 0);
      else if (dep === o.name)
        errors.push({
          code: 'self_dependency',
          path: `${dPath}.dependencies[${k}]`,
          op: o.name,
          message: 'an op cannot depend on itself',
        });
      else
        errors.push({
          code: 'unknown_op',
          path: `${dPath}.dependencies[${k}]`,
          op: o.name,
          message: unknownOp(dep),
        });
    }

    // params: references, then the template's inputs
    const declared = tpl ? new Map([...ioByName(tpl.outputs), ...ioByName(tpl.inputs)]) : NO_IO;
    for (const k in o.params ?? {}) {
      const value = o.params![k];
      const p = `${dPath}.params.${k}`;
      const io = declared.get(k);
      if (tpl && checkParams && !io) {
        if (declared.size === 0 && !(tpl.params && k in tpl.params)) {
          errors.push({
            code: 'unknown_input',
            path: p,
            op: o.name,
            message: `template \`${tpl.name}\` declares no inputs, so the op cannot set \`${k}\``,
          });
          continue;
        }
        if (declared.size > 0) {
          errors.push({
            code: 'unknown_input',
            path: p,
            op: o.name,
            message: `template \`${tpl.name}\` has no input \`${k}\`` + suggest(k, declared.keys()),
          });
          continue;
        }
      }
      forEachString(value, p, (s, sp) => {
        const { refs, bad } = scanOutputRefs(s);
        for (const b of bad) errors.push({ code: 'bad_reference', path: sp, op: o.name, message: b.message });
        for (const r of refs) {
          const j = index.get(r.op);
          if (r.op === o.name) {
            errors.push({
              code: 'self_dependency',
              path: sp,
              op: o.name,
              message: `an op cannot use its own outputs (\`${r.expr}\`)`,
            });
            continue;
          }
          if (j === undefined) {
            errors.push({
              code: 'unknown_op',
              path: sp,
              op: o.name,
              message: `\`${r.expr}\`: ` + unknownOp(r.op),
            });
            continue;
          }
          addUp(j, EDGE_DATA | EDGE_GATE);
          d.dataUpstream ??= [];
          if (!d.dataUpstream.includes(r.op)) d.dataUpstream.push(r.op);
          const target = drafts[j];
          const ttpl = templateOf(target);
          if (!ttpl) continue; // a url/path/action/event template: its outputs are known at run time only
          const out = (ttpl.outputs ?? []).find((x) => x.name === r.output);
          if (!out) {
            const names = (ttpl.outputs ?? []).map((x) => x.name);
            errors.push({
              code: 'unknown_output',
              path: sp,
              op: o.name,
              message:
                `op \`${r.op}\` (template \`${ttpl.name}\`) has no output \`${r.output}\`` +
                (names.length ? suggest(r.output, names) : ' (it declares no outputs)'),
            });
            continue;
          }
          if (checkParams && io && r.whole && sp === p && io.type && out.type && io.type !== out.type) {
            errors.push({
              code: 'type_mismatch',
              path: sp,
              op: o.name,
              message: `input \`${k}\` is \`${io.type}\` but output \`${r.op}.${r.output}\` is \`${out.type}\``,
            });
          }
        }
      });
      if (checkParams && io) {
        const err = checkParamValue(io, value);
        if (err) errors.push({ code: 'invalid_param', path: p, op: o.name, message: err });
      }
    }
    if (tpl && checkParams) {
      for (const inp of tpl.inputs ?? []) {
        if (isRequired(inp) && !(inp.name in (o.params ?? {}))) {
          errors.push({
            code: 'missing_input',
            path: `${dPath}.params.${inp.name}`,
            op: o.name,
            message: `template \`${tpl.name}\` requires the input \`${inp.name}\`; set it in the op's params`,
          });
        }
      }
    }

    // conditions
    (o.conditions ?? []).forEach((c: OpCondition, k) => {
      const p = `${dPath}.conditions[${k}]`;
      if (c.kind !== 'status' && c.kind !== 'outputs') {
        errors.push({
          code: 'invalid_policy',
          path: `${p}.kind`,
          op: o.name,
          message: `expected \`status\` or \`outputs\`, got ${JSON.stringify((c as { kind: unknown }).kind)}`,
        });
        return;
      }
      const j = index.get(c.op);
      if (c.op === o.name) {
        errors.push({
          code: 'self_dependency',
          path: `${p}.op`,
          op: o.name,
          message: 'an op cannot depend on itself',
        });
        return;
      }
      if (j === undefined) {
        errors.push({ code: 'unknown_op', path: `${p}.op`, op: o.name, message: unknownOp(c.op) });
        return;
      }
      addUp(j, EDGE_GATE);
      if (c.kind === 'status' && !['succeeded', 'failed', 'done'].includes(c.trigger)) {
        errors.push({
          code: 'invalid_policy',
          path: `${p}.trigger`,
          op: o.name,
          message: `expected succeeded, failed or done, got ${JSON.stringify(c.trigger)}`,
        });
      }
      if (c.kind === 'outputs') {
        if (c.exp !== 'eq' && c.exp !== 'ne')
          errors.push({
            code: 'invalid_policy',
            path: `${p}.exp`,
            op: o.name,
            message: `expected eq or ne, got ${JSON.stringify(c.exp)}`,
          });
        const ttpl = templateOf(drafts[j]);
        if (ttpl) {
          const names = (ttpl.outputs ?? []).map((x) => x.name);
          c.params.forEach(([name], m) => {
            if (!names.includes(name)) {
              errors.push({
                code: 'unknown_output',
                path: `${p}.params[${m}]`,
                op: o.name,
                message:
                  `op \`${c.op}\` (template \`${ttpl.name}\`) has no output \`${name}\`` +
                  (names.length ? suggest(name, names) : ' (it declares no outputs)'),
              });
            }
          });
        }
      }
    });
  }
  upStart[n] = upList.length;

  // adjacency (built even with errors so that cycles are reported in the same pass)
  const upOff = upStart;
  const up = upList.data.slice(0, upList.length);
  const upFlags = Uint8Array.from(flagList.data.subarray(0, flagList.length));
  const outDeg = new Int32Array(n);
  for (let e = 0; e < up.length; e++) outDeg[up[e]]++;
  const downOff = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) downOff[i + 1] = downOff[i] + outDeg[i];
  const down = new Int32Array(downOff[n]);
  const downFlags = new Uint8Array(downOff[n]);
  const fill = downOff.slice(0, n);
  for (let i = 0; i < n; i++) {
    for (let e = upOff[i]; e < upOff[i + 1]; e++) {
      const j = up[e];
      down[fill[j]] = i;
      downFlags[fill[j]++] = upFlags[e];
    }
  }

  // Kahn, layer by layer
  const indeg = new Int32Array(n);
  for (let i = 0; i < n; i++) indeg[i] = upOff[i + 1] - upOff[i];
  const order = new Int32Array(n);
  const layerOf = new Int32Array(n).fill(-1);
  let placed = 0;
  let layer: number[] = [];
  for (let i = 0; i < n; i++) if (indeg[i] === 0) layer.push(i);
  for (let depth = 0; layer.length; depth++) {
    const next: number[] = [];
    for (const i of layer) {
      order[placed++] = i;
      layerOf[i] = depth;
      for (let e = downOff[i]; e < downOff[i + 1]; e++) if (--indeg[down[e]] === 0) next.push(down[e]);
    }
    layer = next.sort((a, b) => a - b);
  }
  if (placed < n) {
    const cycle = findCycle(upOff, up, layerOf, drafts);
    const first = drafts[index.get(cycle[0])!];
    errors.push({
      code: 'cycle',
      path: first.input.dependencies?.length ? `ops[${first.at}].dependencies` : `ops[${first.at}]`,
      op: cycle[0],
      cycle,
      message: `the ops form a cycle: ${cycle.join(' -> ')}`,
    });
  }
  if (errors.length) return { errors };

  const dagOps: DagOp[] = drafts.map((d) => normalise(d));
  return {
    errors,
    graph: new PipelineGraph(dagOps, order, layerOf, upOff, up, downOff, down, downFlags, settings, index),
  };
}

/**
 * One cycle among the ops Kahn could not place. Each of them has an unplaced upstream, so walking
 * upstream from any of them must revisit an op; the ops between the two visits are a cycle.
 */
function findCycle(upOff: Int32Array, up: Int32Array, layerOf: Int32Array, drafts: Draft[]): string[] {
  let start = 0;
  while (layerOf[start] !== -1) start++;
  const pos = new Map<number, number>();
  const walk: number[] = [];
  let cur = start;
  while (!pos.has(cur)) {
    pos.set(cur, walk.length);
    walk.push(cur);
    let next = -1;
    for (let e = upOff[cur]; e < upOff[cur + 1]; e++) {
      if (layerOf[up[e]] === -1) {
        next = up[e];
        break;
      }
    }
    cur = next;
  }
  // walk[k+1] is upstream of walk[k]: reverse to list each op before the ops that depend on it
  const loop = walk.slice(pos.get(cur)!).reverse();
  // start the cycle at its op declared first, for a stable message
  let m = 0;
  for (let k = 1; k < loop.length; k++) if (loop[k] < loop[m]) m = k;
  const rotated = [...loop.slice(m), ...loop.slice(0, m)];
  return [...rotated, rotated[0]].map((i) => drafts[i].input.name);
}

function normalise(d: Draft): DagOp {
  const o = d.input;
  const op: {
    -readonly [K in keyof DagOp]: DagOp[K];
  } = {
    name: o.name,
    params: o.params ?? NO_PARAMS,
    trigger: o.trigger ?? 'all_succeeded',
    conditions: o.conditions ?? NO_CONDITIONS,
    skipOnUpstreamSkip: o.skip_on_upstream_skip ?? false,
    maxRetries: o.max_retries ?? 0,
    retryDelay: o.retry_delay ?? DEFAULT_RETRY_DELAY,
    retryExpBackoff: o.retry_exp_backoff ?? false,
    maxRetryDelay: o.max_retry_delay ?? DEFAULT_MAX_RETRY_DELAY,
    cache: o.cache ?? false,
    dataUpstream: d.dataUpstream ?? NO_DATA,
  };
  if (d.template) op.template = d.template;
  if (o.concurrency !== undefined) op.concurrency = o.concurrency;
  if (o.timeout !== undefined) op.timeout = o.timeout;
  const at = toMillis(o.execute_at);
  if (at !== undefined) op.executeAt = at;
  return op;
}

/** Every problem of a pipeline, in op order; an empty list means `buildPipelineGraph` succeeds. */
export function validatePipeline(input: PipelineInput, options: BuildOptions = {}): DagError[] {
  return analyzePipeline(input, options).errors;
}

/** Validates and indexes a pipeline built in code (or parsed); throws `DagValidationError` listing every problem. */
export function buildPipelineGraph(input: PipelineInput, options: BuildOptions = {}): PipelineGraph {
  const { errors, graph } = analyzePipeline(input, options);
  if (!graph) throw new DagValidationError(errors);
  return graph;
}

/**
 * The graph of a parsed `kind: pipeline` file. `@myelin/spec` has validated names, templates, params,
 * references and the cycle check with file positions; this only indexes (and re-checks the structure,
 * which is cheap and guards against a hand-modified spec).
 */
export function pipelineGraphFromSpec(spec: CompiledSpec): PipelineGraph {
  if (spec.kind !== 'pipeline' || !spec.raw.ops)
    throw new Error(`expected a \`kind: pipeline\` spec, got \`kind: ${spec.kind}\``);
  const raw = spec.raw;
  return buildPipelineGraph(
    {
      ops: raw.ops!,
      templates: raw.templates,
      concurrency: raw.concurrency,
      timeout: raw.timeout,
      execute_at: raw.execute_at,
    },
    { checkParams: false },
  );
}
