/**
 * Compiles a query tree to a PostgreSQL boolean expression, and sort keys to an ORDER BY list,
 * with every value bound as a parameter (`$n`): the SQL text holds only what the resolver wrote,
 * operators, casts and placeholders.
 *
 * Negation is a complement: `~c` matches exactly the runs `c` does not, runs without the field
 * included. SQL's NULL would drop those, so a negated expression that can be NULL is compiled as
 * `(c) IS NOT TRUE` (as `NOT (c)` when the resolver says nothing in it is nullable).
 */
import type { ConditionNode, Predicate, QueryNode, SortKey, Span, Value } from './ast';
import { QueryError, type QueryErrorCode } from './errors';
import { readBoolean, readNumber, readTimestamp, type TimeInterval } from './literals';
import { parseQuery, parseSort } from './parser';
import { printField } from './printer';
import type { FieldResolver, ResolvedField } from './resolver';

export interface CompileOptions {
  /** Number of the first placeholder (`$1` by default), to follow the caller's own parameters. */
  startIndex?: number;
}

export interface CompiledWhere {
  /** A boolean SQL expression, safe to embed as `... AND <where>`; `TRUE` for no query. */
  where: string;
  params: unknown[];
}

export interface CompiledOrderBy {
  /** `expr DESC NULLS LAST, ...` without the `ORDER BY` keyword; empty for no sort. */
  orderBy: string;
  params: unknown[];
}

class Params {
  readonly values: unknown[] = [];
  constructor(private readonly start: number) {
    if (!Number.isInteger(start) || start < 1)
      throw new RangeError(`startIndex must be an integer >= 1, got ${start}`);
  }
  readonly bind = (value: unknown): string => {
    this.values.push(value);
    return `$${this.start + this.values.length - 1}`;
  };
}

export function compileQuery(
  node: QueryNode | null,
  resolver: FieldResolver,
  options: CompileOptions = {},
): CompiledWhere {
  const params = new Params(options.startIndex ?? 1);
  if (!node) return { where: 'TRUE', params: [] };
  const { sql } = new QueryCompiler(resolver, params).node(node);
  return { where: sql, params: params.values };
}

export function compileSort(
  keys: readonly SortKey[],
  resolver: FieldResolver,
  options: CompileOptions = {},
): CompiledOrderBy {
  const params = new Params(options.startIndex ?? 1);
  const items = keys.map((key) => {
    const field = resolveField(resolver, key.field, params, key.span, 'sort');
    const label = printField(key.field);
    if (field.sortable === false || (field.sortable === undefined && field.type === 'jsonb-array')) {
      fail('invalid-sort', `\`${label}\` cannot be sorted on`, key.span, 'sort');
    }
    return `${operand(field.sql)} ${key.direction === 'desc' ? 'DESC' : 'ASC'} NULLS LAST`;
  });
  return { orderBy: items.join(', '), params: params.values };
}

export interface ListingRequest {
  query?: string | null;
  sort?: string | null;
}

export interface CompiledListing {
  where: string;
  orderBy: string;
  /** The query's parameters, then the sort's. */
  params: unknown[];
  query: QueryNode | null;
  sort: SortKey[];
}

/**
 * Parse and compile `?query=` and `?sort=` together, numbering the sort's parameters after the
 * query's. Any `QueryError` carries its text and which parameter it is about, ready for a 400.
 */
export function compileListing(
  request: ListingRequest,
  resolver: FieldResolver,
  options: CompileOptions = {},
): CompiledListing {
  const start = options.startIndex ?? 1;
  const queryText = request.query ?? '';
  const sortText = request.sort ?? '';
  const query = parseQuery(queryText);
  const where = withSource(queryText, 'query', () => compileQuery(query, resolver, { startIndex: start }));
  const sort = parseSort(sortText);
  const order = withSource(sortText, 'sort', () =>
    compileSort(sort, resolver, { startIndex: start + where.params.length }),
  );
  return {
    where: where.where,
    orderBy: order.orderBy,
    params: [...where.params, ...order.params],
    query,
    sort,
  };
}

function withSource<T>(source: string, input: 'query' | 'sort', run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw error instanceof QueryError ? error.withSource(source, input) : error;
  }
}

interface Compiled {
  sql: string;
  /** Can it evaluate to NULL? */
  nullable: boolean;
  /** Already in parentheses (or a single term that needs none around it). */
  grouped: boolean;
}

