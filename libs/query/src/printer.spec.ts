import fc from 'fast-check';
import { type QueryNode, stripSpans } from './ast';
import { QueryError } from './errors';
import { parseQuery, parseSort } from './parser';
import { printField, printQuery, printSort, printValue } from './printer';
import { conditionArb, queryArb, sortArb } from './test-arbitraries';
import { col, cond, eq, metric, pat, s, w } from './test-helpers';

const canonical = (text: string): string => printQuery(parseQuery(text));

describe('printQuery: canonical form', () => {
  it.each([
    ['', ''],
    ['status:running', 'status:running'],
    ['status:~running|queued', '~status:running|queued'],
    ['~ status : running', '~status:running'],
    ['a:1,b:2', 'a:1, b:2'],
    ['a:1|b:2', 'a:1 | b:2'],
    ['a:1 | 2', 'a:1|2'],
    ['a:1,b:2|c:3', 'a:1, (b:2 | c:3)'],
    ['(a:1,b:2)|c:3', '(a:1, b:2) | c:3'],
    ['a:1, (b:2, c:3)', 'a:1, (b:2, c:3)'],
    ['((a:1))', 'a:1'],
    ['~(a:1|b:2)', '~(a:1 | b:2)'],
    ['~~a:1', '~~a:1'],
    ['metric.loss:<0.3', 'metrics.loss:<0.3'],
    ['metrics.loss.last:1', 'metrics.loss:1'],
    ['metrics.loss.min:1', 'metrics.loss.min:1'],
    ['metrics.loss.min.last:1', 'metrics.loss.min.last:1'],
    ['metrics."val loss":1', 'metrics."val loss":1'],
    ['metrics.val/loss:1', 'metrics.val/loss:1'],
    ['declarations.lr:>=0.01', 'params.lr:>=0.01'],
    ['"tags":x', '"tags":x'],
    ["'my field':1", '"my field":1'],
    ["name:'x'", 'name:"x"'],
    ['name:"a\\"b"', 'name:"a\\"b"'],
    ['name:a\\,b', 'name:a\\,b'],
    ['name:\\~x', 'name:\\~x'],
    ['name:%my run%', 'name:%my run%'],
    ['name:50\\%%', 'name:50\\%%'],
    ['name:my   run', 'name:my\\ \\  run'],
    ['a:b:c', 'a:b:c'],
    ['a:x|"b:c"', 'a:x|"b:c"'],
    ['created_at:2026-01-01..2026-02-01', 'created_at:2026-01-01 .. 2026-02-01'],
    ['created_at:2026-01-01 ..', 'created_at:2026-01-01 ..'],
    ['created_at: .. 2026-01-01', 'created_at:.. 2026-01-01'],
    ['metrics.loss:< 0.3', 'metrics.loss:<0.3'],
    ['名前:値', '名前:値'],
  ])('%j prints as %j', (text, printed) => {
    expect(canonical(text)).toBe(printed);
  });

  it('escapes a value that would otherwise read as a condition', () => {
    const tree = cond(col('a'), eq(w('x'), w('b:c')));
    expect(printQuery(tree)).toBe('a:x|\\b:c');
    expect(stripSpans(parseQuery(printQuery(tree)))).toEqual(tree);
  });

  it('escapes a quote inside a value, which a later quote would otherwise pair with', () => {
    // Found by the property below: `a."` then `params.":a"` read back as one condition on the field `a. | params.`.
    const tree = { type: 'or', items: [cond(col('x'), eq(pat('', ''), w('a."'))), cond(col('y'), eq(w("b'c"))), cond(col('z'), eq(s('"q"')))] } as QueryNode;
    expect(printQuery(tree)).toBe('x:%|a.\\" | y:b\\\'c | z:"\\"q\\""');
    expect(stripSpans(parseQuery(printQuery(tree)))).toEqual(tree);
  });

  it.each([
    [w('my run'), 'my run'],
    [w(' lead'), '\\ lead'],
    [w('trail '), 'trail\\ '],
    [w('a..b'), 'a\\..b'],
    [w('=5'), '\\=5'],
    [w('"q"'), '\\"q\\"'],
    [w('tab\there'), 'tab\\\there'],
    [w('run:fast x:1'), 'run:fast\\ x:1'],
    [s(''), '""'],
    [s('back\\slash'), '"back\\\\slash"'],
    [pat('', 'a_b', ''), '%a_b%'],
    [pat('50%', ''), '50\\%%'],
  ])('prints the value %j as %j', (value, printed) => {
    expect(printValue(value)).toBe(printed);
  });

  it.each([
    [col('status'), 'status'],
    [col('user.username'), 'user.username'],
    [col('tags'), '"tags"'],
    [col('metrics.x'), '"metrics".x'],
    [col('1st'), '"1st"'],
    [col('a..b'), '"a..b"'],
    [metric('loss.min'), 'metrics.loss.min.last'],
    [metric('min'), 'metrics.min'],
    [metric('min', 'max'), 'metrics.min.max'],
    [metric('x.', 'min'), 'metrics."x.".min'],
  ])('prints the field %j as %j', (field, printed) => {
    expect(printField(field)).toBe(printed);
  });
});

describe('printQuery: property', () => {
  it('printing then parsing a random tree gives the same tree', () => {
    fc.assert(
      fc.property(queryArb(conditionArb), (tree: QueryNode) => {
        const printed = printQuery(tree);
        expect(stripSpans(parseQuery(printed))).toEqual(tree);
      }),
      { numRuns: 2000 },
    );
  });

  it('printing is a fixpoint on parsed text', () => {
    fc.assert(
      fc.property(queryArb(conditionArb), (tree: QueryNode) => {
        const printed = printQuery(tree);
        expect(printQuery(parseQuery(printed))).toBe(printed);
      }),
      { numRuns: 500 },
    );
  });

  const TOKENS = [
    'status',
    'name',
    ':',
    'running',
    '|',
    ',',
    ' ',
    '(',
    ')',
    '~',
    '<',
    '>=',
    '..',
    '"',
    "'",
    '\\',
    '%',
    'metrics.',
    'loss',
    '.min',
    'params.',
    'tags',
    '1',
    '0.3',
    '2026-01-01',
    '10:00',
    'é',
    '😀',
    '\t',
    '=',
  ];
  const soup = fc.oneof(
    fc.array(fc.constantFrom(...TOKENS), { maxLength: 14 }).map((t) => t.join('')),
    fc.string({ unit: 'binary', maxLength: 20 }),
  );

  it('any text either parses to a tree that prints and re-parses to itself, or fails with a position', () => {
    fc.assert(
      fc.property(soup, (text) => {
        let tree: QueryNode | null;
        try {
          tree = parseQuery(text);
        } catch (error) {
          expect(error).toBeInstanceOf(QueryError);
          const e = error as QueryError;
          expect(e.offset).toBeGreaterThanOrEqual(0);
          expect(e.offset).toBeLessThanOrEqual(text.length);
          expect(e.display).toContain('^');
          return;
        }
        const printed = printQuery(tree);
        expect(stripSpans(parseQuery(printed))).toEqual(stripSpans(tree));
      }),
      { numRuns: 3000 },
    );
  });

  it('printing then parsing random sort keys gives the same keys', () => {
    fc.assert(
      fc.property(sortArb, (keys) => {
        expect(stripSpans(parseSort(printSort(keys)))).toEqual(keys);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('printSort', () => {
  it('prints the Polyaxon form', () => {
    expect(printSort(parseSort(' - metric.loss , +created_at'))).toBe('-metrics.loss,created_at');
    expect(printSort([])).toBe('');
  });
});
