import { type QueryNode, type SortKey, stripSpans } from './ast';
import { QueryError } from './errors';
import { parseQuery, parseSort } from './parser';
import {
  and,
  col,
  cond,
  eq,
  ge,
  gt,
  le,
  lt,
  metric,
  not,
  or,
  param,
  pat,
  range,
  s,
  tag,
  w,
} from './test-helpers';

const parse = (text: string): QueryNode | null => stripSpans(parseQuery(text));

function errorOf(run: () => unknown): QueryError {
  try {
    run();
  } catch (error) {
    if (error instanceof QueryError) return error;
    throw error;
  }
  throw new Error('expected a QueryError');
}

describe('parseQuery: the issue examples', () => {
  it.each<[string, QueryNode]>([
    ['status:running|queued', cond(col('status'), eq(w('running'), w('queued')))],
    ['~status:failed', not(cond(col('status'), eq(w('failed'))))],
    ['metrics.loss:<0.3', cond(metric('loss'), lt(w('0.3')))],
    ['params.lr:>=0.01', cond(param('lr'), ge(w('0.01')))],
    ['tags:baseline', cond(tag, eq(w('baseline')))],
    ['name:%resnet%', cond(col('name'), eq(pat('', 'resnet', '')))],
    ['created_at:2026-01-01 .. 2026-02-01', cond(col('created_at'), range(w('2026-01-01'), w('2026-02-01')))],
    [
      'status:running, metrics.loss:<0.3',
      and(cond(col('status'), eq(w('running'))), cond(metric('loss'), lt(w('0.3')))),
    ],
    ['a:1 | b:2', or(cond(col('a'), eq(w('1'))), cond(col('b'), eq(w('2'))))],
    ['metrics.loss.min:<0.1', cond(metric('loss', 'min'), lt(w('0.1')))],
    ['metrics.loss.max:>=2', cond(metric('loss', 'max'), ge(w('2')))],
  ])('%s', (text, tree) => {
    expect(parse(text)).toEqual(tree);
  });
});

describe('parseQuery: value alternatives versus condition OR', () => {
  it.each<[string, QueryNode]>([
    // A `|` followed by `field:` (or `~`, `(`) joins conditions; otherwise it adds a value.
    ['a:1|2', cond(col('a'), eq(w('1'), w('2')))],
    ['a:1 | 2', cond(col('a'), eq(w('1'), w('2')))],
    ['a:1|b:2', or(cond(col('a'), eq(w('1'))), cond(col('b'), eq(w('2'))))],
    ['a:1|2 | b:3|4', or(cond(col('a'), eq(w('1'), w('2'))), cond(col('b'), eq(w('3'), w('4'))))],
    ['a:1|~b:2', or(cond(col('a'), eq(w('1'))), not(cond(col('b'), eq(w('2')))))],
    ['a:1|(b:2)', or(cond(col('a'), eq(w('1'))), cond(col('b'), eq(w('2'))))],
    ['a:x|"y"', cond(col('a'), eq(w('x'), s('y')))],
    ['a:x|"y":z', or(cond(col('a'), eq(w('x'))), cond(col('y'), eq(w('z'))))],
    ['a:x|metrics."l o":1', or(cond(col('a'), eq(w('x'))), cond(metric('l o'), eq(w('1'))))],
    ['status:~running|queued', not(cond(col('status'), eq(w('running'), w('queued'))))],
    // `|` binds tighter than `,`: the comma separates required filters, as in Polyaxon.
    [
      'a:1, b:2 | c:3',
      and(cond(col('a'), eq(w('1'))), or(cond(col('b'), eq(w('2'))), cond(col('c'), eq(w('3'))))),
    ],
    [
      '(a:1, b:2) | c:3',
      or(and(cond(col('a'), eq(w('1'))), cond(col('b'), eq(w('2')))), cond(col('c'), eq(w('3')))),
    ],
    ['~(a:1 | b:2)', not(or(cond(col('a'), eq(w('1'))), cond(col('b'), eq(w('2')))))],
    ['((a:1))', cond(col('a'), eq(w('1')))],
    ['~ ~a:1', not(not(cond(col('a'), eq(w('1')))))],
    ['~a:~1', not(not(cond(col('a'), eq(w('1')))))],
    [
      'a:1, (b:2, c:3)',
      and(cond(col('a'), eq(w('1'))), and(cond(col('b'), eq(w('2'))), cond(col('c'), eq(w('3'))))),
    ],
  ])('%s', (text, tree) => {
    expect(parse(text)).toEqual(tree);
  });
});

