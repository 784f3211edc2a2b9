/**
 * Runs compiled queries against real PostgreSQL (the local server, and the embedded PGlite the
 * platform uses in single-process mode): the SQL is valid, the rows are right, NULLs behave.
 * The engine itself never imports a driver; only this test does, hence the lint exceptions.
 */
// eslint-disable-next-line @nx/enforce-module-boundaries -- test only: PGlite is the embedded backend under test
import { PGlite } from '@electric-sql/pglite';
// eslint-disable-next-line @nx/enforce-module-boundaries -- test only: each suite gets its own database
import { createTestDatabase } from '@myelin/testing';
import fc from 'fast-check';
// eslint-disable-next-line @nx/enforce-module-boundaries -- test only: the PostgreSQL server under test
import { Client } from 'pg';
import type { FieldRef, Predicate, QueryNode, Value } from './ast';
import { compileListing, compileQuery } from './compiler';
import { parseQuery } from './parser';
import { printQuery } from './printer';
import { createFieldResolver } from './resolver';
import { queryArb } from './test-arbitraries';
import { runsSchema } from './test-schema';

interface Db {
  query(sql: string, params: unknown[]): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

const server: [string, () => Promise<Db>] = [
  'PostgreSQL server',
  async () => {
    const database = await createTestDatabase('myelin_query');
    const client = new Client({ connectionString: database.url });
    await client.connect();
    return {
      query: async (sql, params) => (await client.query(sql, params)).rows as Array<Record<string, unknown>>,
      close: async () => {
        await client.query('DROP SCHEMA IF EXISTS "q" CASCADE');
        await client.end();
        await database.drop();
      },
    };
  },
];

const embedded: [string, () => Promise<Db>] = [
  'embedded PGlite',
  async () => {
    const db = await PGlite.create();
    return {
      query: async (sql, params) => (await db.query<Record<string, unknown>>(sql, params)).rows,
      close: () => db.close(),
    };
  },
];

/**
 * PGlite loads its WASM through a dynamic import(), which jest's CommonJS runtime allows only under
 * --experimental-vm-modules: `npm test` (tools/scripts/test.sh) sets it and runs both backends; a
 * plain `npx jest libs/query` runs the server alone rather than crash the worker.
 */
const vmModules = `${process.env['NODE_OPTIONS'] ?? ''} ${process.execArgv.join(' ')}`.includes(
  '--experimental-vm-modules',
);
const backends = vmModules ? [server, embedded] : [server];

const SCHEMA = [
  `CREATE SCHEMA "q"`,
  `CREATE TABLE "q"."runs" (
     "uuid" UUID PRIMARY KEY,
     "number" INTEGER NOT NULL,
     "kind" TEXT NOT NULL,
     "name" TEXT,
     "status" TEXT NOT NULL,
     "created_at" TIMESTAMPTZ NOT NULL,
     "started_at" TIMESTAMPTZ,
     "finished_at" TIMESTAMPTZ,
     "bookmarked" BOOLEAN NOT NULL DEFAULT FALSE,
     "tags" JSONB NOT NULL DEFAULT '[]'::jsonb,
     "params" JSONB NOT NULL DEFAULT '{}'::jsonb
   )`,
  `CREATE TABLE "q"."metric_summaries" (
     "run_uuid" UUID NOT NULL REFERENCES "q"."runs"("uuid"),
     "name" TEXT NOT NULL,
     "last" DOUBLE PRECISION,
     "min" DOUBLE PRECISION,
     "max" DOUBLE PRECISION,
     PRIMARY KEY ("run_uuid", "name")
   )`,
];

interface Run {
  name: string | null;
  status: string;
  created: string;
  started?: string;
  bookmarked?: boolean;
  tags: string[];
  params: Record<string, unknown>;
  metrics: Record<string, [number, number, number]>;
}

/** Runs 1..6. */
const RUNS: Run[] = [
  {
    name: 'resnet-50 baseline',
    status: 'succeeded',
    created: '2026-01-05T10:00:00Z',
    started: '2026-01-05T10:01:00Z',
    tags: ['baseline', 'resnet'],
    params: { lr: 0.01, opt: 'adam', layers: 50, pretrained: true },
    metrics: { loss: [0.25, 0.2, 0.9], acc: [0.91, 0.5, 0.92] },
  },
  {
    name: 'resnet_101',
    status: 'failed',
    created: '2026-01-20T00:00:00Z',
    started: '2026-02-03T00:00:00Z',
    tags: ['resnet'],
    params: { lr: 0.1, opt: 'sgd', layers: 101 },
    metrics: { loss: [0.5, 0.3, 1.2] },
  },
  {
    name: 'vit-small',
    status: 'running',
    created: '2026-02-01T23:59:59Z',
    tags: [],
    params: { lr: '0.001', opt: 'adamw' },
    metrics: { loss: [0.35, 0.35, 0.35] },
  },
  {
    name: null,
    status: 'queued',
    created: '2026-02-15T12:00:00Z',
    bookmarked: true,
    tags: ['baseline'],
    params: {},
    metrics: {},
  },
  {
    name: '100% done',
    status: 'succeeded',
    created: '2025-12-31T23:59:59.999Z',
    tags: ['x_y'],
    params: { opt: 'adam', note: 'a%b' },
    metrics: { loss: [0.3, 0.3, 0.4], 'val/loss': [0.4, 0.4, 0.4] },
  },
  {
    name: 'Résumé 日本',
    status: 'stopped',
    created: '2026-01-05T00:00:00Z',
    tags: [],
    params: { lr: 0.01 },
    metrics: { 'val/loss': [0.1, 0.1, 0.1] },
  },
];

const uuid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const resolver = createFieldResolver(runsSchema('q'));

describe.each(backends)('queries on %s', (_label, open) => {
  let db: Db;

  beforeAll(async () => {
    db = await open();
    for (const statement of SCHEMA) await db.query(statement, []);
    for (const [i, run] of RUNS.entries()) {
      await db.query(
        `INSERT INTO "q"."runs" ("uuid", "number", "kind", "name", "status", "created_at", "started_at", "bookmarked", "tags", "params")
         VALUES ($1, $2, 'experiment', $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb)`,
        [
          uuid(i + 1),
          i + 1,
          run.name,
          run.status,
          run.created,
          run.started ?? null,
          run.bookmarked ?? false,
          JSON.stringify(run.tags),
          JSON.stringify(run.params),
        ],
      );
      for (const [name, [last, min, max]] of Object.entries(run.metrics)) {
        await db.query(`INSERT INTO "q"."metric_summaries" VALUES ($1, $2, $3, $4, $5)`, [
          uuid(i + 1),
          name,
          last,
          min,
          max,
        ]);
      }
    }
  }, 60_000);

  afterAll(async () => {
    await db?.close();
  });

  /** Run numbers matching `query`, sorted by `sort` then number; the caller's own `$1` comes first. */
  async function runs(query: string, sort = ''): Promise<number[]> {
    const { where, orderBy, params } = compileListing({ query, sort }, resolver, { startIndex: 2 });
    const rows = await db.query(
      `SELECT r."number" FROM "q"."runs" r WHERE r."kind" = $1 AND ${where} ORDER BY ${orderBy ? `${orderBy}, ` : ''}r."number"`,
      ['experiment', ...params],
    );
    return rows.map((row) => Number(row['number']));
  }

  it.each<[string, number[]]>([
    ['', [1, 2, 3, 4, 5, 6]],
    ['status:running|queued', [3, 4]],
    ['~status:failed', [1, 3, 4, 5, 6]],
    ['status:~failed|stopped', [1, 3, 4, 5]],
    ['id:2|4', [2, 4]],
    ['metrics.loss:<0.3', [1]],
    ['metrics.loss:<=0.3', [1, 5]],
    ['~metrics.loss:<0.3', [2, 3, 4, 5, 6]],
    ['metrics.loss:0.3 .. 0.4', [3, 5]],
    ['metrics.loss:0.35', [3]],
    ['metrics.loss.min:<0.3', [1]],
    ['metrics.loss.max:>1', [2]],
    ['metrics.val/loss:<0.5', [5, 6]],
    ['metrics.acc:>0.9', [1]],
    ['params.lr:>=0.01', [1, 2, 6]],
    ['params.lr:0.01', [1, 6]],
    ['params.lr:0.010', [1, 6]],
    ['params.lr:"0.001"', [3]],
    ['params.lr:0.001', []],
    ['params.lr:0.005 ..', [1, 2, 6]],
    ['params.layers:50|101', [1, 2]],
    ['params.opt:adam|sgd', [1, 2, 5]],
    ['params.opt:ADAM%', [1, 3, 5]],
    ['params.pretrained:true', [1]],
    ['params.note:a\\%b', [5]],
    ['params.note:"a%b"', [5]],
    ['~params.opt:adam', [2, 3, 4, 6]],
    ['tags:baseline', [1, 4]],
    ['tags:resnet|baseline', [1, 2, 4]],
    ['~tags:baseline', [2, 3, 5, 6]],
    ['tags:x_y', [5]],
    ['tags:x_%', [5]],
    ['tags:%', [1, 2, 4, 5]],
    ['name:%resnet%', [1, 2]],
    ['name:RESNET%', [1, 2]],
    ['name:resnet_%', [2]],
    ['name:100\\%%', [5]],
    ['name:%日本', [6]],
    ['name:résumé%', [6]],
    ['~name:%resnet%', [3, 4, 5, 6]],
    ['name:vit-small|resnet_101', [2, 3]],
    ['created_at:2026-01-05', [1, 6]],
    ['created_at:2026-01-01 .. 2026-02-01', [1, 2, 3, 6]],
    ['created_at:<2026-01-01', [5]],
    ['created_at:<=2026-01', [1, 2, 5, 6]],
    ['created_at:>2026-01', [3, 4]],
    ['created_at:2026-02 ..', [3, 4]],
    ['created_at:.. 2025-12-31', [5]],
    ['created_at:2026-01-05 10:00', [1]],
    ['created_at:2026-01-05T11:00+01:00', [1]],
    ['created_at:2025-12-31T23:59:59.999Z', [5]],
    ['~created_at:2026-01-05', [2, 3, 4, 5]],
    ['started_at:<2026-02-01', [1]],
    ['~started_at:<2026-02-01', [2, 3, 4, 5, 6]],
    ['bookmarked:true', [4]],
    ['status:succeeded, metrics.loss:<0.3 | tags:baseline', [1]],
    ['(status:succeeded, metrics.loss:<0.3) | tags:baseline', [1, 4]],
    ['~(status:succeeded | status:failed)', [3, 4, 6]],
    ['~(metrics.loss:<0.3, tags:baseline)', [2, 3, 4, 5, 6]],
    ['status:succeeded|failed, ~tags:resnet', [5]],
  ])('query %j', async (query, expected) => {
    expect(await runs(query)).toEqual(expected);
  });

  it.each<[string, number[]]>([
    ['-metrics.loss', [2, 3, 5, 1, 4, 6]],
    ['metrics.loss', [1, 5, 3, 2, 4, 6]],
    ['metrics.loss.max', [3, 5, 1, 2, 4, 6]],
    ['-created_at', [4, 3, 2, 1, 6, 5]],
    ['-started_at', [2, 1, 3, 4, 5, 6]],
    ['status,-metrics.val/loss', [2, 4, 3, 6, 5, 1]],
    // jsonb orders numbers before strings; a missing param is NULL, last.
    ['-params.lr', [2, 1, 6, 3, 4, 5]],
  ])('sorts by %s', async (sort, expected) => {
    expect(await runs('', sort)).toEqual(expected);
  });

  it('filters and sorts together with numbered parameters', async () => {
    expect(await runs('metrics.loss:>0.2, ~status:failed', '-metrics.loss.min')).toEqual([3, 5, 1]);
  });

  describe('laws, on random queries', () => {
    const word = (value: string): Value => ({ type: 'word', value });
    const num = fc.constantFrom('0.01', '0.1', '0.2', '0.25', '0.3', '0.35', '0.5', '1', '50', '101');
    const date = fc.constantFrom(
      '2025-12',
      '2026-01',
      '2026-01-05',
      '2026-01-05 10:00',
      '2026-02-01T23:59:59Z',
      '2026-02-15',
    );
    const ordered = (v: fc.Arbitrary<string>): fc.Arbitrary<Predicate> =>
      fc.oneof(
        fc
          .array(v.map(word), { minLength: 1, maxLength: 2 })
          .map((values): Predicate => ({ op: 'eq', values })),
        fc
          .tuple(fc.constantFrom('lt' as const, 'le' as const, 'gt' as const, 'ge' as const), v)
          .map(([op, value]): Predicate => ({ op, value: word(value) })),
        fc
          .tuple(fc.option(v, { nil: undefined }), fc.option(v, { nil: undefined }))
          .filter(([a, b]) => a !== undefined || b !== undefined)
          .map(([a, b]): Predicate => {
            const numeric = !Number.isNaN(Number(a)) && !Number.isNaN(Number(b));
            const swap = a !== undefined && b !== undefined && (numeric ? Number(a) > Number(b) : a > b);
            const [from, to] = swap ? [b, a] : [a, b];
            return { op: 'range', ...(from ? { from: word(from) } : {}), ...(to ? { to: word(to) } : {}) };
          }),
      );
    const text = (values: string[]): fc.Arbitrary<Predicate> =>
      fc
        .array(
          fc
            .constantFrom(...values)
            .map((v): Value => (v.includes('%') ? { type: 'pattern', parts: v.split('%') } : word(v))),
          {
            minLength: 1,
            maxLength: 3,
          },
        )
        .map((values): Predicate => ({ op: 'eq', values }));
    const cond = (field: FieldRef, predicate: fc.Arbitrary<Predicate>): fc.Arbitrary<QueryNode> =>
      predicate.map((p): QueryNode => ({ type: 'condition', field, predicate: p }));
    const conditions = fc.oneof(
      cond({ kind: 'column', name: 'status' }, text(['running', 'queued', 'failed', 'succeeded', 'stopped'])),
      cond({ kind: 'column', name: 'name' }, text(['%resnet%', 'vit-small', '%_%', 'r%'])),
      cond({ kind: 'metric', name: 'loss', agg: 'last' }, ordered(num)),
      cond({ kind: 'metric', name: 'loss', agg: 'min' }, ordered(num)),
      cond({ kind: 'metric', name: 'val/loss', agg: 'max' }, ordered(num)),
      cond({ kind: 'param', name: 'lr' }, ordered(num)),
      cond({ kind: 'param', name: 'opt' }, text(['adam', 'sgd', 'adam%', '0.01'])),
      cond({ kind: 'tag' }, text(['baseline', 'resnet', 'x_%', 'none'])),
      cond({ kind: 'column', name: 'created_at' }, ordered(date)),
      cond({ kind: 'column', name: 'started_at' }, ordered(date)),
      cond({ kind: 'column', name: 'bookmarked' }, text(['true', 'false'])),
    );

    async function select(tree: QueryNode): Promise<Set<number>> {
      const { where, params } = compileQuery(tree, resolver);
      const rows = await db.query(`SELECT r."number" FROM "q"."runs" r WHERE ${where}`, params);
      return new Set(rows.map((row) => Number(row['number'])));
    }
    const ALL = new Set([1, 2, 3, 4, 5, 6]);
    const sorted = (s: Set<number>): number[] => [...s].sort((a, b) => a - b);

    it('NOT is the complement, AND the intersection, OR the union, at every node', async () => {
      async function check(tree: QueryNode): Promise<Set<number>> {
        const got = await select(tree);
        let expected: Set<number> | undefined;
        if (tree.type === 'not') {
          const inner = await check(tree.item);
          expected = new Set([...ALL].filter((n) => !inner.has(n)));
        } else if (tree.type === 'and' || tree.type === 'or') {
          const parts: Array<Set<number>> = [];
          for (const item of tree.items) parts.push(await check(item));
          expected = new Set(
            [...ALL].filter((n) =>
              tree.type === 'and' ? parts.every((p) => p.has(n)) : parts.some((p) => p.has(n)),
            ),
          );
        }
        if (expected)
          expect({ query: printQuery(tree), rows: sorted(got) }).toEqual({
            query: printQuery(tree),
            rows: sorted(expected),
          });
        return got;
      }
      await fc.assert(
        fc.asyncProperty(queryArb(conditions), async (tree) => {
          await check(tree);
          // What is compiled from the printed text selects the same rows.
          expect(sorted(await select(parseQuery(printQuery(tree))!))).toEqual(sorted(await select(tree)));
        }),
        { numRuns: 60 },
      );
    });
  });
});
