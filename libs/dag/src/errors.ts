/** Validation errors of a pipeline graph: one code per rule, a field path, a sentence. */

export type DagErrorCode =
  | 'empty_pipeline'
  | 'invalid_name'
  | 'duplicate_op'
  | 'duplicate_template'
  | 'unknown_op'
  | 'unknown_template'
  | 'self_dependency'
  | 'cycle'
  | 'bad_reference'
  | 'unknown_output'
  | 'unknown_input'
  | 'missing_input'
  | 'invalid_param'
  | 'type_mismatch'
  | 'invalid_policy';

export interface DagError {
  code: DagErrorCode;
  /** Field path in the spec's notation: `ops[2].params.lr`, `ops[0].dependencies[1]`. */
  path: string;
  /** The op the error is about, when there is one. */
  op?: string;
  message: string;
  /** `cycle` only: the ops of the cycle in order, each one upstream of the next, the first repeated at the end. */
  cycle?: string[];
}

export function formatDagError(e: DagError): string {
  return `${e.path}: ${e.message}`;
}

export class DagValidationError extends Error {
  constructor(readonly errors: DagError[]) {
    super(errors.map(formatDagError).join('\n'));
    this.name = 'DagValidationError';
  }
}

/** Optimal string alignment distance, bounded: returns `limit + 1` as soon as it is exceeded. */
function distance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2] + 1);
      cur.push(d);
      rowMin = Math.min(rowMin, d);
    }
    if (rowMin > limit) return limit + 1;
    prev2 = prev;
    prev = cur;
  }
  return prev[b.length];
}

/** `; did you mean \`x\`?` when a candidate is a plausible typo of `name`, else ''. */
export function suggest(name: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestD = Infinity;
  let seen = 0;
  for (const c of candidates) {
    if (++seen > 10_000) break; // a typo hint is not worth quadratic time on huge graphs
    // about one edit per three letters, and never a complete rewrite (`b` is no typo of `a`)
    const limit = Math.min(
      Math.max(1, Math.floor(Math.max(name.length, c.length) / 3)),
      Math.min(name.length, c.length) - 1,
    );
    if (limit < 1) continue;
    const d = distance(name.toLowerCase(), c.toLowerCase(), limit);
    if (d <= limit && d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best === undefined ? '' : `; did you mean \`${best}\`?`;
}
