/** Entry points: parse, validate, merge, override and render polyaxonfiles. */
import { experimentCount } from './budget';
import { Checker } from './checker';
import { resolveExpr, TemplateScope } from './context';
import { SpecError, SpecValidationError, sortErrors } from './errors';
import { CliParam, readFile } from './file';
import { checkIOValue } from './io';
import { CompiledPipeline } from './pipeline';
import { pyStr, render } from './template';
import { HPTuning, ParamValue, PolyaxonFile, SearchAlgorithm, SpecKind, SpecSource } from './types';
import { loadYaml, Loc, mergeNodes, YEntry, YMap, YNode } from './yaml-tree';

export interface CompileOptions {
  /** `-P name=value` overrides as raw strings. */
  params?: Record<string, string>;
  /**
   * Values of the built-in context names (`outputs_path`, `experiment_id`, ...). Names without a
   * value are kept as `{{ name }}` placeholders in the rendered command.
   */
  context?: Record<string, ParamValue>;
}

export interface CompiledSpec {
  version: number;
  kind: SpecKind;
  name?: string;
  description?: string;
  tags: string[];
  /** Final values: declared params (or declarations) + input/output defaults + -P overrides, rendered. */
  params: Record<string, ParamValue>;
  /** The merged, validated, normalised file; string templates are not rendered. */
  raw: PolyaxonFile;
  /** The rendered command (a list is joined with " && "); undefined for groups (see renderTrial) and pipelines. */
  run?: { cmd: string };
  /** `raw` with the templates of environment, build, run, tags and logging rendered (not for groups and pipelines). */
  rendered?: PolyaxonFile;
  /** Groups: the normalised hptuning section (same object as raw.hptuning). */
  hptuning?: HPTuning;
  /** Groups: the search algorithm (grid_search when none is given). */
  algorithm?: SearchAlgorithm;
  /** Groups: how many experiments the group creates (grid: capped product; hyperband: computed total). */
  numExperiments?: number;
  /** Pipelines: the op graph in topological order. */
  pipeline?: CompiledPipeline;
  /** The context given at compile time, reused by renderTrial. */
  context?: Record<string, ParamValue>;
  /** The source paths, in merge order. */
  sources: string[];
}

interface Internals {
  cmdNode?: YNode;
}
const internals = new WeakMap<CompiledSpec, Internals>();

function normaliseDeclarations(root: YMap, errors: SpecError[], file: string): YMap {
  const decl = root.entries.get('declarations');
  if (!decl) return root;
  if (root.entries.has('params')) {
    errors.push({ ...decl.keyLoc, file, path: 'declarations', message: 'use only `params` (`declarations` is its 0.4 spelling), not both' });
    const entries = new Map(root.entries);
    entries.delete('declarations');
    return { ...root, entries };
  }
  const entries = new Map<string, YEntry>();
  for (const [k, e] of root.entries) {
    if (k === 'declarations') entries.set('params', { ...e, key: 'declarations' });
    else entries.set(k, e);
  }
  return { ...root, entries };
}

function flagsOf(file: PolyaxonFile): Set<string> {
  return new Set([...(file.inputs ?? []), ...(file.outputs ?? [])].filter((x) => x.is_flag).map((x) => x.name));
}

function renderStrings(v: unknown, scope: TemplateScope): unknown {
  if (typeof v === 'string') {
    if (!v.includes('{{')) return v;
    const r = render(v, (e) => resolveExpr(scope, e));
    return r.errors.length ? v : pyStr(r.value);
  }
  if (Array.isArray(v)) return v.map((x) => renderStrings(x, scope));
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = renderStrings(x, scope);
    return o;
  }
  return v;
}

const RENDERED_SECTIONS = ['environment', 'build', 'run', 'tags', 'logging'] as const;

