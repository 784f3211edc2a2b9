/** The short description printed by `myelin check`. */
import { ashaRungs, hyperbandPlan } from './budget';
import { CompiledSpec } from './compile';
import { describeMatrixOption } from './matrix';
import { pyRepr, pyStr } from './template';
import { EarlyStopping, ParamValue } from './types';

function shortValue(v: ParamValue): string {
  const s = typeof v === 'string' ? pyStr(v) : pyRepr(v);
  return s.length > 40 ? s.slice(0, 37) + '...' : s;
}

function describeStopping(e: EarlyStopping): string {
  switch (e.kind) {
    case 'metric':
      return `${e.metric} ${e.optimization === 'maximize' ? '>=' : '<='} ${e.value}`;
    case 'truncation':
      return `truncation policy on ${e.metric} (${e.optimization}), stop worst ${e.percent}%`;
    default:
      return `${e.kind} policy on ${e.metric} (${e.optimization}), after ${e.min_trials} trials`;
  }
}

/** A few lines: kind, name, params; for a group its algorithm, concurrency and experiment count; for a pipeline its ops. */
export function summarizeSpec(spec: CompiledSpec): string {
  const lines: string[] = [];
  lines.push(`kind: ${spec.kind}`);
  if (spec.name) lines.push(`name: ${spec.name}`);
  if (spec.tags.length) lines.push(`tags: ${spec.tags.join(', ')}`);
  const params = Object.entries(spec.params);
  if (params.length) {
    lines.push(`params: ${params.map(([k, v]) => `${k}=${shortValue(v)}`).join(', ')}`);
  }
  const raw = spec.raw;
  if (raw.framework) lines.push(`framework: ${raw.framework}`);
  if (raw.backend) lines.push(`backend: ${raw.backend}`);
  const replicas = raw.environment?.replicas;
  if (replicas) {
    const parts = [`1 master`];
    if (replicas.n_workers) parts.push(`${replicas.n_workers} worker${replicas.n_workers > 1 ? 's' : ''}`);
    if (replicas.n_ps) parts.push(`${replicas.n_ps} ps`);
    lines.push(`replicas: ${parts.join(', ')}`);
  }
  const hp = spec.hptuning;
  if (spec.kind === 'group' && hp) {
    lines.push(`algorithm: ${spec.algorithm ?? 'grid_search'}`);
    lines.push(`concurrency: ${hp.concurrency}`);
    let count = `experiments: ${spec.numExperiments ?? '?'}`;
    if (hp.hyperband) {
      const plan = hyperbandPlan(hp.hyperband);
      count += ` (${plan.brackets.length} brackets, max_iter ${hp.hyperband.max_iter}, eta ${hp.hyperband.eta})`;
    } else if (hp.asha) {
      count += ` (rungs at ${hp.asha.resource.name} = ${ashaRungs(hp.asha).join(', ')})`;
    } else if (hp.bo) {
      count += ` (${hp.bo.n_initial_trials} initial + ${hp.bo.n_iterations} iterations)`;
    }
    lines.push(count);
    const metric = hp.hyperband?.metric ?? hp.bo?.metric ?? hp.tpe?.metric ?? hp.asha?.metric;
    if (metric) lines.push(`metric: ${metric.name} (${metric.optimization})`);
    lines.push('matrix:');
    for (const [k, o] of Object.entries(hp.matrix)) lines.push(`  ${k}: ${describeMatrixOption(o)}`);
    if (hp.early_stopping.length) lines.push(`early stopping: ${hp.early_stopping.map(describeStopping).join('; ')}`);
  }
  if (spec.kind === 'pipeline' && raw.ops) {
    lines.push(`ops: ${raw.ops.length} (${spec.pipeline?.order.join(', ') ?? raw.ops.map((o) => o.name).join(', ')})`);
    if (raw.concurrency) lines.push(`concurrency: ${raw.concurrency}`);
    const s = raw.schedule;
    if (s) lines.push(`schedule: ${s.kind === 'cron' ? `cron "${s.cron}"` : `every ${s.frequency}s from ${s.start_at}`}`);
  }
  if (spec.run) lines.push(`cmd: ${spec.run.cmd}`);
  return lines.join('\n');
}
