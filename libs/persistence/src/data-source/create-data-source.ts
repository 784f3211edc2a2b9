import { DataSource, EntitySchema, MixedList } from 'typeorm';
import { parseDatabaseUrl } from './database-url';
import { acquireEmbedded, releaseEmbedded } from './embedded-registry';
import { pglitePoolClass } from './pglite-pool';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type EntityList = MixedList<Function | string | EntitySchema>;
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type MigrationList = MixedList<Function | string>;

export interface ServiceDatabaseOptions {
  url: string;
  /** The PostgreSQL schema the service owns; its migrations table lives there too. */
  schema: string;
  entities: EntityList;
  migrations: MigrationList;
  poolSize?: number;
  logging?: boolean;
  /** Embedded only: an empty cluster (tar.gz) to start a new data directory from. */
  embeddedTemplate?: string;
}

export interface ServiceDatabase {
  dataSource: DataSource;
  embedded: boolean;
  close(): Promise<void>;
}

/**
 * Replicas of a service starting together would race on creating the schema and the migrations
 * table: on a server, one migrates while the others wait on an advisory lock named after the
 * schema (held by a connection of its own, released even if a migration fails).
 */
async function migrateExclusively(dataSource: DataSource, schema: string, server: boolean): Promise<void> {
  const migrate = async () => {
    await dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await dataSource.runMigrations({ transaction: 'each' });
  };
  if (!server) return migrate();
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query(`SELECT pg_advisory_lock(hashtext($1))`, [`myelin.migrations.${schema}`]);
    await migrate();
  } finally {
    await lock.query(`SELECT pg_advisory_unlock(hashtext($1))`, [`myelin.migrations.${schema}`]).catch(() => undefined);
    await lock.release();
  }
}

/** The DataSources on the embedded database: one session for the whole process, so no other process shares it. */
const embeddedDataSources = new WeakSet<DataSource>();

/** True for a DataSource on the embedded PGlite (nothing outside this process can use its database). */
export function isEmbeddedDataSource(dataSource: DataSource): boolean {
  return embeddedDataSources.has(dataSource);
}

/**
 * One DataSource per service, on its own schema, for a PostgreSQL server or the embedded
 * PGlite: the same dialect, entities and migrations either way. Migrations run here
 * (`synchronize` is never used), so a service is always on its latest schema when it starts.
 */
export async function openServiceDatabase(options: ServiceDatabaseOptions): Promise<ServiceDatabase> {
  const target = parseDatabaseUrl(options.url);
  const common = {
    type: 'postgres' as const,
    schema: options.schema,
    entities: options.entities,
    migrations: options.migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each' as const,
    synchronize: false,
    logging: options.logging ?? false,
    parseInt8: true,
  };
  let dataSource: DataSource;
  if (target.kind === 'server') {
    dataSource = new DataSource({ ...common, url: target.url, poolSize: options.poolSize ?? 10 });
  } else {
    const shared = await acquireEmbedded(target.dataDir, options.embeddedTemplate);
    dataSource = new DataSource({ ...common, driver: { Pool: pglitePoolClass(shared) } });
    embeddedDataSources.add(dataSource);
  }
  try {
    await dataSource.initialize();
    await migrateExclusively(dataSource, options.schema, target.kind === 'server');
  } catch (error) {
    if (dataSource.isInitialized) await dataSource.destroy();
    if (target.kind === 'embedded') await releaseEmbedded(target.dataDir);
    throw error;
  }
  return {
    dataSource,
    embedded: target.kind === 'embedded',
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
      if (target.kind === 'embedded') await releaseEmbedded(target.dataDir);
    },
  };
}