function renderFile(raw: PolyaxonFile, scope: TemplateScope): PolyaxonFile {
  const out: PolyaxonFile = { ...raw };
  for (const k of RENDERED_SECTIONS) {
    if (raw[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = renderStrings(raw[k], scope);
  }
  return out;
}

function renderCmd(
  cmd: string | string[],
  scope: TemplateScope,
  at: { node?: YNode; fallback: Loc },
  checker: Checker,
): string {
  const one = (s: string, i: number | undefined): string => {
    const r = render(s, (e) => resolveExpr(scope, e));
    if (r.errors.length) {
      const node = at.node && i !== undefined && at.node.t === 'seq' ? at.node.items[i] : at.node;
      if (node) checker.templateErrors(node, i === undefined ? 'run.cmd' : `run.cmd[${i}]`, r.errors, s);
      else for (const e of r.errors) checker.error(at.fallback, 'run.cmd', e.message);
    }
    return pyStr(r.value);
  };
  return Array.isArray(cmd) ? cmd.map((c, i) => one(c, i)).join(' && ') : one(cmd, undefined);
}

/** Parses, validates and merges; returns the errors instead of throwing. */
export function checkPolyaxonfiles(
  sources: SpecSource[],
  options: CompileOptions = {},
): { ok: true; spec: CompiledSpec } | { ok: false; errors: SpecError[] } {
  const errors: SpecError[] = [];
  const order = sources.map((s) => s.path);
  if (sources.length === 0) {
    return { ok: false, errors: [{ file: '<none>', line: 1, column: 1, path: '', message: 'no polyaxonfile given' }] };
  }
  let merged: YNode | undefined;
  let loadFailed = false;
  for (const src of sources) {
    const { root } = loadYaml(src.path, src.content, errors);
    if (root === undefined) {
      loadFailed = true;
      continue;
    }
    if (root.t !== 'map') {
      errors.push({ ...root.loc, path: '', message: 'a polyaxonfile is a mapping of sections (version, kind, ...)' });
      loadFailed = true;
      continue;
    }
    const norm = normaliseDeclarations(root, errors, src.path);
    merged = merged === undefined ? norm : mergeNodes(merged, norm);
  }
  if (loadFailed || merged === undefined || merged.t !== 'map') {
    return { ok: false, errors: sortErrors(errors, order) };
  }
  const cliParams: CliParam[] = Object.entries(options.params ?? {}).map(([name, raw], i) => ({ name, raw, index: i + 1 }));
  const checker = new Checker({ params: {}, flags: new Set(), deferred: new Set(), context: options.context });
  const start: Loc = { file: sources[0].path, line: 1, column: 1 };
  const res = readFile(checker, merged, { cliParams, context: options.context, start });
  errors.push(...checker.errors);
  if (!res || errors.length) return { ok: false, errors: sortErrors(dedupe(errors), order) };

  const raw = res.file;
  const spec: CompiledSpec = {
    version: raw.version,
    kind: raw.kind,
    tags: raw.tags ?? [],
    params: res.params,
    raw,
    sources: order,
  };
  if (raw.name !== undefined) spec.name = raw.name;
  if (raw.description !== undefined) spec.description = raw.description;
  if (options.context) spec.context = options.context;
  if (raw.kind === 'group' && raw.hptuning) {
    spec.hptuning = raw.hptuning;
    spec.algorithm = res.algorithm;
    spec.numExperiments = experimentCount(raw.hptuning);
  }
  if (raw.kind === 'pipeline') spec.pipeline = res.pipeline;
  if (raw.kind !== 'group' && raw.kind !== 'pipeline') {
    spec.rendered = renderFile(raw, res.scope);
    if (raw.run) spec.run = { cmd: renderCmd(raw.run.cmd, res.scope, { node: res.cmdNode, fallback: start }, checker) };
  }
  internals.set(spec, { cmdNode: res.cmdNode });
  if (checker.errors.length) return { ok: false, errors: sortErrors(dedupe(checker.errors), order) };
  return { ok: true, spec };
}

function dedupe(errors: SpecError[]): SpecError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.file}:${e.line}:${e.column}:${e.path}:${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Parses, validates, deep-merges in order, applies -P overrides and renders; throws SpecValidationError. */
export function parsePolyaxonfiles(sources: SpecSource[], options: CompileOptions = {}): CompiledSpec {
  const r = checkPolyaxonfiles(sources, options);
  if (!r.ok) throw new SpecValidationError(r.errors);
  return r.spec;
}

/**
 * Renders the run section for one trial of a group: the trial's params are merged over
 * `spec.params`, params that referred to matrix values are re-rendered, then the command.
 */
export function renderTrial(
  spec: CompiledSpec,
  trialParams: Record<string, ParamValue>,
  context: Record<string, ParamValue> | undefined = spec.context,
): { cmd: string; params: Record<string, ParamValue>; rendered: PolyaxonFile } {
  const raw = spec.raw;
  const flags = flagsOf(raw);
  const fallback: Loc = { file: spec.sources[0] ?? '<spec>', line: 1, column: 1 };
  const trialLoc: Loc = { file: '<trial>', line: 1, column: 1 };
  const checker = new Checker({ params: {}, flags, deferred: new Set(), context });
  const merged: Record<string, ParamValue> = { ...spec.params, ...trialParams };
  const io = new Map([...(raw.inputs ?? []), ...(raw.outputs ?? [])].map((x) => [x.name, x]));
  for (const [k, v] of Object.entries(trialParams)) {
    const decl = io.get(k);
    const err = decl ? checkIOValue(decl, v) : undefined;
    if (err) checker.error(trialLoc, `params.${k}`, err);
  }
  const deferred = new Set<string>(Object.keys(raw.hptuning?.matrix ?? {}));
  if (raw.hptuning?.hyperband) deferred.add(raw.hptuning.hyperband.resource.name);
  if (raw.hptuning?.asha) deferred.add(raw.hptuning.asha.resource.name);
  for (const k of Object.keys(merged)) deferred.delete(k);
  const scope: TemplateScope = { params: merged, flags, deferred, context, final: true };
  const params: Record<string, ParamValue> = {};
  for (const [k, v] of Object.entries(merged)) {
    if (typeof v === 'string' && v.includes('{{')) {
      const others = Object.fromEntries(Object.entries(merged).filter(([n]) => n !== k));
      const rr = render(v, (e) => resolveExpr({ ...scope, params: others }, e));
      for (const e of rr.errors) checker.error(trialLoc, `params.${k}`, e.message);
      params[k] = rr.errors.length ? v : rr.value;
    } else params[k] = renderStrings(v, scope) as ParamValue;
  }
  const finalScope: TemplateScope = { ...scope, params };
  let cmd = '';
  if (raw.run) cmd = renderCmd(raw.run.cmd, finalScope, { node: internals.get(spec)?.cmdNode, fallback }, checker);
  else checker.error(fallback, 'run.cmd', `a ${raw.kind} has no run section to render`);
  if (checker.errors.length) throw new SpecValidationError(checker.errors);
  return { cmd, params, rendered: renderFile(raw, finalScope) };
}
