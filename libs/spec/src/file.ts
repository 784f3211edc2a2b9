/** Reads a whole (merged) polyaxonfile, or an inline pipeline template, into a `PolyaxonFile`. */
import {
  asMap,
  Checker,
  entry,
  field,
  isNull,
  join,
  readAny,
  readEnum,
  readInt,
  readStr,
  readStrList,
} from './checker';
import { resolveExpr, TemplateScope } from './context';
import { didYouMean } from './errors';
import { readHPTuning } from './hptuning';
import { checkIOValue, convertCliValue, NAME_RE, readIOList } from './io';
import { CompiledPipeline, readDatetime, readPipelineBody, readSchedule } from './pipeline';
import { BUILD_FIELDS, readBuild, readBuildFields, readEnvironment, readLogging, readRun } from './sections';
import { render } from './template';
import { IOSpec, ParamValue, PipelineTemplate, PolyaxonFile, SearchAlgorithm, SPEC_KINDS, SpecKind } from './types';
import { Loc, YMap, YNode } from './yaml-tree';

const HEADER = ['version', 'kind', 'name', 'description', 'tags', 'logging'];
const IO = ['inputs', 'outputs'];
const BUILD_TOP = BUILD_FIELDS.filter((f) => f !== 'backend');

export const SECTIONS: Record<SpecKind, readonly string[]> = {
  experiment: [...HEADER, ...IO, 'params', 'declarations', 'backend', 'framework', 'environment', 'build', 'run'],
  group: [...HEADER, ...IO, 'params', 'declarations', 'backend', 'framework', 'environment', 'build', 'run', 'hptuning'],
  job: [...HEADER, ...IO, 'params', 'backend', 'environment', 'build', 'run'],
  notebook: [...HEADER, ...IO, 'backend', 'environment', 'build'],
  tensorboard: [...HEADER, ...IO, 'environment', 'build'],
  build: [...HEADER, ...IO, 'backend', 'environment', ...BUILD_TOP],
  pipeline: [...HEADER, 'backend', 'ops', 'templates', 'schedule', 'concurrency', 'execute_at', 'timeout'],
};

function sectionHint(kind: SpecKind, key: string): string | undefined {
  const group = `\`${key}\` is only allowed with \`kind: group\``;
  if (key === 'hptuning' || key === 'matrix') return key === 'matrix' ? 'the matrix goes under `hptuning.matrix` (with `kind: group`)' : group;
  if (key === 'declarations' && SECTIONS[kind].includes('params')) return `\`declarations\` is the 0.4 spelling of \`params\`; \`kind: ${kind}\` only accepts \`params\``;
  if ((key === 'params' || key === 'declarations') && !SECTIONS[kind].includes('params')) return `\`kind: ${kind}\` takes no params`;
  if (key === 'run' || key === 'cmd') {
    if (!SECTIONS[kind].includes('run')) return `a ${kind} has no \`run\` section: its command is set by the platform`;
    return 'the command goes in `run.cmd`';
  }
  if (key === 'framework') return '`framework` is only allowed for experiments and groups';
  if (key === 'backend') return `\`kind: ${kind}\` takes no backend`;
  if (key === 'build' && kind === 'build') return 'in a `kind: build` file the build fields (image, dockerfile, build_steps, ...) go at the top level';
  if ((BUILD_TOP as readonly string[]).includes(key) && kind !== 'build') return `did you mean \`build.${key}\`?`;
  if (key === 'replicas' || key === 'resources' || key === 'node_selector') return `did you mean \`environment.${key}\`?`;
  if (key === 'project') return 'the 2018 `project:` section is not part of the v0.x format (the project is chosen on the command line)';
  if (['model', 'train', 'eval', 'settings'].includes(key)) return `\`${key}\` belongs to the 2018 model files, which are not supported`;
  if (['ops', 'templates', 'schedule'].includes(key)) return `\`${key}\` is only allowed with \`kind: pipeline\``;
  if (['inputs', 'outputs'].includes(key) && kind === 'pipeline') return 'a pipeline declares inputs and outputs in its templates';
  if (key === 'environment' && kind === 'pipeline') return 'set the environment on each op or template';
  if (key === 'concurrency' && kind === 'group') return 'did you mean `hptuning.concurrency`?';
  return undefined;
}

