import { DataSource } from 'typeorm';

export interface BuildRow {
  /** sha256 of the project, the build content and the code reference. */
  key: string;
  /** Where the image was pushed. */
  image: string;
  project: string;
  /** The run whose build pushed it. */
  runUuid: string;
  codeRef: string;
  createdAt: Date;
}

interface RawBuild {
  key: string;
  image: string;
  project: string;
  run_uuid: string;
  code_ref: string;
  created_at: Date;
}

const fromRow = (r: RawBuild): BuildRow => ({ key: r.key, image: r.image, project: r.project, runUuid: r.run_uuid, codeRef: r.code_ref, createdAt: new Date(r.created_at) });

/**
 * The scheduler's build cache (`scheduler.builds`): an image per build key. A run whose build has
 * a key found here uses the image instead of building it again (unless `nocache`); invalidation
 * deletes the entry, so the next run with that key builds again.
 */
export class BuildsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async find(key: string): Promise<BuildRow | null> {
    const rows = (await this.dataSource.query(`SELECT * FROM "scheduler"."builds" WHERE "key" = $1`, [key])) as RawBuild[];
    return rows.length ? fromRow(rows[0]) : null;
  }

  /** Record (or replace, after a `nocache` build) the image of a key. */
  async put(build: Omit<BuildRow, 'createdAt'>): Promise<BuildRow> {
    const rows = (await this.dataSource.query(
      `INSERT INTO "scheduler"."builds" ("key", "image", "project", "run_uuid", "code_ref", "created_at")
       VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT ("key") DO UPDATE SET "image" = EXCLUDED."image", "project" = EXCLUDED."project",
         "run_uuid" = EXCLUDED."run_uuid", "code_ref" = EXCLUDED."code_ref", "created_at" = now()
       RETURNING *`,
      [build.key, build.image, build.project, build.runUuid, build.codeRef],
    )) as RawBuild[];
    return fromRow(rows[0]);
  }

  /** Drop a key's entry; false when there was none. */
  async invalidate(key: string): Promise<boolean> {
    const rows = (await this.dataSource.query(`DELETE FROM "scheduler"."builds" WHERE "key" = $1 RETURNING "key"`, [key])) as unknown;
    return deletedCount(rows) > 0;
  }

  /** Drop every entry of a project; the number dropped. */
  async invalidateProject(project: string): Promise<number> {
    const rows = (await this.dataSource.query(`DELETE FROM "scheduler"."builds" WHERE "project" = $1 RETURNING "key"`, [project])) as unknown;
    return deletedCount(rows);
  }

  async listByProject(project: string): Promise<BuildRow[]> {
    const rows = (await this.dataSource.query(`SELECT * FROM "scheduler"."builds" WHERE "project" = $1 ORDER BY "created_at" DESC`, [project])) as RawBuild[];
    return rows.map(fromRow);
  }
}

/** TypeORM answers a DELETE ... RETURNING with [rows, affected count] (PostgreSQL server and PGlite alike). */
function deletedCount(result: unknown): number {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[1];
  return Array.isArray(result) ? result.length : 0;
}