class QueryCompiler {
  constructor(
    private readonly resolver: FieldResolver,
    private readonly params: Params,
  ) {}

  node(node: QueryNode): Compiled {
    switch (node.type) {
      case 'condition':
        return this.condition(node);
      case 'not': {
        const c = this.node(node.item);
        const inner = c.grouped ? c.sql : `(${c.sql})`;
        return { sql: c.nullable ? `${inner} IS NOT TRUE` : `NOT ${inner}`, nullable: false, grouped: false };
      }
      case 'and':
      case 'or': {
        const items = node.items.map((i) => this.node(i));
        return {
          sql: `(${items.map((i) => i.sql).join(node.type === 'and' ? ' AND ' : ' OR ')})`,
          nullable: items.some((i) => i.nullable),
          grouped: true,
        };
      }
    }
  }

  private condition(node: ConditionNode): Compiled {
    const resolved = resolveField(
      this.resolver,
      node.field,
      this.params,
      node.fieldSpan ?? node.span,
      'query',
    );
    const field = { ...resolved, sql: operand(resolved.sql) };
    const ctx: Ctx = { field, label: printField(node.field), bind: this.params.bind };
    const sql = compilePredicate(ctx, node.predicate);
    return { sql, nullable: field.nullable ?? true, grouped: false };
  }
}

interface Ctx {
  field: ResolvedField;
  label: string;
  bind: (value: unknown) => string;
}

function compilePredicate(ctx: Ctx, p: Predicate): string {
  switch (ctx.field.type) {
    case 'text':
      return compileText(ctx, p);
    case 'number':
      return compileOrdered(ctx, p, numberLiteral);
    case 'timestamp':
      return compileOrdered(ctx, p, timeLiteral);
    case 'boolean':
      return compileBoolean(ctx, p);
    case 'jsonb':
      return compileJson(ctx, p);
    case 'jsonb-array':
      return compileArray(ctx, p);
    default:
      throw new TypeError(`the resolver gave \`${ctx.label}\` an unknown type: ${String(ctx.field.type)}`);
  }
}

const OPS = { lt: '<', le: '<=', gt: '>', ge: '>=' } as const;

function eqOnly(ctx: Ctx, p: Predicate, hint: string): Value[] {
  if (p.op === 'eq') return p.values;
  const op = p.op === 'range' ? '..' : OPS[p.op];
  return fail(
    'invalid-operator',
    `\`${op}\` does not apply to ${ctx.field.type} field \`${ctx.label}\`; ${hint}`,
    p.span,
  );
}

function anyOf(pieces: string[]): string {
  return pieces.length === 1 ? pieces[0]! : `(${pieces.join(' OR ')})`;
}

function inList(expr: string, placeholders: string[]): string {
  return placeholders.length === 1
    ? `${expr} = ${placeholders[0]}`
    : `${expr} IN (${placeholders.join(', ')})`;
}

/** A LIKE pattern from the literal parts between `%`s: `_`, `%` and `\` in a part are literal. */
export function likePattern(parts: readonly string[]): string {
  return parts.map((p) => p.replace(/[\\%_]/g, (c) => `\\${c}`)).join('%');
}

function compileText(ctx: Ctx, p: Predicate): string {
  const values = eqOnly(ctx, p, 'text takes a value, alternatives `a|b` or a pattern `%part%`');
  const exact: string[] = [];
  const patterns: string[] = [];
  for (const v of values) {
    if (v.type === 'pattern') {
      patterns.push(`${ctx.field.sql} ILIKE ${ctx.bind(likePattern(v.parts))}::text`);
      continue;
    }
    const allowed = ctx.field.values;
    if (allowed && !allowed.includes(v.value)) {
      fail(
        'invalid-value',
        `\`${v.value}\` is not a valid ${ctx.label}; expected one of ${allowed.join(', ')}`,
        v.span,
        'query',
        allowed,
      );
    }
    exact.push(`${ctx.bind(v.value)}::text`);
  }
  return anyOf([...(exact.length ? [inList(ctx.field.sql, exact)] : []), ...patterns]);
}

interface OrderedLiteral {
  /** Bound bounds of the literal as an interval: equal values, or a precision interval. */
  read(ctx: Ctx, v: Value): { low: unknown; high: unknown; point: boolean };
  cast: string;
}