describe('parseQuery: fields', () => {
  it.each<[string, QueryNode]>([
    ['metrics.val/loss:<1', cond(metric('val/loss'), lt(w('1')))],
    ['metrics.top-1:>0.9', cond(metric('top-1'), gt(w('0.9')))],
    ['metrics.a.b.c:1', cond(metric('a.b.c'), eq(w('1')))],
    ['metrics."val loss":1', cond(metric('val loss'), eq(w('1')))],
    ['metrics.loss.last:1', cond(metric('loss'), eq(w('1')))],
    ['metrics.loss.min.last:1', cond(metric('loss.min'), eq(w('1')))],
    ['metrics.loss."min":1', cond(metric('loss.min'), eq(w('1')))],
    ['metrics.min:1', cond(metric('min'), eq(w('1')))],
    ['metrics.min.max:1', cond(metric('min', 'max'), eq(w('1')))],
    ['metrics.5:1', cond(metric('5'), eq(w('1')))],
    ['metric.loss:1', cond(metric('loss'), eq(w('1')))],
    ['declarations.lr:1', cond(param('lr'), eq(w('1')))],
    ['params.model.depth:3', cond(param('model.depth'), eq(w('3')))],
    ['user.username:alice', cond(col('user.username'), eq(w('alice')))],
    ['"tags":x', cond(col('tags'), eq(w('x')))],
    ['tags.x:1', cond(col('tags.x'), eq(w('1')))],
    ["'my field':1", cond(col('my field'), eq(w('1')))],
    ['status : running', cond(col('status'), eq(w('running')))],
    ['名前:値', cond(col('名前'), eq(w('値')))],
    ['métrique:1', cond(col('métrique'), eq(w('1')))],
    ['_private:1', cond(col('_private'), eq(w('1')))],
  ])('%s', (text, tree) => {
    expect(parse(text)).toEqual(tree);
  });
});

describe('parseQuery: values', () => {
  it.each<[string, QueryNode]>([
    ['name:"a,b|c"', cond(col('name'), eq(s('a,b|c')))],
    ["name:'it\\'s'", cond(col('name'), eq(s("it's")))],
    ['name:"say \\"hi\\""', cond(col('name'), eq(s('say "hi"')))],
    ['name:""', cond(col('name'), eq(s('')))],
    ['name:"%"', cond(col('name'), eq(s('%')))],
    ["name:it's", cond(col('name'), eq(w("it's")))],
    ['name:my run', cond(col('name'), eq(w('my run')))],
    ['name:my  run', cond(col('name'), eq(w('my  run')))],
    ['name: my run , b:1', and(cond(col('name'), eq(w('my run'))), cond(col('b'), eq(w('1'))))],
    ['name:a\\,b', cond(col('name'), eq(w('a,b')))],
    ['name:a\\ ', cond(col('name'), eq(w('a ')))],
    ['name:\\~x', cond(col('name'), eq(w('~x')))],
    ['name:50\\%', cond(col('name'), eq(w('50%')))],
    ['name:foo~bar', cond(col('name'), eq(w('foo~bar')))],
    ['name:a<b', cond(col('name'), eq(w('a<b')))],
    ['a:b:c', cond(col('a'), eq(w('b:c')))],
    ['name:a_b%', cond(col('name'), eq(pat('a_b', '')))],
    ['name:%', cond(col('name'), eq(pat('', '')))],
    ['name:a%b%c', cond(col('name'), eq(pat('a', 'b', 'c')))],
    ['name:%my run%', cond(col('name'), eq(pat('', 'my run', '')))],
    ['name:日本語%', cond(col('name'), eq(pat('日本語', '')))],
    ['name:😀', cond(col('name'), eq(w('😀')))],
    ['name:v1.2', cond(col('name'), eq(w('v1.2')))],
    ['metrics.loss:< 0.3', cond(metric('loss'), lt(w('0.3')))],
    ['metrics.loss:<=-1e-3', cond(metric('loss'), le(w('-1e-3')))],
    ['metrics.loss:>.5', cond(metric('loss'), gt(w('.5')))],
    ['metrics.loss:~<0.3', not(cond(metric('loss'), lt(w('0.3'))))],
  ])('%s', (text, tree) => {
    expect(parse(text)).toEqual(tree);
  });
});

