import type { CompiledSpec } from '@myelin/spec';
import { pipelineGraphFromSpec } from '@myelin/dag';
import type { RunEntity } from '@myelin/persistence';

/** One op of a pipeline run as the API shows it: its policies, its current status and why. */
export interface PipelineOpView {
  name: string;
  template: string | null;
  upstream: string[];
  trigger: string;
  /** `waiting` (no decision yet), `reused` (a retry took it from the earlier run), `cached` (a cache hit), `retrying`, or its run's status. */
  status: string;
  /** Why the latest op run was started: the trigger that held, or for `cache: true` ops the cache miss and its reason. */
  decision: string | null;
  reason: string;
  message: string;
  /** Attempts started (retries included). */
  attempts: number;
  maxRetries: number;
  /** The op's latest run; every run of the op (attempts and marks) in `runs`, oldest first. */
  run: { uuid: string; number: number; status: string } | null;
  runs: number[];
}

export interface PipelineGraphView {
  ops: PipelineOpView[];
  /** Topological layers: the ops of one layer do not depend on each other. */
  layers: string[][];
  edges: Array<[string, string]>;
}

/** The op of a child run, from its key under the pipeline run (`<op>:<attempt>` or `<op>:mark`). */
function keyOf(run: RunEntity): { op: string; attempt: number | null } | null {
  const key = run.trialKey;
  if (!key) return null;
  const at = key.lastIndexOf(':');
  if (at < 0) return null;
  const tail = key.slice(at + 1);
  return { op: key.slice(0, at), attempt: tail === 'mark' ? null : Number(tail) };
}

/**
 * The ops of a pipeline run with their statuses, from the pipeline's spec (the graph, libs/dag) and
 * its child runs (one per attempt, or one mark for an op that never ran).
 */
export function pipelineView(pipeline: RunEntity, children: RunEntity[]): PipelineGraphView {
  const spec = pipeline.spec as unknown as CompiledSpec;
  const graph = pipelineGraphFromSpec(spec);
  const byOp = new Map<string, RunEntity[]>();
  for (const child of children) {
    const k = keyOf(child);
    if (!k) continue;
    const list = byOp.get(k.op) ?? [];
    list.push(child);
    byOp.set(k.op, list);
  }
  const pipelineOver = ['succeeded', 'failed', 'stopped', 'skipped', 'upstream_failed', 'done'].includes(pipeline.status);
  const ops = graph.topologicalOrder().map((name): PipelineOpView => {
    const op = graph.op(name);
    const runs = (byOp.get(name) ?? []).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.number - b.number);
    const latest = runs[runs.length - 1];
    const attempts = runs.filter((r) => keyOf(r)?.attempt !== null).length;
    let status = latest ? latest.status : 'waiting';
    let reason = latest ? latest.statusReason : pipelineOver ? 'NotRun' : 'Waiting';
    let message = latest ? latest.statusMessage : '';
    if (latest?.statusReason === 'Reused') status = 'reused';
    else if (latest?.statusReason === 'Cached') status = 'cached';
    else if (latest && latest.status === 'failed' && !pipelineOver && keyOf(latest)?.attempt !== null && attempts <= op.maxRetries) {
      status = 'retrying';
      reason = 'Retrying';
      message = `attempt ${attempts} failed; ${op.maxRetries - attempts + 1} retries left`;
    }
    return {
      name,
      template: op.template?.name ?? null,
      upstream: [...graph.upstream(name)].sort(),
      trigger: op.trigger,
      status,
      reason,
      message,
      decision: typeof latest?.spec['pipelineDecision'] === 'string' ? latest.spec['pipelineDecision'] : null,
      attempts,
      maxRetries: op.maxRetries,
      run: latest ? { uuid: latest.uuid, number: latest.number, status: latest.status } : null,
      runs: runs.map((r) => r.number),
    };
  });
  const edges: Array<[string, string]> = [];
  for (const o of ops) for (const u of o.upstream) edges.push([u, o.name]);
  return { ops, layers: graph.layers(), edges };
}