const numberLiteral: OrderedLiteral = {
  cast: 'numeric',
  read(ctx, v) {
    const n = v.type === 'pattern' ? undefined : readNumber(v.value);
    if (n === undefined) {
      fail('invalid-value', `\`${ctx.label}\` is a number; \`${valueText(v)}\` is not one`, v.span);
    }
    return { low: n, high: n, point: true };
  },
};

const timeLiteral: OrderedLiteral = {
  cast: 'timestamptz',
  read(ctx, v) {
    const t: TimeInterval | undefined = v.type === 'pattern' ? undefined : readTimestamp(v.value);
    if (!t) {
      fail(
        'invalid-value',
        `\`${ctx.label}\` is a timestamp; \`${valueText(v)}\` is not a date or time such as 2026-01-31, 2026-01-31 10:00 or 2026-01-31T10:00:00Z`,
        v.span,
      );
    }
    return { low: t.start, high: t.end, point: false };
  },
};

/**
 * Numbers and timestamps. A timestamp literal is an interval [low, high), a number a point:
 * `=` is "within", `<` "before low", `<=` "before high" (or at it, for a point), and so on.
 */
function compileOrdered(ctx: Ctx, p: Predicate, lit: OrderedLiteral): string {
  const e = ctx.field.sql;
  const ph = (value: unknown): string => `${ctx.bind(value)}::${lit.cast}`;
  switch (p.op) {
    case 'eq': {
      const read = p.values.map((v) => lit.read(ctx, v));
      if (read.every((r) => r.point))
        return inList(
          e,
          read.map((r) => ph(r.low)),
        );
      return anyOf(read.map((r) => `(${e} >= ${ph(r.low)} AND ${e} < ${ph(r.high)})`));
    }
    case 'lt':
    case 'ge': {
      const r = lit.read(ctx, p.value);
      return `${e} ${OPS[p.op]} ${ph(r.low)}`;
    }
    case 'le':
    case 'gt': {
      const r = lit.read(ctx, p.value);
      if (r.point) return `${e} ${OPS[p.op]} ${ph(r.high)}`;
      return `${e} ${p.op === 'le' ? '<' : '>='} ${ph(r.high)}`;
    }
    case 'range': {
      const from = p.from && lit.read(ctx, p.from);
      const to = p.to && lit.read(ctx, p.to);
      if (
        from &&
        to &&
        (to.point
          ? (from.low as number) > (to.high as number)
          : Date.parse(from.low as string) >= Date.parse(to.high as string))
      ) {
        fail('invalid-value', `the range of \`${ctx.label}\` is empty: its start is after its end`, p.span);
      }
      const parts: string[] = [];
      if (from) parts.push(`${e} >= ${ph(from.low)}`);
      if (to) parts.push(to.point ? `${e} <= ${ph(to.high)}` : `${e} < ${ph(to.high)}`);
      return parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`;
    }
  }
}

function compileBoolean(ctx: Ctx, p: Predicate): string {
  const values = eqOnly(ctx, p, 'a boolean takes `true` or `false`');
  const bound = values.map((v) => {
    const b = v.type === 'pattern' ? undefined : readBoolean(v.value);
    if (b === undefined)
      fail('invalid-value', `\`${ctx.label}\` is true or false, not \`${valueText(v)}\``, v.span, 'query', [
        'true',
        'false',
      ]);
    return `${ctx.bind(b)}::boolean`;
  });
  return inList(ctx.field.sql, bound);
}