export interface CliParam {
  name: string;
  raw: string;
  /** 1-based position among the -P options, used as the error line. */
  index: number;
}

export interface ReadFileOptions {
  /** An inline template of a pipeline: `name` required, `version` optional, inputs not required. */
  template?: boolean;
  cliParams?: CliParam[];
  context?: Record<string, ParamValue>;
  /** Location of the first file, for errors about missing header fields. */
  start: Loc;
}

export interface FileResult {
  file: PolyaxonFile;
  params: Record<string, ParamValue>;
  scope: TemplateScope;
  algorithm?: SearchAlgorithm;
  resourceParam?: string;
  pipeline?: CompiledPipeline;
  /** Nodes of string fields for later rendering errors. */
  cmdNode?: YNode;
}

const CLI_FILE = '-P';

function cliLoc(p: CliParam): Loc {
  return { file: CLI_FILE, line: p.index, column: 1 };
}

/** Renders templates inside param values that point at other params. */
function renderParams(
  c: Checker,
  raw: Record<string, ParamValue>,
  nodes: Map<string, YNode | Loc>,
  baseScope: TemplateScope,
): Record<string, ParamValue> {
  const done: Record<string, ParamValue> = {};
  const visiting = new Set<string>();
  const get = (name: string): ParamValue => {
    if (name in done) return done[name];
    if (visiting.has(name)) {
      const at = nodes.get(name);
      if (at) c.error(at, join('params', name), `\`${name}\` refers to itself through other params`);
      return raw[name];
    }
    visiting.add(name);
    const at = nodes.get(name);
    const v = renderValue(raw[name], at, join('params', name));
    visiting.delete(name);
    done[name] = v;
    return v;
  };
  // a lazily resolved view of the params: reading one renders it (and what it refers to) first
  const view: Record<string, ParamValue> = {};
  for (const k of Object.keys(raw)) Object.defineProperty(view, k, { enumerable: true, get: () => get(k) });
  const scopeFor = (): TemplateScope => ({ ...baseScope, params: view });
  const renderValue = (v: ParamValue, at: YNode | Loc | undefined, path: string): ParamValue => {
    if (typeof v === 'string') {
      if (!v.includes('{{') && !v.includes('{%')) return v;
      const r = render(v, (e) => resolveExpr(scopeFor(), e));
      if (at && 't' in at) c.templateErrors(at, path, r.errors, v);
      else if (at) for (const e of r.errors) c.error(at, path, e.message);
      return r.value;
    }
    if (Array.isArray(v)) return v.map((x, i) => renderValue(x, at && 't' in at && at.t === 'seq' ? at.items[i] : at, join(path, i)));
    if (v !== null && typeof v === 'object') {
      const o: { [k: string]: ParamValue } = {};
      for (const [k, x] of Object.entries(v)) {
        const sub = at && 't' in at && at.t === 'map' ? at.entries.get(k)?.value : at;
        o[k] = renderValue(x, sub, join(path, k));
      }
      return o;
    }
    return v;
  };
  for (const k of Object.keys(raw)) get(k);
  return done;
}

