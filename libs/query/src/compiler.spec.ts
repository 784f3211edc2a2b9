import fc from 'fast-check';
import type { FieldRef, Predicate, QueryNode, Value } from './ast';
import { compileListing, compileQuery, compileSort, likePattern, operand } from './compiler';
import { QueryError } from './errors';
import { parseQuery, parseSort } from './parser';
import { createFieldResolver, type FieldResolver } from './resolver';
import { queryArb } from './test-arbitraries';
import { runsSchema } from './test-schema';

const resolver = createFieldResolver(runsSchema());
const M = (agg = 'last'): string =>
  `(SELECT s."${agg}" FROM "q"."metric_summaries" s WHERE s."run_uuid" = r."uuid" AND s."name" = $1::text)`;
const P = '(r."params" -> $1::text)';

const where = (text: string, startIndex?: number): { where: string; params: unknown[] } =>
  compileQuery(parseQuery(text), resolver, { startIndex });

function errorOf(run: () => unknown): QueryError {
  try {
    run();
  } catch (error) {
    if (error instanceof QueryError) return error;
    throw error;
  }
  throw new Error('expected a QueryError');
}

describe('compileQuery: SQL text and bound parameters', () => {
  it.each<[string, string, unknown[]]>([
    ['status:running', `r."status" = $1::text`, ['running']],
    ['status:running|queued', `r."status" IN ($1::text, $2::text)`, ['running', 'queued']],
    ['~status:failed', `NOT (r."status" = $1::text)`, ['failed']],
    ['status:~running|queued', `NOT (r."status" IN ($1::text, $2::text))`, ['running', 'queued']],
    ['name:%resnet%', `r."name" ILIKE $1::text`, ['%resnet%']],
    ['name:res_net%', `r."name" ILIKE $1::text`, ['res\\_net%']],
    ['name:50\\%', `r."name" = $1::text`, ['50%']],
    ['name:"%x%"', `r."name" = $1::text`, ['%x%']],
    ['name:a|b%|c', `(r."name" IN ($1::text, $3::text) OR r."name" ILIKE $2::text)`, ['a', 'b%', 'c']],
    ['~name:x', `(r."name" = $1::text) IS NOT TRUE`, ['x']],
    ['metrics.loss:<0.3', `${M()} < $2::numeric`, ['loss', 0.3]],
    ['metrics.loss.min:<=0.3', `${M('min')} <= $2::numeric`, ['loss', 0.3]],
    ['metrics.loss.max:>1e3', `${M('max')} > $2::numeric`, ['loss', 1000]],
    ['metrics.loss:>=-.5', `${M()} >= $2::numeric`, ['loss', -0.5]],
    ['metrics.loss:0.5', `${M()} = $2::numeric`, ['loss', 0.5]],
    ['metrics.loss:1|2', `${M()} IN ($2::numeric, $3::numeric)`, ['loss', 1, 2]],
    ['metrics.loss:0.1 .. 0.3', `(${M()} >= $2::numeric AND ${M()} <= $3::numeric)`, ['loss', 0.1, 0.3]],
    ['metrics.loss:0.1 ..', `${M()} >= $2::numeric`, ['loss', 0.1]],
    ['metrics.loss:.. 0.3', `${M()} <= $2::numeric`, ['loss', 0.3]],
    ['metrics.val/loss:"0.3"', `${M()} = $2::numeric`, ['val/loss', 0.3]],
    ['~metrics.loss:<0.3', `(${M()} < $2::numeric) IS NOT TRUE`, ['loss', 0.3]],
    ['id:12|13', `r."number" IN ($1::numeric, $2::numeric)`, [12, 13]],
    [
      'params.lr:>=0.01',
      `CASE WHEN jsonb_typeof(${P}) = 'number' THEN (${P})::numeric END >= $2::numeric`,
      ['lr', 0.01],
    ],
    ['params.opt:adam', `${P} = to_jsonb($2::text)`, ['opt', 'adam']],
    [
      'params.x:adam|0.1|true|"3"',
      `${P} IN (to_jsonb($2::text), to_jsonb($3::numeric), to_jsonb($4::boolean), to_jsonb($5::text))`,
      ['x', 'adam', 0.1, true, '3'],
    ],
    ['params.model:res%', `(${P} #>> '{}') ILIKE $2::text`, ['model', 'res%']],
    [
      'params.lr:0.001 .. 0.1',
      `(CASE WHEN jsonb_typeof(${P}) = 'number' THEN (${P})::numeric END >= $2::numeric AND CASE WHEN jsonb_typeof(${P}) = 'number' THEN (${P})::numeric END <= $3::numeric)`,
      ['lr', 0.001, 0.1],
    ],
    ['tags:baseline', `r."tags" @> jsonb_build_array($1::text)`, ['baseline']],
    [
      'tags:a|b',
      `(r."tags" @> jsonb_build_array($1::text) OR r."tags" @> jsonb_build_array($2::text))`,
      ['a', 'b'],
    ],
    [
      'tags:base%',
      `EXISTS (SELECT 1 FROM jsonb_array_elements_text(r."tags") AS q_tag(v) WHERE q_tag.v ILIKE $1::text)`,
      ['base%'],
    ],
    ['bookmarked:true', `r."bookmarked" = $1::boolean`, [true]],
    ['bookmarked:FALSE|true', `r."bookmarked" IN ($1::boolean, $2::boolean)`, [false, true]],
  ])('%s', (text, sql, params) => {
    expect(where(text)).toEqual({ where: sql, params });
  });
});

