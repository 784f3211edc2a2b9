/**
 * fast-check generators of query trees for the property tests (not exported by the lib).
 * They favour the characters the grammar treats specially, names that collide with keywords,
 * and arbitrary Unicode (lone surrogates included).
 */
import fc from 'fast-check';
import type { FieldRef, Predicate, QueryNode, SortKey, Value } from './ast';

const SPECIAL = [
  '.',
  ' ',
  '"',
  "'",
  '\\',
  ':',
  '%',
  ',',
  '|',
  '(',
  ')',
  '~',
  '<',
  '>',
  '=',
  '-',
  '/',
  '_',
  '\t',
  '\n',
];
const PLAIN = ['a', 'b', 'e', 'i', 'm', 'n', 'x', 'z', '0', '1', '9', 'é', '日', '😀', 'T', 'Z'];
const char = fc.oneof(fc.constantFrom(...PLAIN), fc.constantFrom(...SPECIAL));

const text = (minLength: number): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: char, minLength, maxLength: 8 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength, maxLength: 5 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength, maxLength: 4 }) },
  );

export const nameArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: text(1) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'min',
      'max',
      'last',
      'tags',
      'metrics',
      'metric',
      'params',
      'declarations',
      'loss.min',
      'a.last',
      'val/loss',
      '.',
      'a..b',
      '.x',
      'x.',
      'status',
      '1st',
    ),
  },
);

export const fieldArb: fc.Arbitrary<FieldRef> = fc.oneof(
  nameArb.map((name): FieldRef => ({ kind: 'column', name })),
  fc
    .tuple(nameArb, fc.constantFrom('last' as const, 'min' as const, 'max' as const))
    .map(([name, agg]): FieldRef => ({ kind: 'metric', name, agg })),
  nameArb.map((name): FieldRef => ({ kind: 'param', name })),
  fc.constant<FieldRef>({ kind: 'tag' }),
);

const wordText = fc.oneof(
  { weight: 3, arbitrary: text(1) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '0.3',
      '-1e-3',
      '2026-01-01 10:00',
      'my run',
      'a:b',
      'x|y:z',
      'b:c',
      '..',
      '~x',
      ' a ',
    ),
  },
);

export const valueArb: fc.Arbitrary<Value> = fc.oneof(
  { weight: 3, arbitrary: wordText.map((value): Value => ({ type: 'word', value })) },
  { weight: 1, arbitrary: text(0).map((value): Value => ({ type: 'string', value })) },
  {
    weight: 1,
    arbitrary: fc
      .array(text(0), { minLength: 2, maxLength: 4 })
      .map((parts): Value => ({ type: 'pattern', parts })),
  },
);

export const predicateArb: fc.Arbitrary<Predicate> = fc.oneof(
  fc.array(valueArb, { minLength: 1, maxLength: 3 }).map((values): Predicate => ({ op: 'eq', values })),
  fc
    .tuple(fc.constantFrom('lt' as const, 'le' as const, 'gt' as const, 'ge' as const), valueArb)
    .map(([op, value]): Predicate => ({ op, value })),
  fc
    .tuple(fc.option(valueArb, { nil: undefined }), fc.option(valueArb, { nil: undefined }))
    .filter(([from, to]) => from !== undefined || to !== undefined)
    .map(([from, to]): Predicate => ({ op: 'range', ...(from ? { from } : {}), ...(to ? { to } : {}) })),
);

export function queryArb(condition: fc.Arbitrary<QueryNode>): fc.Arbitrary<QueryNode> {
  const { node } = fc.letrec<{ node: QueryNode }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      condition,
      tie('node').map((item): QueryNode => ({ type: 'not', item })),
      fc
        .array(tie('node'), { minLength: 2, maxLength: 3 })
        .map((items): QueryNode => ({ type: 'and', items })),
      fc
        .array(tie('node'), { minLength: 2, maxLength: 3 })
        .map((items): QueryNode => ({ type: 'or', items })),
    ),
  }));
  return node;
}

export const conditionArb: fc.Arbitrary<QueryNode> = fc
  .tuple(fieldArb, predicateArb)
  .map(([field, predicate]): QueryNode => ({ type: 'condition', field, predicate }));

export const sortArb: fc.Arbitrary<SortKey[]> = fc.uniqueArray(
  fc.record({ field: fieldArb, direction: fc.constantFrom('asc' as const, 'desc' as const) }),
  { maxLength: 4, selector: (k) => JSON.stringify(k.field) },
);
