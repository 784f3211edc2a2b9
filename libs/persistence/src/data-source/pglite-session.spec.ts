import { EmbeddedBackend, openEmbeddedBackend } from './pglite-backend';
import { PGliteSession } from './pglite-session';

describe('PGliteSession (the embedded database driven like pg drives a server)', () => {
  let backend: EmbeddedBackend;
  let session: PGliteSession;

  beforeAll(async () => {
    backend = await openEmbeddedBackend('memory', undefined);
  });
  afterAll(async () => {
    await backend.close();
  });
  beforeEach(async () => {
    session = new PGliteSession(backend, 4);
    await session.query(
      'DROP TABLE IF EXISTS t; CREATE TABLE t (id bigserial PRIMARY KEY, name text UNIQUE, n int, big bigint, at timestamptz, doc jsonb, tags text[], ids uuid[], ok boolean, raw bytea, price numeric)',
    );
  });

  it('answers with the types pg gives for the same row (int8 as a number as with parseInt8, numeric as a string, Dates, JSON, arrays, bytes)', async () => {
    const at = new Date('2026-11-28T01:02:03.456Z');
    const ids = ['7d8f8a2e-6a3b-4d3c-9a55-3a4f2b1c0d9e', '0b7c5a7e-1f1e-4c3b-8d2a-9e8f7a6b5c4d'];
    const inserted = await session.query(
      'INSERT INTO t (name, n, big, at, doc, tags, ids, ok, raw, price) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *',
      [
        'a',
        7,
        '9007199254740991',
        at,
        { lr: 0.1, layers: [1, 2], note: 'it\'s "quoted"' },
        ['x', 'y,z', 'w"v'],
        ids,
        true,
        Buffer.from([0, 1, 255]),
        '12.50',
      ],
    );
    expect(inserted.command).toBe('INSERT');
    expect(inserted.rowCount).toBe(1);
    expect(inserted.fields.map((field) => field.name)).toEqual([
      'id',
      'name',
      'n',
      'big',
      'at',
      'doc',
      'tags',
      'ids',
      'ok',
      'raw',
      'price',
    ]);
    expect(inserted.rows).toEqual([
      {
        id: 1,
        name: 'a',
        n: 7,
        big: 9007199254740991,
        at,
        doc: { lr: 0.1, layers: [1, 2], note: 'it\'s "quoted"' },
        tags: ['x', 'y,z', 'w"v'],
        ids,
        ok: true,
        raw: Buffer.from([0, 1, 255]),
        price: '12.50',
      },
    ]);
    const empty = await session.query('SELECT * FROM t WHERE name = $1', ['none']);
    expect(empty).toMatchObject({ command: 'SELECT', rowCount: 0, rows: [] });
    expect(
      (
        await session.query('SELECT n, doc FROM t WHERE name = $1 AND at IS NOT NULL AND doc IS NOT NULL', [
          'a',
        ])
      ).rows,
    ).toEqual([{ n: 7, doc: expect.objectContaining({ lr: 0.1 }) }]);
    expect((await session.query('SELECT NULL::int AS nothing, $1::text AS echoed', [null])).rows).toEqual([
      { nothing: null, echoed: null },
    ]);
  });

  it('counts what UPDATE and DELETE touched, and answers a parameterless multi-statement string with its last result', async () => {
    for (const name of ['a', 'b', 'c'])
      await session.query('INSERT INTO t (name, n) VALUES ($1, $2)', [name, 1]);
    expect(await session.query('UPDATE t SET n = n + $1 WHERE n = $2', [1, 1])).toMatchObject({
      command: 'UPDATE',
      rowCount: 3,
    });
    expect(
      await session.query('DELETE FROM t WHERE name = ANY($1::text[]) RETURNING name', [['a', 'b']]),
    ).toMatchObject({ command: 'DELETE', rowCount: 2, rows: [{ name: 'a' }, { name: 'b' }] });
    expect(await session.query('SELECT 1 AS one; UPDATE t SET n = 5; SELECT name, n FROM t')).toMatchObject({
      command: 'SELECT',
      rows: [{ name: 'c', n: 5 }],
    });
    expect(await session.query('BEGIN')).toMatchObject({ command: 'BEGIN', rowCount: null });
    expect(await session.query('COMMIT')).toMatchObject({ command: 'COMMIT' });
  });

  it('prepares each SQL text once, reuses it, and keeps at most the configured number (least recently used go first)', async () => {
    const count = async (): Promise<number> =>
      Number(
        (
          (
            await session.query('SELECT count(*) AS n FROM pg_prepared_statements WHERE name LIKE $1', [
              `${session.statementPrefix}%`,
            ])
          ).rows[0] as { n: string }
        ).n,
      );
    await session.query('INSERT INTO t (name, n) VALUES ($1, $2)', ['a', 1]);
    await session.query('INSERT INTO t (name, n) VALUES ($1, $2)', ['b', 2]);
    expect(session.preparedCount).toBe(1);
    expect(await count()).toBe(2); // the INSERT, and the counting SELECT itself
    for (let i = 0; i < 3; i++) await session.query(`SELECT n FROM t WHERE name = $1 AND ${i} = ${i}`, ['a']);
    // Four kept (the limit): the INSERT, used least recently, was closed in the session too.
    expect(session.preparedCount).toBe(4);
    expect(await count()).toBe(4);
    expect(
      (
        await session.query(
          'SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE $1 AND statement LIKE $2',
          [`${session.statementPrefix}%`, 'INSERT INTO t%'],
        )
      ).rows,
    ).toEqual([{ n: 0 }]);
    // Still answers correctly after eviction: it is prepared again.
    expect((await session.query('INSERT INTO t (name, n) VALUES ($1, $2) ', ['c', 3])).rowCount).toBe(1);
  });

  it('throws PostgreSQL errors with their code and details, keeps the session usable, and rolls back a failed transaction', async () => {
    await session.query('INSERT INTO t (name, n) VALUES ($1, $2)', ['a', 1]);
    await expect(session.query('INSERT INTO t (name, n) VALUES ($1, $2)', ['a', 2])).rejects.toMatchObject({
      code: '23505',
      constraint: 't_name_key',
    });
    await expect(session.query('SELECT nope FROM t WHERE name = $1', ['a'])).rejects.toMatchObject({
      code: '42703',
    });
    // A statement whose Parse failed is not remembered as prepared.
    expect(session.preparedCount).toBe(1);
    await expect(session.query('SELECT * FROM t WHERE id = $1', ['not-a-number'])).rejects.toMatchObject({
      code: '22P02',
    });
    await expect(session.query('SELEC 1')).rejects.toMatchObject({ code: '42601' });

    await session.query('START TRANSACTION');
    await session.query('INSERT INTO t (name, n) VALUES ($1, $2)', ['b', 1]);
    await expect(session.query('INSERT INTO t (name, n) VALUES ($1, $2)', ['a', 1])).rejects.toMatchObject({
      code: '23505',
    });
    await expect(session.query('SELECT n FROM t WHERE name = $1', ['b'])).rejects.toMatchObject({
      code: '25P02',
    });
    await session.query('ROLLBACK');
    expect((await session.query('SELECT name FROM t WHERE n >= $1 ORDER BY name', [0])).rows).toEqual([
      { name: 'a' },
    ]);
  });

  it('prepares a statement again when a table changed under it, outside a transaction', async () => {
    await session.query('INSERT INTO t (name, n) VALUES ($1, $2)', ['a', 1]);
    expect((await session.query('SELECT * FROM t WHERE name = $1', ['a'])).rows[0]).not.toHaveProperty(
      'extra',
    );
    await session.query("ALTER TABLE t ADD COLUMN extra text NOT NULL DEFAULT 'x'");
    expect((await session.query('SELECT * FROM t WHERE name = $1', ['a'])).rows[0]).toMatchObject({
      name: 'a',
      extra: 'x',
    });
  });
});
