/**
 * Template name resolution: which `{{ names }}` exist at compile time, which are filled per trial
 * (matrix params), which at run time (built-in context, references to other runs' outputs).
 */
import { closest } from './errors';
import { lookupPath, Resolution, TemplateExpr } from './template';
import { ParamValue } from './types';

/**
 * Built-in context names. Polyaxon 0.5/0.6 had no template variables besides params: run
 * information reached the job through environment variables (POLYAXON_RUN_OUTPUTS_PATH,
 * POLYAXON_RUN_DATA_PATHS, POLYAXON_REFS_OUTPUTS_PATHS, POLYAXON_EXPERIMENT_INFO,
 * POLYAXON_TASK_INFO, POLYAXON_LOG_LEVEL...). Myelin offers the same information as template
 * names; they are rendered from the `context` option when given, otherwise kept verbatim as
 * `{{ outputs_path }}` placeholders for the scheduler to fill.
 */
export const BUILTIN_CONTEXT_NAMES: readonly string[] = [
  'outputs_path',
  'logs_path',
  'data_paths',
  'artifact_paths',
  'refs_outputs_paths',
  'project_name',
  'project_uuid',
  'user',
  'experiment_id',
  'experiment_name',
  'experiment_uuid',
  'group_id',
  'group_name',
  'group_uuid',
  'job_id',
  'job_name',
  'job_uuid',
  'run_id',
  'run_name',
  'run_uuid',
  'task_type',
  'task_index',
  'cluster',
  'log_level',
];

const REF_ENTITIES = new Set(['jobs', 'experiments']);

export interface OutputRefInfo {
  /** type of the output, if declared */
  type?: string;
}

export interface TemplateScope {
  /** Values known at compile time (params, inputs defaults, -P). */
  params: Record<string, ParamValue>;
  /** Names of `is_flag` inputs: they print `--name` or nothing. */
  flags: Set<string>;
  /** Names filled in per trial (matrix keys, hyperband/ASHA resource). */
  deferred: Set<string>;
  /** Built-in context values supplied by the caller. */
  context?: Record<string, ParamValue>;
  /** Within a pipeline op's params: resolves `ops.<op>.outputs.<name>`. */
  opsRef?: (e: TemplateExpr) => Resolution;
  /** Whether values must be fully known (true inside renderTrial). */
  final?: boolean;
}

function flagValue(name: string, v: ParamValue): ParamValue {
  return v === true || v === 'true' || v === 'True' ? `--${name}` : '';
}

export function resolveExpr(scope: TemplateScope, e: TemplateExpr): Resolution {
  const { root, path } = e;
  if (Object.prototype.hasOwnProperty.call(scope.params, root)) {
    const base = scope.params[root];
    if (scope.flags.has(root) && path.length === 1) return { kind: 'value', value: flagValue(root, base) };
    const r = lookupPath(base, path);
    if (r.ok) return { kind: 'value', value: r.value };
    return { kind: 'error', message: r.message + suggest(String(path[r.at]), r.candidates) };
  }
  if (scope.deferred.has(root)) {
    return scope.final ? { kind: 'error', message: `no value for \`${root}\` in this trial` } : { kind: 'keep' };
  }
  if (root === 'ops') {
    if (scope.opsRef) return scope.opsRef(e);
    return {
      kind: 'error',
      message: `\`{{ ${e.expr} }}\` refers to a pipeline op's output; such references are only valid in the params of a pipeline op`,
    };
  }
  if (REF_ENTITIES.has(root)) {
    if (path.length === 4 && path[2] === 'outputs' && /^\d+$/.test(String(path[1]))) return { kind: 'keep' };
    return {
      kind: 'error',
      message: `\`{{ ${e.expr} }}\` is not a valid reference; expected \`${root}.<id>.outputs.<name>\``,
    };
  }
  if (BUILTIN_CONTEXT_NAMES.includes(root)) {
    const ctx = scope.context;
    if (ctx && Object.prototype.hasOwnProperty.call(ctx, root)) {
      const r = lookupPath(ctx[root], path);
      if (r.ok) return { kind: 'value', value: r.value };
      return { kind: 'error', message: r.message };
    }
    return { kind: 'keep' };
  }
  const names = [...new Set([...Object.keys(scope.params), ...scope.deferred])];
  return {
    kind: 'error',
    message: `undefined variable \`${root}\`` + suggest(root, [...names, ...BUILTIN_CONTEXT_NAMES], names),
  };
}

function suggest(name: string, candidates: string[], declared?: string[]): string {
  const c = closest(name, candidates);
  if (c !== undefined) return `; did you mean \`${c}\`?`;
  if (declared && declared.length && declared.length <= 12) {
    return ` (declared: ${declared.map((d) => `\`${d}\``).join(', ')})`;
  }
  if (declared && declared.length === 0) return ' (no params are declared)';
  return '';
}
