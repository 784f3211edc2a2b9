/**
 * Tree builders for tests (not exported from the lib's entry point).
 */
import type { FieldRef, MetricAggregate, Predicate, QueryNode, Value } from './ast';

export const col = (name: string): FieldRef => ({ kind: 'column', name });
export const metric = (name: string, agg: MetricAggregate = 'last'): FieldRef => ({
  kind: 'metric',
  name,
  agg,
});
export const param = (name: string): FieldRef => ({ kind: 'param', name });
export const tag: FieldRef = { kind: 'tag' };

export const w = (value: string): Value => ({ type: 'word', value });
export const s = (value: string): Value => ({ type: 'string', value });
export const pat = (...parts: string[]): Value => ({ type: 'pattern', parts });

export const eq = (...values: Value[]): Predicate => ({ op: 'eq', values });
export const lt = (value: Value): Predicate => ({ op: 'lt', value });
export const le = (value: Value): Predicate => ({ op: 'le', value });
export const gt = (value: Value): Predicate => ({ op: 'gt', value });
export const ge = (value: Value): Predicate => ({ op: 'ge', value });
export const range = (from?: Value, to?: Value): Predicate => ({
  op: 'range',
  ...(from ? { from } : {}),
  ...(to ? { to } : {}),
});

export const cond = (field: FieldRef, predicate: Predicate): QueryNode => ({
  type: 'condition',
  field,
  predicate,
});
export const not = (item: QueryNode): QueryNode => ({ type: 'not', item });
export const and = (...items: QueryNode[]): QueryNode => ({ type: 'and', items });
export const or = (...items: QueryNode[]): QueryNode => ({ type: 'or', items });
