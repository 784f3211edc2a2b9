import { EventEmitter } from 'node:events';
import type { EmbeddedBackend } from './pglite-backend';
import { PGliteSession, PgLikeResult } from './pglite-session';

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
  backend: EmbeddedBackend;
  lock: SessionLock;
  /** The one session every DataSource of the process shares, with its prepared statements. */
  session: PGliteSession;
}

class PGliteClient extends EventEmitter {
  constructor(private readonly shared: SharedPGlite) {
    super();
  }

  async query(sql: string | { text: string; values?: unknown[] }, params?: unknown[]): Promise<PgLikeResult> {
    const text = typeof sql === 'string' ? sql : sql.text;
    const values = typeof sql === 'string' ? params : (sql.values ?? params);
    return this.shared.session.query(text, values);
  }
}

/** Statements on the shared session with the lock held for `work` alone (no transaction is open then). */
export async function withSession<T>(shared: SharedPGlite, work: (session: PGliteSession) => Promise<T>): Promise<T> {
  const release = await shared.lock.acquire();
  try {
    return await work(shared.session);
  } finally {
    release();
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
      return withSession(shared, (session) => session.query(sql, params));
    }

    end(callback?: (err?: Error) => void): void {
      // The instance is shared and reference-counted by the registry; closing a DataSource does not close it.
      callback?.();
    }
  };
}
