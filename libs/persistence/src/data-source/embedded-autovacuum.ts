import { SharedPGlite, withSession } from './pglite-pool';

/**
 * PGlite runs PostgreSQL as one single-user backend: there is no autovacuum launcher, and the
 * table statistics are not even flushed on their own. Left alone, every UPDATE and DELETE leaves
 * its dead row versions and index entries for good, and the tables are never analysed. The
 * scheduler's executions rows change five times per run, so after a few hundred runs its "which
 * runs are live" read walked hundreds of dead index entries and 70 heap pages to return 32 rows
 * (1.9 ms; 0.45 ms once vacuumed and analysed), and an embedded install used for months would only
 * get slower.
 *
 * This does autovacuum's job for the embedded database, with autovacuum's rule: every few
 * seconds the statistics are flushed and read, and a table is vacuumed when its dead rows pass
 * `threshold + scale x live rows`, analysed when its changes since the last analysis pass
 * `threshold + analyzeScale x live rows`. Each table is done under the session lock on its own,
 * so other work goes on between them. On a PostgreSQL server none of this runs: its autovacuum does it.
 */
export interface AutovacuumOptions {
  /** How often the statistics are looked at. */
  intervalMs?: number;
  /** Autovacuum's base thresholds (autovacuum_vacuum_threshold, autovacuum_analyze_threshold). */
  threshold?: number;
  /** autovacuum_vacuum_scale_factor. */
  vacuumScale?: number;
  /** autovacuum_analyze_scale_factor. */
  analyzeScale?: number;
}

export interface AutovacuumPass {
  vacuumed: string[];
  analyzed: string[];
}

export interface EmbeddedAutovacuum {
  /** One look at the statistics, and the tables due done (tests; the timer calls it). */
  runOnce(): Promise<AutovacuumPass>;
  /** Stop the timer and wait for a pass under way. */
  stop(): Promise<void>;
  /** Passes that vacuumed or analysed something, and the tables done in all, since the start. */
  readonly totals: { passes: number; vacuumed: number; analyzed: number };
}

const DEFAULTS: Required<AutovacuumOptions> = { intervalMs: 5_000, threshold: 50, vacuumScale: 0.2, analyzeScale: 0.1 };

export function startEmbeddedAutovacuum(shared: SharedPGlite, options: AutovacuumOptions = {}): EmbeddedAutovacuum {
  const o = { ...DEFAULTS, ...options };
  const totals = { passes: 0, vacuumed: 0, analyzed: 0 };
  let running: Promise<AutovacuumPass> | null = null;
  let stopped = false;

  const pass = async (): Promise<AutovacuumPass> => {
    const due = await withSession(shared, async (session) => {
      // Counts gathered by the backend reach the statistics views at its next report, which a
      // single-user backend only makes when asked; the next statement then sees them.
      await session.query('SELECT pg_stat_force_next_flush()');
      const { rows } = await session.query(
        `SELECT name, "vacuum", "analyze" FROM (
           SELECT quote_ident(schemaname) || '.' || quote_ident(relname) AS name, n_dead_tup,
                  n_dead_tup > ${o.threshold} + ${o.vacuumScale} * n_live_tup AS "vacuum",
                  n_mod_since_analyze > ${o.threshold} + ${o.analyzeScale} * n_live_tup AS "analyze"
             FROM pg_stat_user_tables) t
          WHERE "vacuum" OR "analyze"
          ORDER BY n_dead_tup DESC`,
      );
      return rows as Array<{ name: string; vacuum: boolean; analyze: boolean }>;
    });
    const done: AutovacuumPass = { vacuumed: [], analyzed: [] };
    for (const table of due) {
      if (stopped) break;
      // One table per lock hold (VACUUM cannot run in a transaction; holding the lock means none is open).
      await withSession(shared, (session) => session.query(table.vacuum ? `VACUUM (ANALYZE) ${table.name}` : `ANALYZE ${table.name}`));
      (table.vacuum ? done.vacuumed : done.analyzed).push(table.name);
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (done.vacuumed.length || done.analyzed.length) {
      totals.passes += 1;
      totals.vacuumed += done.vacuumed.length;
      totals.analyzed += done.analyzed.length;
    }
    return done;
  };

  const runOnce = (): Promise<AutovacuumPass> => {
    running ??= pass().finally(() => (running = null));
    return running;
  };

  const timer = setInterval(() => {
    // A failed pass (the database closing under it) is tried again at the next interval.
    if (!stopped) runOnce().catch(() => undefined);
  }, o.intervalMs);
  timer.unref();

  return {
    runOnce,
    totals,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
