/**
 * The policies as pure functions of counts: trigger verdicts, retry delays, conditions. The engine
 * keeps the counts up to date incrementally; tests and callers can use these directly.
 */
import type { OpCondition, ParamValue, TriggerPolicy } from '@myelin/spec';
import type { DagOp } from './types';

/**
 * Final statuses of the upstream ops that take part in the trigger. Skipped upstream ops are left
 * out (a skipped branch is neutral, see README), so `considered` = upstream ops not skipped.
 */
export interface UpstreamCounts {
  considered: number;
  succeeded: number;
  /** failed or upstream_failed */
  failed: number;
  stopped: number;
}

/**
 * - `run`: the trigger holds.
 * - `wait`: it may still hold.
 * - `upstream_failed`: it can no longer hold because upstream ops failed or were stopped (the policy wanted successes).
 * - `skip`: it can no longer hold because upstream ops did not fail (the policy guards a failure branch).
 */
export type TriggerVerdict = 'run' | 'wait' | 'upstream_failed' | 'skip';

export function triggerVerdict(trigger: TriggerPolicy, c: UpstreamCounts): TriggerVerdict {
  const done = c.succeeded + c.failed + c.stopped;
  const pending = c.considered - done;
  switch (trigger) {
    case 'all_succeeded':
      if (c.failed + c.stopped > 0) return 'upstream_failed';
      return c.succeeded === c.considered ? 'run' : 'wait';
    case 'all_failed':
      if (c.succeeded + c.stopped > 0) return 'skip';
      return c.failed === c.considered ? 'run' : 'wait';
    case 'all_done':
      return pending === 0 ? 'run' : 'wait';
    case 'one_succeeded':
      if (c.succeeded > 0 || c.considered === 0) return 'run';
      return pending === 0 ? 'upstream_failed' : 'wait';
    case 'one_failed':
      if (c.failed > 0 || c.considered === 0) return 'run';
      return pending === 0 ? 'skip' : 'wait';
    case 'one_done':
      return done > 0 || c.considered === 0 ? 'run' : 'wait';
  }
}

/** "all_succeeded: 2 of 3 upstream ops succeeded, 1 failed" */
export function describeTrigger(trigger: TriggerPolicy, c: UpstreamCounts, skipped = 0): string {
  if (c.considered === 0 && skipped === 0) return 'no upstream ops';
  const parts = [`${c.succeeded} of ${c.considered} upstream ops succeeded`];
  if (c.failed) parts.push(`${c.failed} failed`);
  if (c.stopped) parts.push(`${c.stopped} stopped`);
  const pending = c.considered - c.succeeded - c.failed - c.stopped;
  if (pending) parts.push(`${pending} not finished`);
  if (skipped) parts.push(`${skipped} skipped (ignored)`);
  return `${trigger}: ${parts.join(', ')}`;
}

/**
 * Seconds to wait before retry number `retry` (1 for the first retry). Without backoff: `retry_delay`.
 * With `retry_exp_backoff`: `retry_delay * 2^(retry - 1)`, capped at `max_retry_delay`.
 */
export function retryDelaySeconds(
  op: Pick<DagOp, 'retryDelay' | 'retryExpBackoff' | 'maxRetryDelay'>,
  retry: number,
): number {
  if (!op.retryExpBackoff) return op.retryDelay;
  return Math.min(op.retryDelay * 2 ** Math.max(0, retry - 1), op.maxRetryDelay);
}

/**
 * Output equality for `{kind: outputs}` conditions: JSON equality, except that a string equals a
 * number or boolean written the same way (outputs often arrive as strings). A missing output equals nothing.
 */
export function outputEquals(actual: ParamValue | undefined, expected: ParamValue): boolean {
  if (actual === undefined) return false;
  if (typeof actual === 'string' && (typeof expected === 'number' || typeof expected === 'boolean'))
    return actual.trim() === String(expected);
  if (typeof expected === 'string' && (typeof actual === 'number' || typeof actual === 'boolean'))
    return expected.trim() === String(actual);
  return canonicalJson(actual) === canonicalJson(expected);
}

/** JSON with object keys sorted, so equal values have equal text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .filter((k) => o[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

/** The final status class a `{kind: status}` condition looks at. */
export type StatusClass = 'succeeded' | 'failed' | 'stopped' | 'skipped';

/**
 * Whether a condition holds, given the condition op's final status class and outputs.
 * `status`: succeeded / failed (failed or upstream_failed) / done (any final status).
 * `outputs`: `eq` needs every listed output equal to its value, `ne` every listed output different.
 */
export function conditionHolds(
  c: OpCondition,
  status: StatusClass,
  outputs: Readonly<Record<string, ParamValue>> | undefined,
): boolean {
  if (c.kind === 'status') {
    if (c.trigger === 'done') return true;
    return c.trigger === status;
  }
  const eq = c.exp === 'eq';
  return c.params.every(([name, value]) => outputEquals(outputs?.[name], value) === eq);
}

export function describeCondition(c: OpCondition): string {
  if (c.kind === 'status') return `\`${c.op}\` ${c.trigger}`;
  const rel = c.exp === 'eq' ? '==' : '!=';
  return c.params.map(([k, v]) => `\`${c.op}.outputs.${k}\` ${rel} ${JSON.stringify(v)}`).join(' and ');
}