/** A param: JSON scalars keep their type. */
function compileJson(ctx: Ctx, p: Predicate): string {
  const e = ctx.field.sql;
  const asNumber = `CASE WHEN jsonb_typeof(${e}) = 'number' THEN (${e})::numeric END`;
  const num = (v: Value): string => {
    const n = v.type === 'word' ? readNumber(v.value) : undefined;
    if (n === undefined) {
      fail(
        'invalid-value',
        `comparing \`${ctx.label}\` needs a number; \`${valueText(v)}\` is not one`,
        v.span,
      );
    }
    return `${ctx.bind(n)}::numeric`;
  };
  switch (p.op) {
    case 'eq': {
      const exact: string[] = [];
      const patterns: string[] = [];
      for (const v of p.values) {
        if (v.type === 'pattern') {
          patterns.push(`(${e} #>> '{}') ILIKE ${ctx.bind(likePattern(v.parts))}::text`);
        } else if (v.type === 'string') {
          exact.push(`to_jsonb(${ctx.bind(v.value)}::text)`);
        } else {
          const n = readNumber(v.value);
          const b = v.value === 'true' ? true : v.value === 'false' ? false : undefined;
          if (n !== undefined) exact.push(`to_jsonb(${ctx.bind(n)}::numeric)`);
          else if (b !== undefined) exact.push(`to_jsonb(${ctx.bind(b)}::boolean)`);
          else exact.push(`to_jsonb(${ctx.bind(v.value)}::text)`);
        }
      }
      return anyOf([...(exact.length ? [inList(e, exact)] : []), ...patterns]);
    }
    case 'lt':
    case 'le':
    case 'gt':
    case 'ge':
      return `${asNumber} ${OPS[p.op]} ${num(p.value)}`;
    case 'range': {
      const from = p.from && readNumber(valueText(p.from));
      const to = p.to && readNumber(valueText(p.to));
      if (from !== undefined && to !== undefined && from > to) {
        fail('invalid-value', `the range of \`${ctx.label}\` is empty: its start is after its end`, p.span);
      }
      const parts: string[] = [];
      if (p.from) parts.push(`${asNumber} >= ${num(p.from)}`);
      if (p.to) parts.push(`${asNumber} <= ${num(p.to)}`);
      return parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`;
    }
  }
}

/** Tags: a JSON array of strings. */
function compileArray(ctx: Ctx, p: Predicate): string {
  const values = eqOnly(ctx, p, 'tags take a tag, alternatives `a|b` (any of them) or a pattern `%part%`');
  const e = ctx.field.sql;
  return anyOf(
    values.map((v) =>
      v.type === 'pattern'
        ? `EXISTS (SELECT 1 FROM jsonb_array_elements_text(${e}) AS q_tag(v) WHERE q_tag.v ILIKE ${ctx.bind(likePattern(v.parts))}::text)`
        : `${e} @> jsonb_build_array(${ctx.bind(v.value)}::text)`,
    ),
  );
}

const IDENTIFIER_CHAIN =
  /^(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*)(?:\.(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*))*$/;

/**
 * The resolver's SQL as an operand: as is when it is a (qualified) name or already wrapped in one
 * pair of parentheses, else in parentheses, so `a -> b` or `x || y` cannot bind to our operators.
 */
export function operand(sql: string): string {
  const t = sql.trim();
  return IDENTIFIER_CHAIN.test(t) || wrapped(t) ? t : `(${t})`;
}

/** Is the whole text one parenthesised group (quotes and dollar-free literals respected)? */
function wrapped(t: string): boolean {
  if (!t.startsWith('(') || !t.endsWith(')')) return false;
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < t.length; i++) {
    const c = t[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === '(') {
      depth++;
    } else if (c === ')') {
      depth--;
      if (depth === 0 && i < t.length - 1) return false;
    }
  }
  return depth === 0 && quote === undefined;
}

function valueText(v: Value): string {
  return v.type === 'pattern' ? v.parts.join('%') : v.value;
}

function resolveField(
  resolver: FieldResolver,
  field: ConditionNode['field'],
  params: Params,
  span: Span | undefined,
  input: 'query' | 'sort',
): ResolvedField {
  const resolved = resolver.resolve(field, params.bind);
  if (resolved) return resolved;
  const label = printField(field);
  const known = [...resolver.knownFields()];
  const guess = closest(
    label,
    known.filter((k) => !k.includes('<')),
  );
  fail(
    'unknown-field',
    `unknown field \`${label}\`${guess ? `; did you mean \`${guess}\`?` : '.'}${known.length ? ` Known fields: ${known.join(', ')}` : ''}`,
    span,
    input,
    known,
  );
}

function fail(
  code: QueryErrorCode,
  reason: string,
  span: Span | undefined,
  input: 'query' | 'sort' = 'query',
  expected: readonly string[] = [],
): never {
  throw new QueryError(code, reason, {
    offset: span?.start,
    length: span ? span.end - span.start : undefined,
    expected,
    input,
  });
}

/** The known name `name` is most likely a typo of: one it starts, or one a few edits away. */
function closest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  if (lower.length >= 3) {
    const extended = known
      .filter((k) => k.toLowerCase().startsWith(lower))
      .sort((a, b) => a.length - b.length);
    if (extended.length > 0) return extended[0];
  }
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(name.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
