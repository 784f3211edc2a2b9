/**
 * A hand-written recursive-descent parser for `?query=` and `?sort=` (grammar in README.md).
 * Every failure is a `QueryError` with the offset of the character where parsing stopped and
 * the tokens that would have been accepted there.
 */
import {
  type ComparisonOp,
  type FieldRef,
  type MetricAggregate,
  METRIC_AGGREGATES,
  type Predicate,
  type QueryNode,
  type SortKey,
  type Span,
  type Value,
  sameField,
} from './ast';
import {
  describeExpected,
  describeFound,
  QueryError,
  type QueryInput,
  TOKEN_END,
  TOKEN_FIELD,
  TOKEN_VALUE,
} from './errors';
import {
  canStartValue,
  isConditionStart,
  type ScanFailure,
  scanField,
  scanValue,
  type Segment,
  skipWs,
} from './lexer';

export interface ParseOptions {
  /** How deeply `(` and `~` may nest (a guard against stack exhaustion); 32 by default. */
  maxDepth?: number;
}

const CONDITION_START = [TOKEN_FIELD, '(', '~'];
const PREDICATE_START = [TOKEN_VALUE, '~', '<', '<=', '>', '>=', '..'];

/** Parse a `?query=` string. Empty or blank text is no filter (`null`). Throws `QueryError`. */
export function parseQuery(text: string, options: ParseOptions = {}): QueryNode | null {
  return new Parser(text, 'query', options.maxDepth ?? 32).query();
}

/** Parse a `?sort=` string such as `-metrics.loss,created_at`. Blank text is no sort (`[]`). */
export function parseSort(text: string): SortKey[] {
  return new Parser(text, 'sort', 0).sort();
}

class Parser {
  private pos = 0;
  private depth = 0;
  /** Where the last condition ended and what else it could have taken there (`|`, `..`). */
  private conditionEnd = -1;
  private conditionFollow: string[] = [];

  constructor(
    private readonly src: string,
    private readonly input: QueryInput,
    private readonly maxDepth: number,
  ) {
    if (typeof src !== 'string') throw new TypeError(`${input} must be a string`);
  }

  query(): QueryNode | null {
    this.pos = skipWs(this.src, 0);
    if (this.pos >= this.src.length) return null;
    const node = this.and();
    const end = skipWs(this.src, this.pos);
    if (end < this.src.length) this.failFollow(end);
    return node;
  }

  sort(): SortKey[] {
    const keys: SortKey[] = [];
    this.pos = skipWs(this.src, 0);
    if (this.pos >= this.src.length) return keys;
    for (;;) {
      const start = this.pos;
      let direction: SortKey['direction'] = 'asc';
      const sign = this.src[this.pos];
      if (sign === '-' || sign === '+') {
        direction = sign === '-' ? 'desc' : 'asc';
        this.pos = skipWs(this.src, this.pos + 1);
      }
      const fieldStart = this.pos;
      const f = scanField(this.src, fieldStart);
      if (!f.ok) this.failScan(f, f.offset === start ? [TOKEN_FIELD, '-'] : undefined);
      const field = this.fieldRef(f.segments, f.end);
      const span = { start, end: f.end };
      const twice = keys.find((k) => sameField(k.field, field));
      if (twice) {
        throw new QueryError('invalid-sort', `\`${this.src.slice(fieldStart, f.end)}\` is sorted on twice`, {
          offset: fieldStart,
          length: f.end - fieldStart,
          source: this.src,
          input: this.input,
        });
      }
      keys.push({ field, direction, span });
      this.pos = skipWs(this.src, f.end);
      if (this.pos >= this.src.length) return keys;
      if (this.src[this.pos] !== ',') this.fail(this.pos, [',', TOKEN_END]);
      this.pos = skipWs(this.src, this.pos + 1);
    }
  }

  // and := or { "," or }
  private and(): QueryNode {
    const start = this.pos;
    const items = [this.or()];
    for (;;) {
      const p = skipWs(this.src, this.pos);
      if (this.src[p] !== ',') break;
      this.pos = skipWs(this.src, p + 1);
      items.push(this.or());
    }
    return items.length === 1 ? items[0]! : { type: 'and', items, span: { start, end: this.pos } };
  }

  // or := unary { "|" unary }   (a "|" the condition did not take as a value alternative)
  private or(): QueryNode {
    const start = this.pos;
    const items = [this.unary()];
    for (;;) {
      const p = skipWs(this.src, this.pos);
      if (this.src[p] !== '|') break;
      this.pos = skipWs(this.src, p + 1);
      items.push(this.unary());
    }
    return items.length === 1 ? items[0]! : { type: 'or', items, span: { start, end: this.pos } };
  }

  // unary := "~" unary | "(" and ")" | condition
  private unary(): QueryNode {
    this.pos = skipWs(this.src, this.pos);
    const start = this.pos;
    const c = this.src[start];
    if (c === '~' || c === '(') {
      if (++this.depth > this.maxDepth) {
        this.fail(start, [], `parentheses and negations nest deeper than ${this.maxDepth} levels`);
      }
      this.pos = skipWs(this.src, start + 1);
      let node: QueryNode;
      if (c === '~') {
        const item = this.unary();
        node = { type: 'not', item, span: { start, end: this.pos } };
      } else {
        node = this.and();
        this.pos = skipWs(this.src, this.pos);
        if (this.src[this.pos] !== ')') this.failFollow(this.pos);
        this.pos++;
      }
      this.depth--;
      return node;
    }
    return this.condition();
  }

