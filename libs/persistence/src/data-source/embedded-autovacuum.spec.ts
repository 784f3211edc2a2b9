import { AutovacuumOptions, EmbeddedAutovacuum, startEmbeddedAutovacuum } from './embedded-autovacuum';
import { EmbeddedBackend, openEmbeddedBackend } from './pglite-backend';
import { SessionLock, SharedPGlite } from './pglite-pool';
import { PGliteSession } from './pglite-session';

/** The embedded database's autovacuum: PGlite's single-user backend never vacuums or analyses on its own. */
describe('embedded autovacuum', () => {
  let backend: EmbeddedBackend;
  let shared: SharedPGlite;

  beforeAll(async () => {
    backend = await openEmbeddedBackend('memory', undefined);
    shared = { backend, lock: new SessionLock(), session: new PGliteSession(backend) };
  });
  afterAll(async () => {
    await backend.close();
  });
  beforeEach(async () => {
    await shared.session.query(
      'DROP TABLE IF EXISTS churn, quiet; CREATE TABLE churn (id int PRIMARY KEY, status text); CREATE INDEX churn_status ON churn (status); CREATE TABLE quiet (id int PRIMARY KEY)',
    );
    await shared.session.query('INSERT INTO churn SELECT g, $1 FROM generate_series(1, 300) g', ['queued']);
    await shared.session.query('INSERT INTO quiet SELECT g FROM generate_series(1, 10) g');
  });

  /** An autovacuum that only runs when the test asks (runOnce), stopped after `use` whatever happens. */
  const withAutovacuum = async (options: AutovacuumOptions, use: (autovacuum: EmbeddedAutovacuum) => Promise<void>): Promise<void> => {
    const autovacuum = startEmbeddedAutovacuum(shared, { intervalMs: 60_000, ...options });
    try {
      await use(autovacuum);
    } finally {
      await autovacuum.stop();
    }
  };

  /** Dead row versions and changes since the last analysis, as the statistics say now. */
  const stats = async (table: string): Promise<{ dead: number; modified: number; analyzed: boolean }> => {
    await shared.session.query('SELECT pg_stat_force_next_flush()');
    const { rows } = await shared.session.query(
      'SELECT n_dead_tup AS dead, n_mod_since_analyze AS modified, last_analyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relname = $1',
      [table],
    );
    return rows[0] as { dead: number; modified: number; analyzed: boolean };
  };
  /** Index entries the status index hands the heap for a read that finds no row (dead ones count until vacuumed). */
  const indexEntriesVisited = async (): Promise<number> => {
    await shared.session.query('SET enable_seqscan = off');
    const { rows } = await shared.session.query(`EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM churn WHERE status = 'running'`);
    await shared.session.query('RESET enable_seqscan');
    const plan = (rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0].Plan;
    const scans: PlanNode[] = [];
    const walk = (node: PlanNode): void => {
      if (/Index/.test(node['Node Type'])) scans.push(node);
      (node.Plans ?? []).forEach(walk);
    };
    walk(plan);
    return scans.reduce((sum, node) => sum + node['Actual Rows'], 0);
  };

  it('vacuums and analyses a table whose rows changed past the threshold, and leaves a quiet one alone', async () => {
    // Every run of the 300 goes through two statuses and back, as executions rows do.
    for (const status of ['running', 'succeeded']) await shared.session.query('UPDATE churn SET status = $1', [status]);
    await shared.session.query('UPDATE quiet SET id = id WHERE id = 1');
    expect((await stats('churn')).dead).toBe(600);
    expect(await indexEntriesVisited()).toBeGreaterThan(0); // dead 'running' versions still in the index

    await withAutovacuum({}, async (autovacuum) => {
      const pass = await autovacuum.runOnce();
      expect(pass.vacuumed).toContain('public.churn');
      expect([...pass.vacuumed, ...pass.analyzed]).not.toContain('public.quiet');
      const after = await stats('churn');
      expect(after).toMatchObject({ dead: 0, modified: 0, analyzed: true });
      expect(await indexEntriesVisited()).toBe(0);
      // Nothing changed since: nothing to do.
      expect(await autovacuum.runOnce()).toEqual({ vacuumed: [], analyzed: [] });
      expect(autovacuum.totals).toMatchObject({ passes: 1 });
    });
  });

  it('analyses a table that only grew (no dead rows to vacuum)', async () => {
    await shared.session.query('INSERT INTO churn SELECT g, $1 FROM generate_series(301, 700) g', ['queued']);
    await withAutovacuum({}, async (autovacuum) => {
      const pass = await autovacuum.runOnce();
      expect(pass.analyzed).toContain('public.churn');
      expect(pass.vacuumed).not.toContain('public.churn');
      expect((await stats('churn')).analyzed).toBe(true);
    });
  });

  it('takes the session lock table by table: statements of others between them run, none inside a VACUUM', async () => {
    await shared.session.query('UPDATE churn SET status = $1', ['running']);
    await shared.session.query('UPDATE quiet SET id = id + 100');
    await shared.session.query('UPDATE quiet SET id = id - 100');
    await withAutovacuum({ threshold: 5 }, async (autovacuum) => {
      // A transaction of another service holds the lock: the pass waits for it instead of failing
      // with "VACUUM cannot run inside a transaction block".
      const release = await shared.lock.acquire();
      await shared.session.query('BEGIN');
      const pass = autovacuum.runOnce();
      await new Promise((r) => setTimeout(r, 50));
      await shared.session.query('UPDATE churn SET status = $1 WHERE id = 1', ['stopped']);
      await shared.session.query('COMMIT');
      release();
      const done = await pass;
      expect(done.vacuumed.sort()).toEqual(['public.churn', 'public.quiet']);
    });
  });

  it('runs on its own timer until stopped', async () => {
    await shared.session.query('UPDATE churn SET status = $1', ['running']);
    const autovacuum = startEmbeddedAutovacuum(shared, { intervalMs: 50 });
    try {
      for (let i = 0; i < 100 && autovacuum.totals.vacuumed === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(autovacuum.totals.vacuumed).toBeGreaterThan(0);
    } finally {
      await autovacuum.stop();
    }
    await shared.session.query('UPDATE churn SET status = $1', ['succeeded']);
    const before = autovacuum.totals.passes;
    await new Promise((r) => setTimeout(r, 200));
    expect(autovacuum.totals.passes).toBe(before);
    expect((await stats('churn')).dead).toBe(300);
  });
});

interface PlanNode {
  'Node Type': string;
  'Actual Rows': number;
  Plans?: PlanNode[];
}