describe('compileQuery: timestamps are intervals of their precision', () => {
  const C = 'r."created_at"';
  const day = ['2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z'];
  it.each<[string, string, unknown[]]>([
    ['created_at:2026-01-01', `(${C} >= $1::timestamptz AND ${C} < $2::timestamptz)`, day],
    ['created_at:<2026-01-01', `${C} < $1::timestamptz`, [day[0]]],
    ['created_at:<=2026-01-01', `${C} < $1::timestamptz`, [day[1]]],
    ['created_at:>2026-01-01', `${C} >= $1::timestamptz`, [day[1]]],
    ['created_at:>=2026-01-01', `${C} >= $1::timestamptz`, [day[0]]],
    [
      'created_at:2026-01-01 .. 2026-02-01',
      `(${C} >= $1::timestamptz AND ${C} < $2::timestamptz)`,
      ['2026-01-01T00:00:00.000Z', '2026-02-02T00:00:00.000Z'],
    ],
    ['created_at:2026-01 ..', `${C} >= $1::timestamptz`, ['2026-01-01T00:00:00.000Z']],
    ['created_at:.. 2026-01', `${C} < $1::timestamptz`, ['2026-02-01T00:00:00.000Z']],
    [
      'created_at:2026-01-01 10:00',
      `(${C} >= $1::timestamptz AND ${C} < $2::timestamptz)`,
      ['2026-01-01T10:00:00.000Z', '2026-01-01T10:01:00.000Z'],
    ],
    [
      'created_at:2026-01-01T10:00:00+02:00|2026-03-01',
      `((${C} >= $1::timestamptz AND ${C} < $2::timestamptz) OR (${C} >= $3::timestamptz AND ${C} < $4::timestamptz))`,
      [
        '2026-01-01T08:00:00.000Z',
        '2026-01-01T08:00:01.000Z',
        '2026-03-01T00:00:00.000Z',
        '2026-03-02T00:00:00.000Z',
      ],
    ],
    ['~started_at:<2026-01-01', `(r."started_at" < $1::timestamptz) IS NOT TRUE`, [day[0]]],
  ])('%s', (text, sql, params) => {
    expect(where(text)).toEqual({ where: sql, params });
  });
});

