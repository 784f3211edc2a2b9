import { createFieldResolver } from './resolver';
import { runsSchema } from './test-schema';

describe('createFieldResolver', () => {
  const bound: unknown[] = [];
  const bind = (value: unknown): string => {
    bound.push(value);
    return `$${bound.length}`;
  };
  beforeEach(() => bound.splice(0));

  it('resolves columns, tags, params and metrics from data', () => {
    const r = createFieldResolver(runsSchema('x'));
    expect(r.resolve({ kind: 'column', name: 'status' }, bind)).toMatchObject({
      sql: 'r."status"',
      type: 'text',
      nullable: false,
    });
    expect(r.resolve({ kind: 'tag' }, bind)).toEqual({ sql: 'r."tags"', type: 'jsonb-array' });
    expect(r.resolve({ kind: 'param', name: 'lr' }, bind)).toEqual({
      sql: 'r."params" -> $1::text',
      type: 'jsonb',
      nullable: true,
    });
    expect(r.resolve({ kind: 'metric', name: 'loss', agg: 'min' }, bind)).toEqual({
      sql: '(SELECT s."min" FROM "x"."metric_summaries" s WHERE s."run_uuid" = r."uuid" AND s."name" = $2::text)',
      type: 'number',
      nullable: true,
    });
    expect(bound).toEqual(['lr', 'loss']);
  });

  it('binds a name once however often the template uses it', () => {
    const r = createFieldResolver({ params: 'coalesce(a -> {name}, b -> {name})' });
    expect(r.resolve({ kind: 'param', name: 'lr' }, bind)!.sql).toBe(
      'coalesce(a -> $1::text, b -> $1::text)',
    );
    expect(bound).toEqual(['lr']);
  });

  it('knows nothing it was not given, inherited properties included', () => {
    const r = createFieldResolver({ columns: { status: { sql: 's', type: 'text' } } });
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(r.resolve({ kind: 'column', name }, bind)).toBeUndefined();
    }
    expect(r.resolve({ kind: 'tag' }, bind)).toBeUndefined();
    expect(r.resolve({ kind: 'param', name: 'x' }, bind)).toBeUndefined();
    expect(r.resolve({ kind: 'metric', name: 'x', agg: 'last' }, bind)).toBeUndefined();
    expect(r.knownFields()).toEqual(['status']);
  });

  it('checks its description', () => {
    expect(() => createFieldResolver({ params: 'r.params' })).toThrow('params: the template has no {name}');
    expect(() => createFieldResolver({ metrics: 'm.last' })).toThrow('metrics: the template has no {name}');
    expect(() => createFieldResolver({ columns: { a: { sql: 'a', type: 'date' as 'text' } } })).toThrow(
      'unknown type date',
    );
  });
});
