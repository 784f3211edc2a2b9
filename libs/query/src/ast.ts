/**
 * The syntax tree of the run query language. Trees are plain data: they can be built by hand,
 * stored (saved searches), printed back with `printQuery` and compiled with `compileQuery`.
 *
 * Spans are filled by the parser and used only for error positions; trees built by hand may
 * leave them out, and tree equality is meant modulo spans (`stripSpans`).
 */

/** A half-open range `[start, end)` of UTF-16 offsets into the source text. */
export interface Span {
  start: number;
  end: number;
}

export const METRIC_AGGREGATES = ['last', 'min', 'max'] as const;
export type MetricAggregate = (typeof METRIC_AGGREGATES)[number];

/**
 * What a field name refers to, independent of any schema: the resolver decides what SQL it is.
 * - `column`: a plain attribute of a run (`status`, `created_at`, `user.username`).
 * - `metric`: `metrics.<name>[.last|.min|.max]` (also spelled `metric.<name>`), `last` by default.
 * - `param`: `params.<name>` (also spelled `declarations.<name>`).
 * - `tag`: `tags`.
 */
export type FieldRef =
  | { kind: 'column'; name: string }
  | { kind: 'metric'; name: string; agg: MetricAggregate }
  | { kind: 'param'; name: string }
  | { kind: 'tag' };

/**
 * A literal as written. The parser does not type values: `0.3` is a word until it is compared
 * with a number field. Quoting matters: a quoted string has no wildcards and is always text.
 * - `word`: unquoted text (backslash escapes resolved), never empty.
 * - `string`: `"..."` or `'...'`, possibly empty.
 * - `pattern`: unquoted text with at least one unescaped `%`; `parts` are the literal pieces
 *   between the wildcards, so `%res%net` is `['', 'res', 'net']` (always 2 or more parts).
 */
export type Value =
  | { type: 'word'; value: string; span?: Span }
  | { type: 'string'; value: string; span?: Span }
  | { type: 'pattern'; parts: string[]; span?: Span };

export type ComparisonOp = 'lt' | 'le' | 'gt' | 'ge';

/**
 * What a condition says about its field.
 * - `eq`: one value, or alternatives `a|b|c` (any of them).
 * - comparisons `<`, `<=`, `>`, `>=` with one value.
 * - `range`: `a .. b`, inclusive; either end may be open (`a ..`, `.. b`), not both.
 */
export type Predicate =
  | { op: 'eq'; values: Value[]; span?: Span }
  | { op: ComparisonOp; value: Value; span?: Span }
  | { op: 'range'; from?: Value; to?: Value; span?: Span };

export interface ConditionNode {
  type: 'condition';
  field: FieldRef;
  predicate: Predicate;
  span?: Span;
  fieldSpan?: Span;
}

/** `~x`: exactly the runs `x` does not match (a run without the field included). */
export interface NotNode {
  type: 'not';
  item: QueryNode;
  span?: Span;
}

/** `a, b, c`: at least two items. */
export interface AndNode {
  type: 'and';
  items: QueryNode[];
  span?: Span;
}

/** `a | b | c` between whole conditions: at least two items. */
export interface OrNode {
  type: 'or';
  items: QueryNode[];
  span?: Span;
}

export type QueryNode = ConditionNode | NotNode | AndNode | OrNode;

export type SortDirection = 'asc' | 'desc';

export interface SortKey {
  field: FieldRef;
  direction: SortDirection;
  span?: Span;
}

/** The same value without any `span`/`fieldSpan` properties, for comparing trees. */
export function stripSpans<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => stripSpans(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === 'span' || k === 'fieldSpan' || v === undefined) continue;
      out[k] = stripSpans(v);
    }
    return out as T;
  }
  return value;
}

export function sameField(a: FieldRef, b: FieldRef): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'tag') return true;
  if (a.kind === 'metric' && b.kind === 'metric') return a.name === b.name && a.agg === b.agg;
  return (a as { name: string }).name === (b as { name: string }).name;
}
