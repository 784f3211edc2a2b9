/**
 * Standard 5-field cron (minute hour day-of-month month day-of-week), evaluated in UTC.
 * Items: `*`, `n`, `a-b`, with an optional `/step` (`n/step` means `n-max/step`), comma lists, month
 * and weekday names (`jan`, `mon`), 7 as Sunday, and the macros @yearly @annually @monthly @weekly
 * @daily @midnight @hourly. As in Vixie cron, when both day fields are restricted (neither starts
 * with `*`) a day matches either; otherwise both must match.
 */
import type { Millis } from './types';

export interface CronExpression {
  readonly source: string;
  readonly minutes: readonly boolean[];
  readonly hours: readonly boolean[];
  /** Index 1..31. */
  readonly days: readonly boolean[];
  /** Index 1..12. */
  readonly months: readonly boolean[];
  /** Index 0..6, Sunday = 0. */
  readonly weekdays: readonly boolean[];
  readonly dayOfMonthRestricted: boolean;
  readonly dayOfWeekRestricted: boolean;
}

export class CronError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CronError';
  }
}

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  /** Value of names[0]. */
  namesFrom?: number;
}
const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
    namesFrom: 1,
  },
  {
    name: 'day of week',
    min: 0,
    max: 7,
    names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
    namesFrom: 0,
  },
];

function value(f: FieldSpec, raw: string): number {
  const lower = raw.toLowerCase();
  const idx = f.names ? f.names.indexOf(lower) : -1;
  const n = idx >= 0 ? idx + f.namesFrom! : /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (Number.isNaN(n)) throw new CronError(`invalid ${f.name} \`${raw}\``);
  if (n < f.min || n > f.max) throw new CronError(`${f.name} \`${raw}\` is out of range ${f.min}-${f.max}`);
  return n;
}

function parseField(f: FieldSpec, text: string): boolean[] {
  const set = new Array<boolean>(f.max + 1).fill(false);
  for (const item of text.split(',')) {
    const m = /^(\*|[A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?(?:\/(\d+))?$/.exec(item);
    if (!m || (m[1] === '*' && m[2] !== undefined))
      throw new CronError(`invalid ${f.name} field \`${text}\``);
    const step = m[3] !== undefined ? Number(m[3]) : 1;
    if (step < 1) throw new CronError(`invalid step in ${f.name} field \`${text}\``);
    let lo: number;
    let hi: number;
    if (m[1] === '*') {
      lo = f.min;
      hi = f.max;
    } else {
      lo = value(f, m[1]);
      hi = m[2] !== undefined ? value(f, m[2]) : m[3] !== undefined ? f.max : lo;
      if (hi < lo) throw new CronError(`${f.name} range \`${m[1]}-${m[2]}\` runs backwards`);
    }
    for (let v = lo; v <= hi; v += step) set[v] = true;
  }
  return set;
}

export function parseCron(expr: string): CronExpression {
  const source = expr.trim();
  const text = MACROS[source.toLowerCase()] ?? source;
  if (text.startsWith('@'))
    throw new CronError(`unknown macro \`${source}\`; expected one of ${Object.keys(MACROS).join(', ')}`);
  const parts = text.split(/\s+/);
  if (parts.length !== 5)
    throw new CronError(
      `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`,
    );
  const [minutes, hours, days, months, dow] = parts.map((p, i) => parseField(FIELDS[i], p));
  if (dow[7]) dow[0] = true;
  return {
    source,
    minutes,
    hours,
    days,
    months,
    weekdays: dow.slice(0, 7),
    dayOfMonthRestricted: !parts[2].startsWith('*'),
    dayOfWeekRestricted: !parts[4].startsWith('*'),
  };
}

/** The error message of an invalid expression, or undefined. */
export function cronError(expr: string): string | undefined {
  try {
    parseCron(expr);
    return undefined;
  } catch (e) {
    if (e instanceof CronError) return e.message;
    throw e;
  }
}

function dayMatches(c: CronExpression, d: Date): boolean {
  const dom = c.days[d.getUTCDate()];
  const dow = c.weekdays[d.getUTCDay()];
  return c.dayOfMonthRestricted && c.dayOfWeekRestricted ? dom || dow : dom && dow;
}

const MINUTE = 60_000;
/** Long enough for any satisfiable expression (Feb 29 on a given weekday repeats within 28 years, bar century years). */
const HORIZON_YEARS = 40;

/** The first time matching `cron` strictly after `after` (UTC, whole minutes); undefined if none within 40 years (e.g. `0 0 30 2 *`). */
export function nextCronTime(cron: CronExpression | string, after: Millis): Millis | undefined {
  const c = typeof cron === 'string' ? parseCron(cron) : cron;
  let t = Math.floor(after / MINUTE) * MINUTE + MINUTE;
  const endYear = new Date(t).getUTCFullYear() + HORIZON_YEARS;
  for (;;) {
    const d = new Date(t);
    const y = d.getUTCFullYear();
    if (y > endYear) return undefined;
    const mo = d.getUTCMonth();
    if (!c.months[mo + 1]) {
      t = Date.UTC(y, mo + 1, 1);
      continue;
    }
    if (!dayMatches(c, d)) {
      t = Date.UTC(y, mo, d.getUTCDate() + 1);
      continue;
    }
    const h = d.getUTCHours();
    if (!c.hours[h]) {
      t = Date.UTC(y, mo, d.getUTCDate(), h + 1);
      continue;
    }
    let mi = d.getUTCMinutes();
    while (mi < 60 && !c.minutes[mi]) mi++;
    if (mi === 60) {
      t = Date.UTC(y, mo, d.getUTCDate(), h + 1);
      continue;
    }
    return Date.UTC(y, mo, d.getUTCDate(), h, mi);
  }
}