describe('compileQuery: composition', () => {
  it('parenthesises AND and OR, keeps `|` inside `,`', () => {
    expect(where('status:running, metrics.loss:<0.3 | tags:best')).toEqual({
      where: `(r."status" = $1::text AND (${M().replace('$1', '$2')} < $3::numeric OR r."tags" @> jsonb_build_array($4::text)))`,
      params: ['running', 'loss', 0.3, 'best'],
    });
  });

  it('negates a nullable group with IS NOT TRUE, a non-nullable one with NOT', () => {
    expect(where('~(status:running, id:1)').where).toBe(
      `NOT (r."status" = $1::text AND r."number" = $2::numeric)`,
    );
    expect(where('~(status:running | name:x)').where).toBe(
      `(r."status" = $1::text OR r."name" = $2::text) IS NOT TRUE`,
    );
    expect(where('~~name:x').where).toBe(`NOT ((r."name" = $1::text) IS NOT TRUE)`);
  });

  it('numbers placeholders from startIndex', () => {
    expect(where('status:running|queued, metrics.loss:<1', 4)).toEqual({
      where: `(r."status" IN ($4::text, $5::text) AND ${M().replace('$1', '$6')} < $7::numeric)`,
      params: ['running', 'queued', 'loss', 1],
    });
    expect(() => where('status:running', 0)).toThrow(RangeError);
  });

  it('compiles no query to TRUE', () => {
    expect(compileQuery(null, resolver)).toEqual({ where: 'TRUE', params: [] });
    expect(where('  ')).toEqual({ where: 'TRUE', params: [] });
  });

  it('compiles a tree built by hand (no spans)', () => {
    const tree: QueryNode = {
      type: 'or',
      items: [
        {
          type: 'condition',
          field: { kind: 'column', name: 'status' },
          predicate: { op: 'eq', values: [{ type: 'word', value: 'done' }] },
        },
        {
          type: 'condition',
          field: { kind: 'tag' },
          predicate: { op: 'eq', values: [{ type: 'string', value: 'x' }] },
        },
      ],
    };
    expect(compileQuery(tree, resolver)).toEqual({
      where: `(r."status" = $1::text OR r."tags" @> jsonb_build_array($2::text))`,
      params: ['done', 'x'],
    });
  });

  it('wraps resolver SQL that is not a plain name or one parenthesised group', () => {
    expect(operand('r."status"')).toBe('r."status"');
    expect(operand('"weird "" name"')).toBe('"weird "" name"');
    expect(operand('(a) || (b)')).toBe('((a) || (b))');
    expect(operand("(SELECT ')(' )")).toBe("(SELECT ')(' )");
    expect(operand('a -> b')).toBe('(a -> b)');
    expect(operand(' lower(r.name) ')).toBe('(lower(r.name))');
  });
});

describe('compileQuery: errors point at the field or value', () => {
  it('reports an unknown field with the known ones and a suggestion', () => {
    const text = 'status:running, statu:running';
    const error = errorOf(() => compileQuery(parseQuery(text), resolver)).withSource(text);
    expect(error.code).toBe('unknown-field');
    expect(error.offset).toBe(16);
    expect(error.length).toBe(5);
    expect(error.message).toContain('did you mean `status`?');
    expect(error.expected).toEqual([
      'id',
      'uuid',
      'name',
      'status',
      'kind',
      'created_at',
      'started_at',
      'finished_at',
      'bookmarked',
      'tags',
      'params.<name>',
      'metrics.<name>',
      'metrics.<name>.min',
      'metrics.<name>.max',
    ]);
    expect(error.display).toBe(`${text}\n                ^^^^^`);
  });

  it('reports metrics and params unknown when the resolver has none', () => {
    const bare = createFieldResolver({ columns: { status: { sql: 'status', type: 'text' } } });
    const error = errorOf(() => compileQuery(parseQuery('metrics.loss:<1'), bare));
    expect(error.code).toBe('unknown-field');
    expect(error.message).toBe(
      'invalid query at offset 0: unknown field `metrics.loss`. Known fields: status',
    );
    expect(errorOf(() => compileQuery(parseQuery('constructor:1'), bare)).code).toBe('unknown-field');
    expect(errorOf(() => compileQuery(parseQuery('tags:x'), bare)).code).toBe('unknown-field');
  });

  it.each<[string, string, number, RegExp]>([
    ['status:runing', 'invalid-value', 7, /`runing` is not a valid status; expected one of created, queued/],
    ['status:running|~x', 'syntax', 17, /expected `:`/],
    ['name:<3', 'invalid-operator', 5, /`<` does not apply to text field `name`/],
    ['name:a .. b', 'invalid-operator', 5, /`\.\.` does not apply/],
    ['tags:1 .. 2', 'invalid-operator', 5, /tags take a tag/],
    ['bookmarked:>1', 'invalid-operator', 11, /boolean/],
    ['bookmarked:yes', 'invalid-value', 11, /true or false/],
    ['metrics.loss:abc', 'invalid-value', 13, /`metrics.loss` is a number; `abc` is not one/],
    ['metrics.loss:%1', 'invalid-value', 13, /is not one/],
    ['metrics.loss:<0x10', 'invalid-value', 14, /is not one/],
    ['metrics.loss:1e999', 'invalid-value', 13, /is not one/],
    ['metrics.loss:3 .. 1', 'invalid-value', 13, /range of `metrics.loss` is empty/],
    ['created_at:yesterday', 'invalid-value', 11, /is a timestamp/],
    ['created_at:2026-02-30', 'invalid-value', 11, /is a timestamp/],
    ['created_at:2026-01-01 25:00', 'invalid-value', 11, /is a timestamp/],
    ['created_at:2026-02-01 .. 2026-01-01', 'invalid-value', 11, /is empty/],
    ['params.lr:<abc', 'invalid-value', 11, /needs a number/],
    ['params.lr:<"1"', 'invalid-value', 11, /needs a number/],
    ['params.lr:3..1', 'invalid-value', 10, /is empty/],
  ])('%s', (text, code, offset, message) => {
    const error = errorOf(() => compileQuery(parseQuery(text), resolver));
    expect(error.code).toBe(code);
    expect(error.offset).toBe(offset);
    expect(error.message).toMatch(message);
  });

  it('refuses a resolver type it does not know (a bug, not a 400)', () => {
    const custom: FieldResolver = {
      resolve: () => ({ sql: 'x', type: 'date' as 'text' }),
      knownFields: () => [],
    };
    expect(() => compileQuery(parseQuery('x:1'), custom)).toThrow(TypeError);
    const none = createFieldResolver({});
    expect(errorOf(() => compileQuery(parseQuery('x:1'), none)).message).toBe(
      'invalid query at offset 0: unknown field `x`.',
    );
  });

  it('lists allowed values in `expected`', () => {
    const error = errorOf(() => where('status:runing'));
    expect(error.expected).toContain('running');
    expect(error.length).toBe(6);
  });
});

