/**
 * The canonical text of a query or sort: parsing it gives back the same tree (modulo spans).
 * Canonical choices: `,` followed by a space, ` | ` between conditions, `|` between value
 * alternatives, `~` in front of the field (`~status:failed`, never `status:~failed`), every
 * `,`/`|` group nested in another in parentheses, `metrics.`/`params.` rather than the aliases,
 * the default `.last` left out, the shortest escaping that reads back the same.
 */
import type { FieldRef, Predicate, QueryNode, SortKey, Value } from './ast';
import { METRIC_AGGREGATES } from './ast';
import { isBareSegment, isConditionStart, isWs, scanValue } from './lexer';

export function printQuery(node: QueryNode | null): string {
  return node ? printNode(node, false) : '';
}

export function printSort(keys: readonly SortKey[]): string {
  return keys.map((k) => `${k.direction === 'desc' ? '-' : ''}${printField(k.field)}`).join(',');
}

function printNode(node: QueryNode, nested: boolean): string {
  switch (node.type) {
    case 'condition':
      return `${printField(node.field)}:${printPredicate(node.predicate)}`;
    case 'not':
      return `~${printNode(node.item, true)}`;
    case 'and':
    case 'or': {
      const text = node.items.map((i) => printNode(i, true)).join(node.type === 'and' ? ', ' : ' | ');
      return nested ? `(${text})` : text;
    }
  }
}

function printPredicate(p: Predicate): string {
  switch (p.op) {
    case 'eq':
      return p.values.map((v, i) => printValue(v, i > 0)).join('|');
    case 'lt':
      return `<${printValue(p.value)}`;
    case 'le':
      return `<=${printValue(p.value)}`;
    case 'gt':
      return `>${printValue(p.value)}`;
    case 'ge':
      return `>=${printValue(p.value)}`;
    case 'range':
      return [p.from ? `${printValue(p.from)} ` : '', '..', p.to ? ` ${printValue(p.to)}` : ''].join('');
  }
}

const KEYWORDS = new Set(['metrics', 'metric', 'params', 'declarations', 'tags']);

export function printField(field: FieldRef): string {
  switch (field.kind) {
    case 'tag':
      return 'tags';
    case 'param':
      return `params.${printPath(field.name, false)}`;
    case 'metric': {
      const path = printPath(field.name, false);
      if (field.agg !== 'last') return `metrics.${path}.${field.agg}`;
      // `metrics.loss.min.last` is the metric `loss.min`; `metrics.loss.min` would be loss's minimum.
      const parts = path.split('.');
      const tail = parts[parts.length - 1]!;
      const ambiguous = parts.length >= 2 && (METRIC_AGGREGATES as readonly string[]).includes(tail);
      return `metrics.${path}${ambiguous ? '.last' : ''}`;
    }
    case 'column':
      return printPath(field.name, true);
  }
}

/** A dotted name, each part bare when it can be, quoted otherwise. */
function printPath(name: string, column: boolean): string {
  const parts = name.split('.');
  if (parts.some((p) => p === '')) return quote(name);
  return parts
    .map((part, i) => {
      const first = column && i === 0;
      const bare = isBareSegment(part, first) && !(first && KEYWORDS.has(part));
      return bare ? part : quote(part);
    })
    .join('.');
}

function quote(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * Characters escaped wherever they are in unquoted text. Quotes too: one inside a value is read
 * as the value's own only until a later quote pairs with it, and then the text between the two
 * (`a." | params."`) reads as a quoted segment of a field, turning the value into a condition.
 */
const ALWAYS = new Set(['\\', ',', '|', '(', ')', '%', '"', "'"]);
const NOT_FIRST = new Set(['~', '<', '>', '=', '"', "'"]);

/**
 * A value as it reads back. `afterBar`: the value follows a `|`, where text that looks like the
 * start of a condition (`b:c`) would be read as one, so its first character gets escaped.
 */
export function printValue(value: Value, afterBar = false): string {
  if (value.type === 'string') return quote(value.value);
  const parts = value.type === 'word' ? [value.value] : value.parts;
  const minimal = parts.map((part, i) => escapePart(part, i === 0, i === parts.length - 1)).join('%');
  if (readsBack(minimal, value, afterBar)) return minimal;
  if (parts[0] !== '' && !minimal.startsWith('\\') && readsBack(`\\${minimal}`, value, afterBar))
    return `\\${minimal}`;
  return parts.map((part, i) => escapeAll(part, i === 0)).join('%');
}

function escapePart(part: string, first: boolean, last: boolean): string {
  const chars = [...part];
  return chars
    .map((c, i) => {
      const next = chars[i + 1];
      const atStart = first && i === 0;
      const atEnd = last && i === chars.length - 1;
      let escape = ALWAYS.has(c) || (atStart && NOT_FIRST.has(c)) || (c === '.' && next === '.');
      if (isWs(c)) {
        // A space is kept only between words, before one that does not look like a condition.
        const rest = chars.slice(i + 1).join('');
        escape =
          c !== ' ' || atStart || atEnd || isWs(next) || NOT_FIRST.has(next!) || isConditionStart(rest, 0);
      }
      return escape ? `\\${c}` : c;
    })
    .join('');
}

/** Every character but letters and digits escaped, and the first one too: always reads back. */
function escapeAll(part: string, first: boolean): string {
  return [...part].map((c, i) => ((first && i === 0) || !/^[\p{L}\p{N}]$/u.test(c) ? `\\${c}` : c)).join('');
}

/** Does `text`, read as a value, give `value` back? */
function readsBack(text: string, value: Value, afterBar: boolean): boolean {
  if (afterBar && isConditionStart(text, 0)) return false;
  const r = scanValue(text, 0);
  if (!r.ok || r.end !== text.length || r.value.type !== value.type) return false;
  if (r.value.type === 'word' && value.type === 'word') return r.value.value === value.value;
  if (r.value.type === 'pattern' && value.type === 'pattern') {
    return r.value.parts.length === value.parts.length && r.value.parts.every((p, i) => p === value.parts[i]);
  }
  return false;
}