describe('parseQuery: ranges', () => {
  it.each<[string, QueryNode]>([
    ['metrics.loss:0.1..0.3', cond(metric('loss'), range(w('0.1'), w('0.3')))],
    ['metrics.loss:0.1 .. 0.3', cond(metric('loss'), range(w('0.1'), w('0.3')))],
    [
      'created_at:2026-01-01 10:00 .. 2026-01-02',
      cond(col('created_at'), range(w('2026-01-01 10:00'), w('2026-01-02'))),
    ],
    ['created_at:2026-01-01 ..', cond(col('created_at'), range(w('2026-01-01'), undefined))],
    [
      'created_at:2026-01-01 .., a:1',
      and(cond(col('created_at'), range(w('2026-01-01'))), cond(col('a'), eq(w('1')))),
    ],
    ['created_at:.. 2026-01-01', cond(col('created_at'), range(undefined, w('2026-01-01')))],
    [
      'created_at:~2026-01-01 .. 2026-02-01',
      not(cond(col('created_at'), range(w('2026-01-01'), w('2026-02-01')))),
    ],
    ['a:"x..y"', cond(col('a'), eq(s('x..y')))],
    ['a:x\\..y', cond(col('a'), eq(w('x..y')))],
  ])('%s', (text, tree) => {
    expect(parse(text)).toEqual(tree);
  });
});

describe('parseQuery: blank', () => {
  it.each(['', '   ', '\t\n'])('%j is no filter', (text) => {
    expect(parseQuery(text)).toBeNull();
  });
});

describe('parseQuery: spans', () => {
  it('records where each part is', () => {
    const text = 'a:1, ~metrics.loss:<0.3';
    const tree = parseQuery(text)!;
    if (tree.type !== 'and') throw new Error('expected and');
    const negated = tree.items[1]!;
    if (negated.type !== 'not' || negated.item.type !== 'condition') throw new Error('expected not');
    const span = negated.item.fieldSpan!;
    expect(text.slice(span.start, span.end)).toBe('metrics.loss');
    expect(negated.item.predicate.op === 'lt' && negated.item.predicate.value.span).toEqual({
      start: 20,
      end: 23,
    });
  });
});

describe('parseQuery: errors point at the failing character', () => {
  it.each<[string, number, string[]]>([
    ['status:', 7, ['value', '~', '<', '<=', '>', '>=', '..']],
    ['status:running,', 15, ['field', '(', '~']],
    [',status:running', 0, ['field', '(', '~']],
    ['status:running,,queued', 15, ['field', '(', '~']],
    ['status:running|', 15, ['value', 'field', '(', '~']],
    ['status:running||queued', 15, ['value', 'field', '(', '~']],
    ['(status:running', 15, [',', '|', '..', ')']],
    ['(a:1, (b:2)', 11, [',', '|', ')']],
    ['status:running)', 14, [',', '|', '..', 'end of query']],
    ['()', 1, ['field', '(', '~']],
    ['a:1 b:2', 4, [',', '|', '..', 'end of query']],
    ['name:my run:x', 8, [',', '|', '..', 'end of query']],
    ['name:resnet(v2)', 11, [',', '|', '..', 'end of query']],
    ['statusrunning', 13, [':']],
    ['status running', 7, [':']],
    ['metrics:1', 7, ['.']],
    ['params:1', 6, ['.']],
    ['metrics..loss:1', 8, ['name']],
    ['metrics."":1', 8, ['name']],
    ['status.:1', 7, ['name']],
    ['1a:x', 0, ['field', '(', '~']],
    ['a:1 .. 2 .. 3', 9, [',', '|', 'end of query']],
    ['a:1 .. )', 7, [',', '|', 'value', 'end of query']],
    ['a:..', 4, ['value']],
    ['a:<', 3, ['value']],
    ['a:<0.3|0.5', 7, ['field', '(', '~']],
    ['a:1 .. 2|3', 9, ['field', '(', '~']],
    ['a:=1', 2, ['value', '~', '<', '<=', '>', '>=', '..']],
    ['a:~~1', 3, ['value', '<', '<=', '>', '>=', '..']],
    ['a:1|2, ~', 8, ['field', '(', '~']],
    ['name:"abc', 9, ['"']],
    ["name:'abc\\'", 11, ["'"]],
    ['name:abc\\', 9, ['character']],
    ['"unterminated:1', 15, ['"']],
    ['名前:値,', 5, ['field', '(', '~']],
    ['name:😀,', 8, ['field', '(', '~']],
  ])('%j fails at offset %i', (text, offset, expected) => {
    const error = errorOf(() => parseQuery(text));
    expect(error.code).toBe('syntax');
    expect(error.offset).toBe(offset);
    expect(error.expected).toEqual(expected);
    expect(error.source).toBe(text);
    expect(error.input).toBe('query');
  });

  it('shows a caret under the failing character', () => {
    const error = errorOf(() => parseQuery('status:running|'));
    expect(error.message).toBe(
      'invalid query at offset 15: expected value, field, `(` or `~`, found end of query',
    );
    expect(error.display).toBe('status:running|\n               ^');
    expect(error.toJSON()).toEqual({
      code: 'syntax',
      message: error.message,
      input: 'query',
      offset: 15,
      column: 16,
      length: 1,
      expected: ['value', 'field', '(', '~'],
      found: 'end of query',
      display: 'status:running|\n               ^',
    });
  });

  it('counts columns in characters, not UTF-16 units', () => {
    const error = errorOf(() => parseQuery('name:😀😀)'));
    expect(error.offset).toBe(9);
    expect(error.column).toBe(8);
    expect(error.display).toBe('name:😀😀)\n       ^');
    expect(error.found).toBe('`)`');
  });

  it('names what it found', () => {
    expect(errorOf(() => parseQuery('a:1 b:2')).message).toBe(
      'invalid query at offset 4: expected `,`, `|`, `..` or end of query, found `b`',
    );
    expect(errorOf(() => parseQuery('a:1\tb:2')).found).toBe('`b`');
    expect(errorOf(() => parseQuery('a\t:\n')).found).toBe('end of query');
  });

  it('shows the line of a multi-line query', () => {
    const error = errorOf(() => parseQuery('a:1,\nb:2,\n\tc'));
    expect(error.offset).toBe(12);
    expect(error.display).toBe(' c\n  ^');
  });

  it('clips a long line around the position', () => {
    const text = `${Array.from({ length: 30 }, (_, i) => `field${i}:v`).join(',')},)`;
    const error = errorOf(() => parseQuery(text));
    expect(error.offset).toBe(text.length - 1);
    const [line, caret] = error.display!.split('\n');
    expect(line!.startsWith('…')).toBe(true);
    expect(line!.endsWith(',)')).toBe(true);
    expect(caret!.indexOf('^')).toBe([...line!].length - 1);
  });

  it('refuses nesting deeper than the limit instead of exhausting the stack', () => {
    expect(parse(`${'('.repeat(32)}a:1${')'.repeat(32)}`)).toEqual(cond(col('a'), eq(w('1'))));
    const error = errorOf(() => parseQuery(`${'('.repeat(33)}a:1${')'.repeat(33)}`));
    expect(error.offset).toBe(32);
    expect(error.message).toContain('deeper than 32');
    expect(errorOf(() => parseQuery('~'.repeat(100_000))).code).toBe('syntax');
    expect(stripSpans(parseQuery('a:1', { maxDepth: 0 }))).toEqual(cond(col('a'), eq(w('1'))));
    expect(errorOf(() => parseQuery('~a:1', { maxDepth: 0 })).offset).toBe(0);
  });

  it('rejects what is not a string', () => {
    expect(() => parseQuery(42 as unknown as string)).toThrow(TypeError);
  });
});