  // condition := field ":" predicate
  private condition(): QueryNode {
    const start = this.pos;
    const f = scanField(this.src, start);
    if (!f.ok) this.failScan(f, f.offset === start ? CONDITION_START : undefined);
    const field = this.fieldRef(f.segments, f.end);
    const fieldSpan = { start, end: f.end };
    this.pos = skipWs(this.src, f.end);
    if (this.src[this.pos] !== ':') this.fail(this.pos, [':']);
    this.pos = skipWs(this.src, this.pos + 1);
    const { predicate, negated } = this.predicate();
    const span = { start, end: this.pos };
    const condition: QueryNode = { type: 'condition', field, predicate, span, fieldSpan };
    return negated ? { type: 'not', item: condition, span } : condition;
  }

  // predicate := [ "~" ] ( ("<" | "<=" | ">" | ">=") value | value ".." [ value ] | ".." value
  //                      | value { "|" value } )
  private predicate(): { predicate: Predicate; negated: boolean } {
    const start = this.pos;
    let negated = false;
    if (this.src[this.pos] === '~') {
      negated = true;
      this.pos = skipWs(this.src, this.pos + 1);
    }
    const span = (): Span => ({ start, end: this.pos });
    const c = this.src[this.pos];
    if (c === '<' || c === '>') {
      let op: ComparisonOp = c === '<' ? 'lt' : 'gt';
      this.pos++;
      if (this.src[this.pos] === '=') {
        op = c === '<' ? 'le' : 'ge';
        this.pos++;
      }
      this.pos = skipWs(this.src, this.pos);
      const value = this.value([TOKEN_VALUE]);
      this.endCondition([]);
      return { predicate: { op, value, span: span() }, negated };
    }
    if (this.src.startsWith('..', this.pos)) {
      this.pos = skipWs(this.src, this.pos + 2);
      const to = this.value([TOKEN_VALUE]);
      this.endCondition([]);
      return { predicate: { op: 'range', to, span: span() }, negated };
    }
    const first = this.value(negated ? PREDICATE_START.filter((t) => t !== '~') : PREDICATE_START);
    const p = skipWs(this.src, this.pos);
    if (this.src.startsWith('..', p)) {
      this.pos = skipWs(this.src, p + 2);
      if (canStartValue(this.src, this.pos)) {
        const to = this.value([TOKEN_VALUE]);
        this.endCondition([]);
        return { predicate: { op: 'range', from: first, to, span: span() }, negated };
      }
      this.pos = p + 2;
      this.endCondition([TOKEN_VALUE]);
      return { predicate: { op: 'range', from: first, span: span() }, negated };
    }
    const values = [first];
    for (;;) {
      const bar = skipWs(this.src, this.pos);
      if (this.src[bar] !== '|') break;
      const next = skipWs(this.src, bar + 1);
      if (isConditionStart(this.src, next)) break; // `a:1 | b:2`: the `|` joins conditions
      this.pos = next;
      values.push(this.value([TOKEN_VALUE, ...CONDITION_START]));
    }
    this.endCondition(values.length === 1 ? ['..'] : []);
    return { predicate: { op: 'eq', values, span: span() }, negated };
  }

  private value(expected: string[]): Value {
    const r = scanValue(this.src, this.pos);
    if (!r.ok) this.failScan(r, r.offset === this.pos && !r.reason ? expected : undefined);
    this.pos = r.end;
    return r.value;
  }

  private endCondition(follow: string[]): void {
    this.conditionEnd = skipWs(this.src, this.pos);
    this.conditionFollow = follow;
  }

  /** Segments to a field reference: `metrics.*`, `params.*`, `tags`, or a column. */
  private fieldRef(segments: Segment[], end: number): FieldRef {
    const [first, ...rest] = segments;
    const keyword = first!.quoted ? undefined : first!.text;
    if (keyword === 'metrics' || keyword === 'metric' || keyword === 'params' || keyword === 'declarations') {
      const metric = keyword.startsWith('metric');
      if (rest.length === 0) {
        const kind = metric ? 'metric' : 'param';
        this.fail(
          end,
          ['.'],
          `a ${kind} field needs a name, as in \`${metric ? 'metrics' : 'params'}.<name>\``,
        );
      }
      if (!metric) return { kind: 'param', name: rest.map((s) => s.text).join('.') };
      let agg: MetricAggregate = 'last';
      const last = rest[rest.length - 1]!;
      if (rest.length >= 2 && !last.quoted && (METRIC_AGGREGATES as readonly string[]).includes(last.text)) {
        agg = last.text as MetricAggregate;
        rest.pop();
      }
      return { kind: 'metric', name: rest.map((s) => s.text).join('.'), agg };
    }
    if (keyword === 'tags' && rest.length === 0) return { kind: 'tag' };
    return { kind: 'column', name: segments.map((s) => s.text).join('.') };
  }

  private failFollow(offset: number): never {
    const extra = offset === this.conditionEnd ? this.conditionFollow : [];
    const close = this.depth > 0 ? ')' : TOKEN_END;
    this.fail(offset, [',', '|', ...extra, close]);
  }

  private failScan(f: ScanFailure, expected?: string[]): never {
    this.fail(f.offset, expected ?? f.expected, expected ? undefined : f.reason);
  }

  private fail(offset: number, expected: string[], reason?: string): never {
    const found = describeFound(this.src, offset);
    throw new QueryError('syntax', reason ?? `expected ${describeExpected(expected)}, found ${found}`, {
      offset,
      expected,
      found,
      source: this.src,
      input: this.input,
    });
  }
}
