/**
 * The resolver contract: how the compiler learns what SQL a field stands for. The library knows
 * no table; the caller (the API) supplies a resolver, usually built from plain data with
 * `createFieldResolver`.
 */
import type { FieldRef } from './ast';

/**
 * The type of a field's SQL expression, which decides the operators and literals it accepts.
 * - `text`: `=`/alternatives, `%` patterns (ILIKE).
 * - `number`: `=`, alternatives, `<` `<=` `>` `>=`, ranges.
 * - `timestamp` (timestamptz): the same, with literals read as intervals (`2026-01-31` is a day).
 * - `boolean`: `true` / `false`.
 * - `jsonb`: a JSON scalar (a param). A bare number compares with JSON numbers, `true`/`false`
 *   with JSON booleans, any other word or a quoted string with JSON strings; `<`, `>` and ranges
 *   take numbers; `%` patterns match the value's text.
 * - `jsonb-array`: a JSON array of strings (tags): `tags:a` has `a`, `tags:a|b` has either,
 *   `tags:%a%` has one matching the pattern.
 */
export type FieldType = 'text' | 'number' | 'timestamp' | 'boolean' | 'jsonb' | 'jsonb-array';

export const FIELD_TYPES: readonly FieldType[] = [
  'text',
  'number',
  'timestamp',
  'boolean',
  'jsonb',
  'jsonb-array',
];

export interface ResolvedField {
  /** A SQL expression, trusted: it is embedded as is. Values inside it must be bound (`bind`). */
  sql: string;
  type: FieldType;
  /** Can the expression be NULL? Decides how `~` keeps a run without the field. Default true. */
  nullable?: boolean;
  /** For text fields: the only values `=` accepts (for example the run statuses). */
  values?: readonly string[];
  /** Can results be ordered by it? Default true except for `jsonb-array`. */
  sortable?: boolean;
}

/**
 * Binds a value as a query parameter and returns its placeholder (`$3`). The compiler passes one
 * to `resolve` so a resolver can put a metric or param name into SQL without concatenating it.
 */
export type BindParam = (value: unknown) => string;

export interface FieldResolver {
  /** The SQL for a field, or undefined when the field is unknown (reported at its position). */
  resolve(field: FieldRef, bind: BindParam): ResolvedField | undefined;
  /** The fields to list in an "unknown field" error, as users type them. */
  knownFields(): readonly string[];
}

export interface ColumnSchema {
  sql: string;
  type: FieldType;
  nullable?: boolean;
  values?: readonly string[];
  sortable?: boolean;
}

/**
 * A resolver described as data. SQL fragments are trusted text written by the caller; `{name}`
 * in a template becomes the placeholder of the bound metric/param name (as `$n::text`) and
 * `{agg}` becomes `last`, `min` or `max`.
 */
export interface FieldSchema {
  /** Plain fields by the name users type (`status`, `created_at`, `user.username`). */
  columns?: Readonly<Record<string, ColumnSchema>>;
  /** A `jsonb` array of strings, e.g. `r."tags"`. */
  tags?: string;
  /** A `jsonb` expression of one param, e.g. `r."params" -> {name}`. */
  params?: string;
  /**
   * A numeric expression of one metric summary, e.g. a scalar subquery
   * `(SELECT s."{agg}" FROM "metric_summaries" s WHERE s."run_uuid" = r."uuid" AND s."name" = {name})`.
   */
  metrics?: string;
}

export function createFieldResolver(schema: FieldSchema): FieldResolver {
  for (const [name, column] of Object.entries(schema.columns ?? {})) {
    if (!FIELD_TYPES.includes(column.type))
      throw new Error(`column ${name}: unknown type ${String(column.type)}`);
  }
  for (const key of ['params', 'metrics'] as const) {
    const template = schema[key];
    if (template !== undefined && !template.includes('{name}'))
      throw new Error(`${key}: the template has no {name}`);
  }
  const fill = (template: string, name: string, bind: BindParam, agg = ''): string => {
    let placeholder: string | undefined; // bound once however often {name} appears
    return template.replace(/\{(name|agg)\}/g, (_, key: string) =>
      key === 'name' ? `${(placeholder ??= bind(name))}::text` : agg,
    );
  };

  return {
    resolve(field, bind) {
      switch (field.kind) {
        case 'column': {
          const column = Object.prototype.hasOwnProperty.call(schema.columns ?? {}, field.name)
            ? schema.columns![field.name]
            : undefined;
          return column ? { ...column } : undefined;
        }
        case 'tag':
          return schema.tags === undefined ? undefined : { sql: schema.tags, type: 'jsonb-array' };
        case 'param':
          return schema.params === undefined
            ? undefined
            : { sql: fill(schema.params, field.name, bind), type: 'jsonb', nullable: true };
        case 'metric':
          return schema.metrics === undefined
            ? undefined
            : { sql: fill(schema.metrics, field.name, bind, field.agg), type: 'number', nullable: true };
      }
    },
    knownFields() {
      return [
        ...Object.keys(schema.columns ?? {}),
        ...(schema.tags === undefined ? [] : ['tags']),
        ...(schema.params === undefined ? [] : ['params.<name>']),
        ...(schema.metrics === undefined
          ? []
          : ['metrics.<name>', 'metrics.<name>.min', 'metrics.<name>.max']),
      ];
    },
  };
}
