import { types } from 'pg';
import { DatabaseError, serialize } from 'pg-protocol';
import type {
  BackendMessage,
  CommandCompleteMessage,
  DataRowMessage,
  ReadyForQueryMessage,
  RowDescriptionMessage,
} from 'pg-protocol/dist/messages';
import { Parser } from 'pg-protocol/dist/parser';
import type { EmbeddedBackend } from './pglite-backend';
// pg's own conversion of a JavaScript value to a query parameter (arrays, dates, JSON, buffers).
const { prepareValue } = require('pg/lib/utils') as {
  prepareValue: (value: unknown) => string | Buffer | null;
};

export interface PgLikeResult {
  rows: Record<string, unknown>[];
  rowCount: number | null;
  command: string;
  fields: RowDescriptionMessage['fields'];
}

/** How many statements a session keeps prepared (each holds a parse tree and plans in PGlite's heap). */
export const PREPARED_STATEMENTS_KEPT = 256;
/** PostgreSQL's answer when a prepared statement's result columns changed under it (DDL since prepare). */
const CACHED_PLAN_CHANGED = '0A000';
let sessionsCreated = 0;

/**
 * One PGlite backend driven the way `pg` drives a server: each statement goes in one protocol
 * round (Parse, Bind, Describe, Execute, Sync in one message) instead of PGlite's `query`, which
 * enters the backend six times and describes the statement to learn parameter types. Statements
 * that carry parameters are prepared once under a name and then only bound and executed, so
 * PostgreSQL parses and analyses each distinct SQL text once per session (and plans it once when a
 * generic plan is as good), and its result columns are described once. Measured on PGlite 0.5: a
 * 16-column primary-key SELECT 520 -> 48 us, a one-row UPDATE 390 -> 60 us (decision 0003).
 *
 * Parameters are converted with pg's `prepareValue` and results parsed with pg's type parsers, so
 * the embedded database answers exactly as the PostgreSQL server does through `pg` (int8 as a
 * number, as `parseInt8` makes it there; numeric as a string; timestamps as Dates; arrays and
 * JSON parsed), one behaviour for both modes.
 *
 * Callers serialise access (the pool's session lock): a prepared statement belongs to the one
 * session every DataSource of the process shares.
 */
export class PGliteSession {
  /** SQL text -> its prepared statement, least recently used first. */
  private readonly prepared = new Map<string, Prepared>();
  private nextName = 0;
  /** Statement names are unique to this session object, should two ever share a backend. */
  readonly statementPrefix = `myelin_${++sessionsCreated}_`;

  constructor(
    private readonly backend: Pick<EmbeddedBackend, 'exchange'>,
    private readonly keep = PREPARED_STATEMENTS_KEPT,
  ) {}

  /** How many statements are prepared now (tests). */
  get preparedCount(): number {
    return this.prepared.size;
  }

  async query(text: string, values?: readonly unknown[]): Promise<PgLikeResult> {
    // Without parameters a string may hold several statements (migrations): the simple protocol
    // runs them all and the last one's result is the answer, as with pg.
    if (!values || values.length === 0) return this.answer(await this.run([serialize.query(text)]));
    const params = values.map((value) => prepareValue(value));
    const known = this.prepared.get(text);
    if (known !== undefined) {
      this.prepared.delete(text);
      this.prepared.set(text, known); // most recently used last
      // Its columns are known since it was prepared: bound and executed, not described again.
      const answer = await this.run(
        [serialize.bind({ statement: known.name, values: params }), EXECUTE, SYNC],
        known.columns,
      );
      if (answer.error?.code === CACHED_PLAN_CHANGED) {
        await this.forget(text);
        // Outside a transaction nothing was applied: prepare it afresh. Inside one, the
        // transaction is already aborted; the caller sees the error and rolls back.
        if (answer.status === 'I') return this.query(text, values);
      }
      return this.answer(answer);
    }
    const name = `${this.statementPrefix}${++this.nextName}`;
    const messages: Buffer[] = [];
    if (this.prepared.size >= this.keep) {
      const [oldestText, oldest] = this.prepared.entries().next().value as [string, Prepared];
      this.prepared.delete(oldestText);
      messages.push(serialize.close({ type: 'S', name: oldest.name }));
    }
    // Described as a statement (its result columns, kept with it), then bound and executed.
    messages.push(
      serialize.parse({ name, text, types: [] }),
      serialize.describe({ type: 'S', name }),
      serialize.bind({ statement: name, values: params }),
      EXECUTE,
      SYNC,
    );
    const answer = await this.run(messages);
    if (answer.parsed && answer.described !== undefined) this.prepared.set(text, { name, columns: answer.described });
    return this.answer(answer);
  }

