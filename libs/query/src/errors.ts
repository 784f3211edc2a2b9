/**
 * One error type for everything a caller can get wrong in `query` or `sort`: syntax, unknown
 * fields, values of the wrong type, operators a field does not support. Every error built from a
 * parsed tree carries the offset where it went wrong, so an API can answer 400 with a caret.
 */
export type QueryErrorCode =
  /** The text does not follow the grammar. */
  | 'syntax'
  /** The field is not one the resolver knows. */
  | 'unknown-field'
  /** A value cannot be read as the field's type (a number, a timestamp, an allowed status...). */
  | 'invalid-value'
  /** The operator does not apply to the field's type (`name:<3`, `tags:1 .. 2`). */
  | 'invalid-operator'
  /** The field cannot be sorted on, or is sorted on twice. */
  | 'invalid-sort';

/** Which request parameter the error is about, when known. */
export type QueryInput = 'query' | 'sort';

/** Token classes used in `expected`; any other entry is literal punctuation such as `,`. */
export const TOKEN_FIELD = 'field';
export const TOKEN_VALUE = 'value';
export const TOKEN_END = 'end of query';
const TOKEN_CLASSES = new Set([TOKEN_FIELD, TOKEN_VALUE, TOKEN_END, 'character', 'name']);

export interface QueryErrorOptions {
  offset?: number;
  /** Length of the offending text in UTF-16 units (underlined in the display); 1 by default. */
  length?: number;
  expected?: readonly string[];
  /** What was found at `offset`: a character, or `end of query`. */
  found?: string;
  source?: string;
  input?: QueryInput;
}

/** The JSON an API returns for a bad query. */
export interface QueryErrorBody {
  code: QueryErrorCode;
  message: string;
  input?: QueryInput;
  /** UTF-16 offset into the text (JavaScript string index). */
  offset?: number;
  /** 1-based column in code points on the offending line. */
  column?: number;
  length?: number;
  expected: string[];
  found?: string;
  /** The offending line and a caret under the position. */
  display?: string;
}

export class QueryError extends Error {
  override readonly name = 'QueryError';
  readonly code: QueryErrorCode;
  readonly offset?: number;
  readonly length: number;
  readonly expected: string[];
  readonly found?: string;
  /** The reason alone, without position (the full text is in `message`). */
  readonly reason: string;
  source?: string;
  input?: QueryInput;

  constructor(code: QueryErrorCode, reason: string, options: QueryErrorOptions = {}) {
    super(QueryError.compose(reason, options));
    this.code = code;
    this.reason = reason;
    this.offset = options.offset;
    this.length = Math.max(1, options.length ?? 1);
    this.expected = [...(options.expected ?? [])];
    this.found = options.found;
    this.source = options.source;
    this.input = options.input;
  }

  private static compose(reason: string, options: QueryErrorOptions): string {
    const where = options.offset === undefined ? '' : ` at offset ${options.offset}`;
    return `${options.input ? `invalid ${options.input}` : 'invalid query'}${where}: ${reason}`;
  }

  /** The same error, told which text (and which parameter) it is about, for a caret display. */
  withSource(source: string, input?: QueryInput): QueryError {
    const e = new QueryError(this.code, this.reason, {
      offset: this.offset,
      length: this.length,
      expected: this.expected,
      found: this.found,
      source,
      input: input ?? this.input,
    });
    return e;
  }

  /** 1-based code-point column of `offset` on its line. */
  get column(): number | undefined {
    if (this.offset === undefined || this.source === undefined) return undefined;
    const lineStart = this.source.lastIndexOf('\n', this.offset - 1) + 1;
    return [...this.source.slice(lineStart, this.offset)].length + 1;
  }

  /** The offending line (clipped around the position when long) with `^` under the error. */
  get display(): string | undefined {
    if (this.offset === undefined || this.source === undefined) return undefined;
    return caretDisplay(this.source, this.offset, this.length);
  }

  toJSON(): QueryErrorBody {
    return {
      code: this.code,
      message: this.message,
      input: this.input,
      offset: this.offset,
      column: this.column,
      length: this.offset === undefined ? undefined : this.length,
      expected: this.expected,
      found: this.found,
      display: this.display,
    };
  }
}

/** `a, b or c`, punctuation in backquotes, classes (`field`, `value`...) as words. */
export function describeExpected(expected: readonly string[]): string {
  const items = [...new Set(expected)].map((t) => (TOKEN_CLASSES.has(t) ? t : `\`${t}\``));
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** How the character at `offset` is shown in messages. */
export function describeFound(source: string, offset: number): string {
  if (offset >= source.length) return TOKEN_END;
  const cp = source.codePointAt(offset)!;
  const ch = String.fromCodePoint(cp);
  return /\s/u.test(ch) && ch !== ' ' ? JSON.stringify(ch) : `\`${ch}\``;
}

const WINDOW = 72;

/**
 * The line holding `offset`, control characters shown as spaces, and a caret line. Columns are
 * counted in code points, which lines up for most text (wide CJK glyphs excepted).
 */
export function caretDisplay(source: string, offset: number, length = 1): string {
  const lineStart = source.lastIndexOf('\n', offset - 1) + 1;
  const nl = source.indexOf('\n', offset);
  const lineEnd = nl === -1 ? source.length : nl;
  let chars = [...source.slice(lineStart, lineEnd)].map((c) => (/[\p{Cc}\p{Zl}\p{Zp}]/u.test(c) ? ' ' : c));
  let col = [...source.slice(lineStart, offset)].length;
  const width = Math.max(
    1,
    Math.min([...source.slice(offset, Math.min(offset + length, lineEnd))].length, WINDOW),
  );
  let prefix = '';
  if (chars.length > WINDOW && col > WINDOW / 2) {
    const cut = Math.min(col - Math.floor(WINDOW / 2), chars.length - WINDOW + 1);
    if (cut > 0) {
      chars = chars.slice(cut);
      col -= cut;
      prefix = '…';
    }
  }
  const suffix = chars.length > WINDOW ? '…' : '';
  chars = chars.slice(0, WINDOW);
  return `${prefix}${chars.join('')}${suffix}\n${' '.repeat(col + prefix.length)}${'^'.repeat(width)}`;
}