export function readFile(c: Checker, map: YMap, opts: ReadFileOptions): FileResult | undefined {
  const isTemplate = opts.template === true;
  // ---- kind & version
  const kindNode = field(map, 'kind');
  let kind: SpecKind | undefined;
  if (kindNode === undefined || isNull(kindNode)) {
    c.error(kindNode ?? (isTemplate ? map.loc : opts.start), 'kind', `\`kind\` is required: one of ${(isTemplate ? SPEC_KINDS.filter((k) => k !== 'pipeline') : SPEC_KINDS).join(', ')}`);
  } else {
    kind = readEnum(c, kindNode, 'kind', SPEC_KINDS, { plugin: 'notebook' });
    if (kind === 'pipeline' && isTemplate) {
      c.error(kindNode, 'kind', 'a pipeline template cannot itself be a pipeline');
      kind = undefined;
    }
  }
  const versionNode = field(map, 'version');
  let version = 1;
  if (versionNode === undefined || isNull(versionNode)) {
    if (!isTemplate) c.error(versionNode ?? opts.start, 'version', '`version` is required; the only supported version is 1');
  } else if (versionNode.t !== 'scalar' || versionNode.value !== 1) {
    c.error(versionNode, 'version', `unsupported version ${versionNode.t === 'scalar' ? JSON.stringify(versionNode.value) : ''}: the only supported polyaxonfile version is 1`);
  } else version = 1;
  if (!kind) return undefined;

  // ---- sections
  const allowed = SECTIONS[kind];
  for (const e of map.entries.values()) {
    const shown = e.key; // `declarations` keeps its spelling after normalisation
    if (allowed.includes(shown) || (shown === 'declarations' && allowed.includes('declarations'))) continue;
    const hint = sectionHint(kind, shown);
    const path = shown;
    if (hint !== undefined) c.error(e.keyLoc, path, `unexpected section \`${shown}\` for \`kind: ${kind}\`: ${hint}`);
    else {
      const all = new Set(Object.values(SECTIONS).flat());
      const known = all.has(shown);
      c.error(
        e.keyLoc,
        path,
        known ? `unexpected section \`${shown}\` for \`kind: ${kind}\`` : `unknown section \`${shown}\`` + didYouMean(shown, allowed),
      );
    }
  }
  const has = (k: string): boolean => allowed.includes(k) && map.entries.has(k);
  const file: PolyaxonFile = { version, kind };

  // ---- header
  const name = readStr(c, field(map, 'name'), 'name', {
    templates: false,
    pattern: NAME_RE,
    patternMsg: 'names may only contain letters, digits, `-` and `_`',
  });
  if (name !== undefined) file.name = name;
  else if (isTemplate && isNull(field(map, 'name'))) c.error(field(map, 'name') ?? map, 'name', 'a pipeline template needs a `name`');
  const description = readStr(c, field(map, 'description'), 'description', { templates: false });
  if (description !== undefined) file.description = description.trim();

  // ---- params, inputs, outputs
  const inputs = has('inputs') ? readIOList(c, field(map, 'inputs'), 'inputs') : undefined;
  const outputs = has('outputs') ? readIOList(c, field(map, 'outputs'), 'outputs') : undefined;
  if (inputs) file.inputs = inputs;
  if (outputs) file.outputs = outputs;
  const io = new Map<string, IOSpec>();
  for (const [list, lp] of [
    [inputs ?? [], 'inputs'],
    [outputs ?? [], 'outputs'],
  ] as const) {
    list.forEach((x, i) => {
      if (io.has(x.name)) {
        const seqNode = field(map, lp);
        const itemNode = seqNode && seqNode.t === 'seq' ? seqNode.items[i] : seqNode;
        c.error(itemNode ?? map, join(join(lp, i), 'name'), `\`${x.name}\` is declared twice in inputs/outputs`);
      }
      io.set(x.name, x);
    });
  }
  const typed = io.size > 0;
  const rawParams: Record<string, ParamValue> = {};
  const paramNodes = new Map<string, YNode | Loc>();
  const rejected = new Set<string>();
  const fileParams: Record<string, ParamValue> = {};
  const pe = entry(map, 'params');
  if (pe && allowed.includes('params')) {
    const pm = asMap(c, pe.value, pe.key, 'a mapping of param names to values');
    if (pm) {
      for (const [k, e] of pm.entries) {
        const p = join(pe.key, k);
        const v = readAny(c, e.value, p, false);
        if (typed && !io.has(k)) {
          c.error(e.keyLoc, p, `\`${k}\` is not declared in inputs or outputs` + didYouMean(k, io.keys()));
          rejected.add(k);
          continue;
        }
        const decl = io.get(k);
        if (decl) {
          const err = checkIOValue(decl, v);
          if (err) c.error(e.value, p, err);
        }
        fileParams[k] = v;
        rawParams[k] = v;
        paramNodes.set(k, e.value);
      }
      file.params = fileParams;
    }
  }
  // inputs defaults
  for (const x of io.values()) {
    if (!(x.name in rawParams) && x.default !== undefined) rawParams[x.name] = x.default;
    else if (!(x.name in rawParams) && (x.is_optional || !inputs?.includes(x))) rawParams[x.name] = null;
  }

  // ---- hptuning (its matrix names are filled per trial)
  let algorithm: SearchAlgorithm | undefined;
  let resourceParam: string | undefined;
  const deferred = new Set<string>();
  let hpNode: YNode | undefined;
  if (kind === 'group') {
    hpNode = field(map, 'hptuning');
    if (hpNode === undefined || isNull(hpNode)) {
      c.error(hpNode ?? opts.start, 'hptuning', 'a group needs an `hptuning` section with a `matrix`');
    } else {
      const m = hpNode.t === 'map' ? hpNode : undefined;
      const mm = m ? field(m, 'matrix') : undefined;
      if (mm && mm.t === 'map') for (const k of mm.entries.keys()) deferred.add(k);
      for (const alg of ['hyperband', 'asha']) {
        const a = m ? field(m, alg) : undefined;
        const r = a && a.t === 'map' ? field(a, 'resource') : undefined;
        const rn = r && r.t === 'map' ? field(r, 'name') : undefined;
        if (rn && rn.t === 'scalar' && typeof rn.value === 'string') deferred.add(rn.value);
      }
    }
  }
  if (isTemplate) {
    // op params arrive at run time
    for (const x of io.values()) deferred.add(x.name);
  }

  // ---- -P overrides
  const attempted = new Set<string>();
  for (const p of opts.cliParams ?? []) {
    attempted.add(p.name);
    const decl = io.get(p.name);
    const path = join('params', p.name);
    if (kind === 'pipeline' || !allowed.includes('params') && !typed) {
      c.error(cliLoc(p), path, `\`kind: ${kind}\` takes no params`);
      continue;
    }
    if (typed && !decl) {
      c.error(cliLoc(p), path, `\`${p.name}\` is not declared in inputs or outputs` + didYouMean(p.name, io.keys()));
      continue;
    }
    if (deferred.has(p.name) && kind === 'group') {
      c.error(cliLoc(p), path, `\`${p.name}\` is searched by the matrix: every trial sets its own value`);
      continue;
    }
    const r = convertCliValue(p.raw, decl);
    if (!r.ok) {
      c.error(cliLoc(p), path, r.message);
      continue;
    }
    rawParams[p.name] = r.value;
    paramNodes.set(p.name, cliLoc(p));
  }

  // a rejected -P value is reported once, not again as a missing or undefined name
  for (const n of [...attempted, ...rejected]) if (!(n in rawParams)) deferred.add(n);
  // required inputs
  if (!isTemplate && inputs) {
    const seqNode = field(map, 'inputs');
    inputs.forEach((x, i) => {
      if (x.is_optional || x.name in rawParams || deferred.has(x.name) || attempted.has(x.name)) return;
      deferred.add(x.name); // reported once here, not again at each use
      const itemNode = seqNode && seqNode.t === 'seq' ? seqNode.items[i] : seqNode;
      c.error(itemNode ?? map, join(join('inputs', i), 'name'), `the input \`${x.name}\` is required: give it a value in \`params\` or with \`-P ${x.name}=...\``);
    });
  }

  const flags = new Set([...io.values()].filter((x) => x.is_flag).map((x) => x.name));
  const baseScope: TemplateScope = { params: {}, flags, deferred, context: opts.context };
  const params = renderParams(c, rawParams, paramNodes, baseScope);
  // rendered params against their declaration
  for (const [k, v] of Object.entries(params)) {
    const decl = io.get(k);
    const at = paramNodes.get(k);
    if (!decl || !at || rawParams[k] === v || (typeof v === 'string' && v.includes('{{'))) continue;
    const err = checkIOValue(decl, v);
    if (err) c.error(at, join('params', k), `once rendered: ${err}`);
  }
  const scope: TemplateScope = { params, flags, deferred, context: opts.context };
  c.scope = scope;

  // ---- the rest of the header (templates allowed)
  const tags = readStrList(c, field(map, 'tags'), 'tags', { nonEmpty: true });
  if (tags) file.tags = [...new Set(tags)];
  const logging = readLogging(c, field(map, 'logging'), 'logging');
  if (logging) file.logging = logging;

  const result: FileResult = { file, params, scope };

  // ---- hptuning
  if (kind === 'group' && hpNode && !isNull(hpNode)) {
    const hp = readHPTuning(c, hpNode, 'hptuning');
    if (hp) {
      file.hptuning = hp.hptuning;
      algorithm = hp.algorithm;
      resourceParam = hp.resourceParam;
      result.algorithm = algorithm;
      result.resourceParam = resourceParam;
      // matrix values against declared inputs
      for (const [k, o] of Object.entries(hp.hptuning.matrix)) {
        const decl = io.get(k);
        if (!decl || (o.kind !== 'values' && o.kind !== 'pvalues')) continue;
        o.values.forEach((v, i) => {
          const err = checkIOValue(decl, v);
          const mn = hpNode && hpNode.t === 'map' ? field(hpNode, 'matrix') : undefined;
          const kn = mn && mn.t === 'map' ? mn.entries.get(k)?.value : undefined;
          if (err) c.error(kn ?? hpNode!, join(join(join('hptuning.matrix', k), o.kind), i), `input \`${k}\`: ${err}`);
        });
      }
    }
  }

  // ---- framework & backend
  let framework: string | undefined;
  if (has('framework')) {
    framework = readStr(c, field(map, 'framework'), 'framework', { nonEmpty: true })?.trim().toLowerCase();
    if (framework !== undefined) file.framework = framework;
  }
  let backend: string | undefined;
  if (has('backend')) {
    const bn = field(map, 'backend');
    if (kind === 'experiment' || kind === 'group') backend = readEnum(c, bn, 'backend', ['native', 'kubeflow', 'mpi', 'other'] as const);
    else if (kind === 'notebook') backend = readEnum(c, bn, 'backend', ['notebook', 'lab'] as const);
    else if (kind === 'build') backend = readEnum(c, bn, 'backend', ['native', 'kaniko', 'other'] as const);
    else backend = readStr(c, bn, 'backend', { nonEmpty: true })?.trim().toLowerCase();
    if (backend !== undefined) file.backend = backend;
  }

  // ---- environment, build, run
  if (has('environment')) {
    const env = readEnvironment(c, field(map, 'environment'), 'environment', {
      replicas: kind === 'experiment' || kind === 'group',
      framework: { value: framework, node: field(map, 'framework') },
      backend,
    });
    if (env) file.environment = env;
  }
  if (kind === 'build') {
    file.build = readBuildFields(c, map, '', false);
  } else if (has('build')) {
    const b = readBuild(c, field(map, 'build'), 'build');
    if (b) file.build = b;
  }
  if ((kind === 'job' || kind === 'notebook' || kind === 'tensorboard') && isNull(field(map, 'build'))) {
    c.error(field(map, 'build') ?? (isTemplate ? map.loc : opts.start), 'build', `a ${kind} needs a \`build\` section (at least \`build.image\`)`);
  }
  if (has('run')) {
    const r = readRun(c, field(map, 'run'), 'run');
    if (r) {
      file.run = r;
      const rn = field(map, 'run');
      result.cmdNode = rn && rn.t === 'map' ? field(rn, 'cmd') : undefined;
    }
  }
  if ((kind === 'experiment' || kind === 'group' || kind === 'job') && isNull(field(map, 'run'))) {
    c.error(field(map, 'run') ?? (isTemplate ? map.loc : opts.start), 'run', `a ${kind} needs \`run.cmd\``);
  }

  // ---- pipeline
  if (kind === 'pipeline') {
    const conc = readInt(c, field(map, 'concurrency'), 'concurrency', { min: 1 });
    if (conc !== undefined) file.concurrency = conc;
    const sched = readSchedule(c, field(map, 'schedule'), 'schedule');
    if (sched) file.schedule = sched;
    const at = readDatetime(c, field(map, 'execute_at'), 'execute_at');
    if (at) file.execute_at = at;
    const timeout = readInt(c, field(map, 'timeout'), 'timeout', { gt: 0 });
    if (timeout !== undefined) file.timeout = timeout;
    const body = readPipelineBody(c, map, (node, path) => readTemplateFile(c, node, path));
    file.templates = body.templates;
    file.ops = body.ops;
    result.pipeline = body.dag;
  }
  return result;
}

/** An inline template: checked with its own scope, errors prefixed with its path. */
function readTemplateFile(outer: Checker, node: YNode, path: string): PipelineTemplate | undefined {
  const map = asMap(outer, node, path, 'a template (a polyaxonfile with a `name`)');
  if (!map) return undefined;
  const inner = new Checker({ params: {}, flags: new Set(), deferred: new Set() });
  const r = readFile(inner, map, { template: true, start: map.loc });
  for (const e of inner.errors) outer.errors.push({ ...e, path: e.path ? join(path, e.path) : path });
  if (!r || r.file.name === undefined) return undefined;
  return r.file as PipelineTemplate;
}