  private async forget(text: string): Promise<void> {
    const statement = this.prepared.get(text);
    if (statement === undefined) return;
    this.prepared.delete(text);
    await this.run([serialize.close({ type: 'S', name: statement.name }), SYNC]);
  }

  private answer(answer: Exchange): PgLikeResult {
    if (answer.error) throw answer.error;
    return answer.result;
  }

  /**
   * One protocol round trip into the backend; answers with the last statement's result. `columns`:
   * the result columns of a prepared statement executed without a description in this round.
   */
  private async run(messages: Buffer[], columns: Columns | null = null): Promise<Exchange> {
    const bytes = await this.backend.exchange(messages.length === 1 ? messages[0] : Buffer.concat(messages));
    const exchange: Exchange = { result: emptyResult(), parsed: false, status: 'I' };
    let current = emptyResult();
    if (columns) current.fields = columns.fields;
    new Parser().parse(bytes, (message: BackendMessage) => {
      switch (message.name) {
        case 'parseComplete':
          exchange.parsed = true;
          break;
        case 'rowDescription':
          columns = columnsOf((message as RowDescriptionMessage).fields);
          current.fields = columns.fields;
          exchange.described = columns;
          break;
        case 'noData':
          columns = null;
          exchange.described = null;
          break;
        case 'dataRow': {
          const raw = (message as DataRowMessage).fields;
          const { names, parsers } = columns!;
          const row: Record<string, unknown> = {};
          for (let i = 0; i < raw.length; i++) row[names[i]] = raw[i] === null ? null : parsers[i](raw[i]);
          current.rows.push(row);
          break;
        }
        case 'commandComplete': {
          // "INSERT 0 3", "UPDATE 2", "SELECT 5", "BEGIN": the verb, and the count when there is one.
          const match = /^([A-Za-z]+)(?: (\d+))?(?: (\d+))?/.exec((message as CommandCompleteMessage).text);
          current.command = match?.[1] ?? '';
          current.rowCount = match?.[3] ? Number(match[3]) : match?.[2] ? Number(match[2]) : null;
          exchange.result = current;
          current = emptyResult();
          break;
        }
        case 'error':
          // The first error is the one PostgreSQL reports; the rest of the round is skipped to Sync.
          exchange.error ??= message as DatabaseError;
          break;
        case 'readyForQuery':
          exchange.status = (message as ReadyForQueryMessage).status as Exchange['status'];
          break;
        default:
          // bindComplete, parameterDescription, emptyQuery, notices, parameter status: nothing a caller reads.
          break;
      }
    });
    return exchange;
  }
}

const EXECUTE = serialize.execute({});
const SYNC = serialize.sync();

/** A statement prepared in the session, with its result columns (null: it returns no rows). */
interface Prepared {
  name: string;
  columns: Columns | null;
}

interface Columns {
  fields: RowDescriptionMessage['fields'];
  names: string[];
  parsers: ((raw: string) => unknown)[];
}

function columnsOf(fields: RowDescriptionMessage['fields']): Columns {
  // Rows come in text format (Bind asks for no binary column), whatever a statement description says.
  return {
    fields,
    names: fields.map((field) => field.name),
    parsers: fields.map((field) => typeParser(field.dataTypeID)),
  };
}

/**
 * pg's text parser for a column type, with int8 read as a number: every DataSource is opened with
 * TypeORM's `parseInt8: true`, which sets exactly this in pg for the server (it cannot reach here).
 */
function typeParser(oid: number): (raw: string) => unknown {
  const parsed = oid === INT8 ? INT4 : oid === INT8_ARRAY ? INT4_ARRAY : oid;
  return types.getTypeParser(parsed, 'text') as (raw: string) => unknown;
}
const [INT8, INT4, INT8_ARRAY, INT4_ARRAY] = [20, 23, 1016, 1007];

function emptyResult(): PgLikeResult {
  return { rows: [], rowCount: null, command: '', fields: [] };
}

interface Exchange {
  result: PgLikeResult;
  /** Parse succeeded in this round (the named statement now exists in the session). */
  parsed: boolean;
  /** The result columns described in this round (null: no rows); absent when none was described. */
  described?: Columns | null;
  error?: DatabaseError;
  /** Transaction status after the round: idle, in a transaction, or in a failed transaction. */
  status: 'I' | 'T' | 'E';
}
