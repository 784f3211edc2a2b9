/**
 * Reading literals once the field's type is known: numbers, timestamps (as intervals), booleans.
 */

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A decimal number (`3`, `-0.5`, `.5`, `1e-3`), or undefined. No hex, no `Infinity`, no blanks. */
export function readNumber(text: string): number | undefined {
  if (!NUMBER.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

export function readBoolean(text: string): boolean | undefined {
  const t = text.toLowerCase();
  return t === 'true' ? true : t === 'false' ? false : undefined;
}

/**
 * A timestamp literal denotes the interval of its precision, `[start, end)`:
 * `2026-01` is the month, `2026-01-31` the day, `2026-01-31 10:00` the minute, `…10:00:05` the
 * second, `…10:00:05.25` the hundredth of a second. A time may carry `Z` or an offset `±HH:MM`
 * (`±HHMM`); without one it is UTC. `T` or a space separates date and time.
 * Bounds are ISO-8601 strings in UTC (`infinity` past year 9999).
 */
export interface TimeInterval {
  start: string;
  end: string;
}

const TIMESTAMP =
  /^(\d{4})-(\d{2})(?:-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?)?)?$/;

export function readTimestamp(text: string): TimeInterval | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, , sign, oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = d === undefined ? 1 : Number(d);
  const hour = h === undefined ? 0 : Number(h);
  const minute = mi === undefined ? 0 : Number(mi);
  const second = s === undefined ? 0 : Number(s);
  const ms = frac === undefined ? 0 : Number(frac.padEnd(3, '0'));
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (sign !== undefined) {
    if (Number(oh) > 23 || Number(om) > 59) return undefined;
    offsetMinutes = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
  }
  const start = utc(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000;
  let end: number;
  if (d === undefined) end = utc(year, month, 1, 0, 0, 0, 0);
  else if (h === undefined) end = start + 86_400_000;
  else if (s === undefined) end = start + 60_000;
  else if (frac === undefined) end = start + 1_000;
  else end = start + 10 ** (3 - frac.length);
  return { start: iso(start), end: iso(end) };
}

function utc(year: number, month: number, day: number, h: number, mi: number, s: number, ms: number): number {
  const date = new Date(Date.UTC(2000, 0, 1, h, mi, s, ms));
  date.setUTCFullYear(year, month, day); // Date.UTC maps years 0-99 to 1900-1999
  return date.getTime();
}

function daysInMonth(year: number, month: number): number {
  return new Date(utc(year, month, 0, 0, 0, 0, 0)).getUTCDate();
}

function iso(ms: number): string {
  const date = new Date(ms);
  return date.getUTCFullYear() > 9999 ? 'infinity' : date.toISOString();
}