describe('compileSort', () => {
  it('orders with NULLS LAST and binds metric names', () => {
    expect(compileSort(parseSort('-metrics.loss,created_at'), resolver)).toEqual({
      orderBy: `${M()} DESC NULLS LAST, r."created_at" ASC NULLS LAST`,
      params: ['loss'],
    });
    expect(compileSort(parseSort('params.lr, -metrics.acc.max'), resolver, { startIndex: 3 })).toEqual({
      orderBy: `(r."params" -> $3::text) ASC NULLS LAST, ${M('max').replace('$1', '$4')} DESC NULLS LAST`,
      params: ['lr', 'acc'],
    });
    expect(compileSort([], resolver)).toEqual({ orderBy: '', params: [] });
  });

  it('refuses unknown and unsortable fields', () => {
    const unknown = errorOf(() => compileSort(parseSort('created_at,-lost'), resolver));
    expect(unknown.code).toBe('unknown-field');
    expect(unknown.input).toBe('sort');
    expect(unknown.offset).toBe(11);
    const tags = errorOf(() => compileSort(parseSort('tags'), resolver));
    expect(tags.code).toBe('invalid-sort');
    const custom: FieldResolver = {
      resolve: () => ({ sql: 'x', type: 'text', sortable: false }),
      knownFields: () => ['x'],
    };
    expect(errorOf(() => compileSort(parseSort('x'), custom)).message).toBe(
      'invalid sort at offset 0: `x` cannot be sorted on',
    );
  });
});

describe('compileListing', () => {
  it('numbers the sort after the query', () => {
    const listing = compileListing({ query: 'metrics.loss:<1', sort: '-metrics.acc' }, resolver, {
      startIndex: 2,
    });
    expect(listing.where).toBe(`${M().replace('$1', '$2')} < $3::numeric`);
    expect(listing.orderBy).toBe(`${M().replace('$1', '$4')} DESC NULLS LAST`);
    expect(listing.params).toEqual(['loss', 1, 'acc']);
    expect(listing.sort).toHaveLength(1);
    expect(compileListing({}, resolver)).toEqual({
      where: 'TRUE',
      orderBy: '',
      params: [],
      query: null,
      sort: [],
    });
    expect(compileListing({ query: null, sort: null }, resolver).where).toBe('TRUE');
  });

  it('gives errors their text and parameter for a 400', () => {
    const error = errorOf(() => compileListing({ query: 'status:running', sort: 'created,-name' }, resolver));
    expect(error.toJSON()).toMatchObject({
      code: 'unknown-field',
      input: 'sort',
      offset: 0,
      column: 1,
      display: 'created,-name\n^^^^^^^',
    });
    expect(error.message).toMatch(
      /^invalid sort at offset 0: unknown field `created`; did you mean `created_at`\?/,
    );
    const syntax = errorOf(() => compileListing({ query: 'status:running,' }, resolver));
    expect(syntax.toJSON()).toMatchObject({ code: 'syntax', input: 'query', offset: 15 });
    const value = errorOf(() => compileListing({ query: 'metrics.loss:<x' }, resolver));
    expect(value.toJSON()).toMatchObject({
      code: 'invalid-value',
      input: 'query',
      display: 'metrics.loss:<x\n              ^',
    });
  });
});

