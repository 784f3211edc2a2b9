/** "Resume from the failed node": which ops of a finished pipeline run to reuse and which to run again. */
import type { RunStatus } from '@myelin/contracts';
import type { ParamValue } from '@myelin/spec';
import { PipelineGraph } from './graph';

export interface ResumePlan {
  /** Ops taken as succeeded, in topological order (pass the plan as `EngineOptions.resume`). */
  reuse: string[];
  /** Ops decided again by the new run, in topological order. */
  rerun: string[];
  /** One sentence per op. */
  reasons: Record<string, string>;
  /** The previous outputs of the reused ops (for conditions and references). */
  outputs: Record<string, Record<string, ParamValue>>;
}

const FINAL = new Set<RunStatus>(['succeeded', 'failed', 'upstream_failed', 'stopped', 'skipped', 'done']);

/**
 * An op is reused when it succeeded and every op upstream of it is reused; everything else is run
 * again. With the default trigger (all_succeeded) that is exactly "the succeeded ops"; the upstream
 * rule matters for ops that ran after a failure (`all_done`, `one_failed`, ...): their inputs change
 * when the failed op runs again, so they run again too.
 *
 * `statuses` holds the final status of each op of the previous run (a missing op did not run);
 * a non-final status throws, since the previous run is not finished.
 */
export function planResume(
  graph: PipelineGraph,
  statuses: Readonly<Record<string, RunStatus | undefined>>,
  outputs: Readonly<Record<string, Record<string, ParamValue> | undefined>> = {},
): ResumePlan {
  for (const [name, st] of Object.entries(statuses)) {
    graph.indexOf(name); // throws on an unknown op
    if (st !== undefined && !FINAL.has(st))
      throw new Error(`the previous run is not finished: op \`${name}\` is ${st}`);
  }
  const plan: ResumePlan = { reuse: [], rerun: [], reasons: {}, outputs: {} };
  const reused = new Uint8Array(graph.size);
  for (const v of graph.order) {
    const name = graph.ops[v].name;
    const st = statuses[name];
    if (st === 'succeeded' || st === 'done') {
      let blocker = -1;
      for (let e = graph.upOff[v]; e < graph.upOff[v + 1]; e++) {
        if (!reused[graph.up[e]]) {
          blocker = graph.up[e];
          break;
        }
      }
      if (blocker < 0) {
        reused[v] = 1;
        plan.reuse.push(name);
        plan.reasons[name] = 'succeeded in the previous run: reused';
        const outs = outputs[name];
        if (outs) plan.outputs[name] = outs;
        continue;
      }
      plan.rerun.push(name);
      plan.reasons[name] = `succeeded, but its upstream op \`${graph.ops[blocker].name}\` runs again`;
      continue;
    }
    plan.rerun.push(name);
    plan.reasons[name] =
      st === undefined
        ? 'did not run'
        : st === 'skipped'
          ? 'was skipped: decided again'
          : `was ${st}: runs again`;
  }
  return plan;
}
