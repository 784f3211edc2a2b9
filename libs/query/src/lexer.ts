/**
 * Character-level scanners shared by the parser and the printer (which re-reads what it prints to
 * choose the shortest faithful spelling). Offsets are UTF-16 indexes; characters are read as code
 * points so an escaped or classified emoji is one character.
 */
import type { Span, Value } from './ast';

/** Characters that end an unquoted value wherever they appear. */
const STOP = new Set([',', '|', '(', ')']);
/** Characters an unquoted value may not start with (operators and quotes). */
const NO_START = new Set(['~', '<', '>', '=', '"', "'"]);
const FIRST_SEGMENT_START = /^[\p{L}_]$/u;
const SEGMENT_CHAR = /^[\p{L}\p{M}\p{N}_\-/]$/u;

export const isWs = (c: string | undefined): boolean => c !== undefined && /^\s$/u.test(c);

/** The character (code point) at `pos`, or undefined at the end. */
export function charAt(src: string, pos: number): string | undefined {
  if (pos >= src.length) return undefined;
  return String.fromCodePoint(src.codePointAt(pos)!);
}

export function skipWs(src: string, pos: number): number {
  while (pos < src.length && isWs(src[pos])) pos++;
  return pos;
}

/** A failed scan: where, what was expected there, and why. */
export interface ScanFailure {
  ok: false;
  offset: number;
  expected: string[];
  reason?: string;
}

export interface Segment {
  text: string;
  quoted: boolean;
  span: Span;
}

export type ScanResult<T> = ({ ok: true; end: number } & T) | ScanFailure;

export function isBareSegment(text: string, first: boolean): boolean {
  const chars = [...text];
  if (chars.length === 0) return false;
  if (first && !FIRST_SEGMENT_START.test(chars[0]!)) return false;
  return chars.every((c) => SEGMENT_CHAR.test(c));
}

/** `"..."` or `'...'` starting at `pos`; a backslash makes the next character literal. */
export function scanQuoted(src: string, pos: number): ScanResult<{ text: string }> {
  const quote = src[pos]!;
  let text = '';
  let i = pos + 1;
  for (;;) {
    const c = charAt(src, i);
    const n = c === '\\' ? charAt(src, i + 1) : undefined;
    if (c === undefined || (c === '\\' && n === undefined)) {
      return {
        ok: false,
        offset: src.length,
        expected: [quote],
        reason: `unterminated string: the ${quote} opened at offset ${pos} is never closed`,
      };
    }
    if (c === quote) return { ok: true, end: i + 1, text };
    if (n !== undefined) {
      text += n;
      i += 1 + n.length;
      continue;
    }
    text += c;
    i += c.length;
  }
}

/**
 * A field path: segments separated by `.`, each bare (`loss`, `val/loss`, `top-1`) or quoted
 * (`"val loss"`). The first bare segment starts with a letter or `_`.
 */
export function scanField(src: string, pos: number): ScanResult<{ segments: Segment[] }> {
  const segments: Segment[] = [];
  let i = pos;
  for (;;) {
    const first = segments.length === 0;
    const c = charAt(src, i);
    if (c === '"' || c === "'") {
      const q = scanQuoted(src, i);
      if (!q.ok) return q;
      if (q.text === '')
        return { ok: false, offset: i, expected: ['name'], reason: 'a field name part cannot be empty' };
      segments.push({ text: q.text, quoted: true, span: { start: i, end: q.end } });
      i = q.end;
    } else {
      if (c === undefined || !(first ? FIRST_SEGMENT_START : SEGMENT_CHAR).test(c)) {
        return { ok: false, offset: i, expected: [first ? 'field' : 'name'] };
      }
      const start = i;
      let d: string | undefined = c;
      while (d !== undefined && SEGMENT_CHAR.test(d)) {
        i += d.length;
        d = charAt(src, i);
      }
      segments.push({ text: src.slice(start, i), quoted: false, span: { start, end: i } });
    }
    if (src[i] !== '.') return { ok: true, end: i, segments };
    i++;
  }
}

/** Does a condition start at `pos` (`(`, `~`, or a field followed by `:`)? */
export function isConditionStart(src: string, pos: number): boolean {
  const c = src[pos];
  if (c === '(' || c === '~') return true;
  const f = scanField(src, pos);
  return f.ok && src[skipWs(src, f.end)] === ':';
}

/** Can an unquoted value start at `pos`? */
export function canStartBare(src: string, pos: number): boolean {
  const c = src[pos];
  if (c === undefined || isWs(c) || STOP.has(c) || NO_START.has(c)) return false;
  return !(c === '.' && src[pos + 1] === '.');
}

/** Can a value (quoted or not) start at `pos`? */
export function canStartValue(src: string, pos: number): boolean {
  const c = src[pos];
  return c === '"' || c === "'" || canStartBare(src, pos);
}

/**
 * A value starting at `pos`: a quoted string, or unquoted text up to `,` `|` `(` `)`, a `..`,
 * or whitespace that is not followed by more of the same value. Inside unquoted text, `%` is a
 * wildcard and a backslash makes the next character literal. Whitespace between two words is
 * kept when the next word can start a value and does not look like the start of a condition.
 */
export function scanValue(src: string, pos: number): ScanResult<{ value: Value }> {
  const c0 = src[pos];
  if (c0 === '"' || c0 === "'") {
    const q = scanQuoted(src, pos);
    if (!q.ok) return q;
    return {
      ok: true,
      end: q.end,
      value: { type: 'string', value: q.text, span: { start: pos, end: q.end } },
    };
  }
  if (!canStartBare(src, pos)) return { ok: false, offset: pos, expected: ['value'] };
  const parts: string[] = [''];
  let i = pos;
  while (i < src.length) {
    const c = charAt(src, i)!;
    if (c === '\\') {
      const n = charAt(src, i + 1);
      if (n === undefined) {
        return {
          ok: false,
          offset: src.length,
          expected: ['character'],
          reason: 'a backslash must be followed by the character it makes literal',
        };
      }
      parts[parts.length - 1] += n;
      i += 1 + n.length;
    } else if (c === '%') {
      parts.push('');
      i++;
    } else if (STOP.has(c) || (c === '.' && src[i + 1] === '.')) {
      break;
    } else if (isWs(c)) {
      const j = skipWs(src, i);
      if (!canStartBare(src, j) || isConditionStart(src, j)) break;
      parts[parts.length - 1] += src.slice(i, j);
      i = j;
    } else {
      parts[parts.length - 1] += c;
      i += c.length;
    }
  }
  const span = { start: pos, end: i };
  const value: Value =
    parts.length === 1 ? { type: 'word', value: parts[0]!, span } : { type: 'pattern', parts, span };
  return { ok: true, end: i, value };
}