describe('parseSort', () => {
  const sort = (text: string): SortKey[] => stripSpans(parseSort(text));

  it.each<[string, SortKey[]]>([
    ['', []],
    ['  ', []],
    ['created_at', [{ field: col('created_at'), direction: 'asc' }]],
    [
      '-metrics.loss,created_at',
      [
        { field: metric('loss'), direction: 'desc' },
        { field: col('created_at'), direction: 'asc' },
      ],
    ],
    [
      ' - metrics.loss.min , +name ',
      [
        { field: metric('loss', 'min'), direction: 'desc' },
        { field: col('name'), direction: 'asc' },
      ],
    ],
    ['-params.lr', [{ field: param('lr'), direction: 'desc' }]],
    ['metric.acc', [{ field: metric('acc'), direction: 'asc' }]],
  ])('%j', (text, keys) => {
    expect(sort(text)).toEqual(keys);
  });

  it('keeps spans', () => {
    expect(parseSort('a, -b')[1]!.span).toEqual({ start: 3, end: 5 });
  });

  it.each<[string, number, string[]]>([
    ['created_at,', 11, ['field', '-']],
    ['created_at name', 11, [',', 'end of query']],
    ['-', 1, ['field']],
    [',a', 0, ['field', '-']],
    ['metrics', 7, ['.']],
    ['a:1', 1, [',', 'end of query']],
  ])('%j fails at offset %i', (text, offset, expected) => {
    const error = errorOf(() => parseSort(text));
    expect(error.code).toBe('syntax');
    expect(error.input).toBe('sort');
    expect(error.offset).toBe(offset);
    expect(error.expected).toEqual(expected);
  });

  it('refuses a field sorted twice', () => {
    const error = errorOf(() => parseSort('created_at,-created_at'));
    expect(error.code).toBe('invalid-sort');
    expect(error.offset).toBe(12);
    expect(error.display).toBe('created_at,-created_at\n            ^^^^^^^^^^');
    expect(parseSort('metrics.loss.min,metrics.loss.max')).toHaveLength(2);
    expect(errorOf(() => parseSort('metrics.loss,metric.loss.last')).code).toBe('invalid-sort');
  });
});
