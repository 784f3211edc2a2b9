import { templateFileOf } from '@myelin/spec';
import type { CompiledSpec } from '@myelin/spec';

/** Template kinds whose op runs the scheduler executes itself, one process (or pod set) per run. */
const SCHEDULED_KINDS = new Set(['experiment', 'job']);

/**
 * How many ops a pipeline run may hand to the scheduler beyond its `concurrency` (the engine's
 * `admitAhead`): as many as the concurrency itself, so that when an op ends the next one is already
 * queued there and starts in the same admission pass, instead of after the pipelines service has
 * seen the end, decided and asked the API for the run (a round trip per op, paid on every slot).
 *
 * Only when the scheduler holds every op run of the pipeline at that concurrency (its
 * `PipelineLimit`, counted over the runs whose parent is the pipeline run): every op is an inline
 * experiment or job template (a build runs inside its admitted run, so it counts too). A group
 * op's trials are counted under their group, not the pipeline, and a path template's kind is known
 * only once compiled: with either, the engine alone keeps the limit (0).
 */
export function admitAheadOf(spec: CompiledSpec): number {
  const raw = spec.raw;
  const limit = raw.concurrency;
  if (limit === undefined || !raw.ops?.length) return 0;
  const templates = new Map((raw.templates ?? []).map((t) => [t.name, t]));
  const scheduled = raw.ops.every((op) => {
    if (templateFileOf(op.template) !== undefined || op.template.name === undefined) return false;
    const template = templates.get(op.template.name);
    return template !== undefined && SCHEDULED_KINDS.has(template.kind);
  });
  return scheduled ? limit : 0;
}
