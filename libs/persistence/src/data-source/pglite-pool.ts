import { EventEmitter } from 'node:events';
import type { PGlite } from '@electric-sql/pglite';

/**
 * PGlite is one PostgreSQL backend with one session. TypeORM expects a `pg`-style pool whose
 * clients are separate sessions, so a transaction on one client never sees another client's
 * statements. This pool hands out the single session to one client at a time (a mutex held from
 * `connect` to `release`), which is exactly a `pg` pool of size 1. The lock lives with the PGlite
 * instance, so several DataSources sharing one embedded database (one per service in `myelin up`)
 * serialise correctly too. (typeorm-pglite's pool shares the session freely, which interleaves
 * concurrent transactions; see docs/decisions/0003-embedded-postgres.md.)
 */
export class SessionLock {
  private tail: Promise<void> = Promise.resolve();

  acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => next);
    return ready;
  }
}

export interface SharedPGlite {
  db: PGlite;
  lock: SessionLock;
}

interface PgLikeResult {
  rows: unknown[];
  rowCount: number;
  command: string;
  fields: unknown[];
}

function toPgResult(r: { rows: unknown[]; affectedRows?: number; fields: unknown[] }, sql: string): PgLikeResult {
  const command = (/^\s*([A-Za-z]+)/.exec(sql)?.[1] ?? '').toUpperCase();
  return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length, command, fields: r.fields };
}

class PGliteClient extends EventEmitter {
  constructor(private readonly shared: SharedPGlite) {
    super();
  }

  async query(sql: string | { text: string; values?: unknown[] }, params?: unknown[]): Promise<PgLikeResult> {
    const text = typeof sql === 'string' ? sql : sql.text;
    const values = typeof sql === 'string' ? params : (sql.values ?? params);
    if (values && values.length) return toPgResult(await this.shared.db.query(text, values), text);
    // Without parameters a string may hold several statements (migrations): exec runs them all.
    const results = await this.shared.db.exec(text);
    const last = results[results.length - 1] ?? { rows: [], affectedRows: 0, fields: [] };
    return toPgResult(last, text);
  }
}

export function pglitePoolClass(shared: SharedPGlite): new () => EventEmitter {
  return class PGlitePool extends EventEmitter {
    connect(callback: (err: Error | null, client: PGliteClient | null, release: () => void) => void): void {
      shared.lock.acquire().then(
        (release) => callback(null, new PGliteClient(shared), release),
        (error: Error) => callback(error, null, () => undefined),
      );
    }

    query(sql: string, params?: unknown[]): Promise<PgLikeResult> {
      return shared.lock.acquire().then(async (release) => {
        try {
          return await new PGliteClient(shared).query(sql, params);
        } finally {
          release();
        }
      });
    }

    end(callback?: (err?: Error) => void): void {
      // The instance is shared and reference-counted by the registry; closing a DataSource does not close it.
      callback?.();
    }
  };
}