describe('likePattern', () => {
  it('escapes LIKE metacharacters inside the literal parts', () => {
    expect(likePattern(['', 'a_b', ''])).toBe('%a\\_b%');
    expect(likePattern(['100%', ''])).toBe('100\\%%');
    expect(likePattern(['back\\', ''])).toBe('back\\\\%');
  });
});

describe('compileQuery: values never reach the SQL text (property)', () => {
  // Every literal and every metric/param name carries the marker; none may appear in SQL.
  const marker = 'Zq';
  const markedText = fc
    .string({ unit: fc.constantFrom('a', '1', "'", '"', ';', '-', ' ', '%', '\\', 'é', ')'), maxLength: 6 })
    .map((t) => `${marker}${t}`);
  const word = (arb: fc.Arbitrary<string>): fc.Arbitrary<Value> =>
    arb.map((value) => ({ type: 'word', value }));
  const num = fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((n) => String(n));
  const timestamp = fc
    .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
    .map((d) => d.toISOString());
  const textValue: fc.Arbitrary<Value> = fc.oneof(
    word(markedText),
    markedText.map((value): Value => ({ type: 'string', value })),
    fc.array(markedText, { minLength: 2, maxLength: 3 }).map((parts): Value => ({ type: 'pattern', parts })),
  );
  const ordered = (v: fc.Arbitrary<Value>): fc.Arbitrary<Predicate> =>
    fc.oneof(
      fc.array(v, { minLength: 1, maxLength: 3 }).map((values): Predicate => ({ op: 'eq', values })),
      fc
        .tuple(fc.constantFrom('lt' as const, 'le' as const, 'gt' as const, 'ge' as const), v)
        .map(([op, value]): Predicate => ({ op, value })),
      fc.tuple(v, v).map(([a, b]): Predicate => ({ op: 'range', from: a, to: b })),
    );
  const sortedRange = (p: Predicate): Predicate => {
    if (p.op !== 'range' || !p.from || !p.to || p.from.type !== 'word' || p.to.type !== 'word') return p;
    const [a, b] = [p.from.value, p.to.value].sort((x, y) =>
      Number.isNaN(Number(x)) ? Date.parse(x) - Date.parse(y) : Number(x) - Number(y),
    );
    return { op: 'range', from: { type: 'word', value: a! }, to: { type: 'word', value: b! } };
  };
  const condition = (
    field: fc.Arbitrary<FieldRef>,
    predicate: fc.Arbitrary<Predicate>,
  ): fc.Arbitrary<QueryNode> =>
    fc
      .tuple(field, predicate)
      .map(([f, p]): QueryNode => ({ type: 'condition', field: f, predicate: sortedRange(p) }));
  const conditions = fc.oneof(
    condition(
      fc.constant<FieldRef>({ kind: 'column', name: 'name' }),
      fc.array(textValue, { minLength: 1, maxLength: 3 }).map((values): Predicate => ({ op: 'eq', values })),
    ),
    condition(
      fc.constant<FieldRef>({ kind: 'tag' }),
      fc.array(textValue, { minLength: 1, maxLength: 3 }).map((values): Predicate => ({ op: 'eq', values })),
    ),
    condition(
      fc
        .tuple(markedText, fc.constantFrom('last' as const, 'min' as const, 'max' as const))
        .map(([name, agg]): FieldRef => ({ kind: 'metric', name, agg })),
      ordered(word(num)),
    ),
    condition(fc.constant<FieldRef>({ kind: 'column', name: 'created_at' }), ordered(word(timestamp))),
    condition(
      markedText.map((name): FieldRef => ({ kind: 'param', name })),
      ordered(word(num)),
    ),
    condition(
      markedText.map((name): FieldRef => ({ kind: 'param', name })),
      fc.array(textValue, { minLength: 1, maxLength: 3 }).map((values): Predicate => ({ op: 'eq', values })),
    ),
  );

  it('binds every value and name, and numbers placeholders densely', () => {
    fc.assert(
      fc.property(queryArb(conditions), fc.integer({ min: 1, max: 50 }), (tree, start) => {
        const { where: sql, params } = compileQuery(tree, resolver, { startIndex: start });
        expect(sql).not.toContain(marker);
        // The only string literals are the compiler's own constants.
        expect(sql.replace(/'number'|'\{\}'/g, '')).not.toContain("'");
        const used = new Set([...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
        expect([...used].sort((a, b) => a - b)).toEqual(params.map((_, i) => start + i));
      }),
      { numRuns: 500 },
    );
  });
});
