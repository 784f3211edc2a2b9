import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { API_ENV, CORE_DATA_SOURCE } from '../database/database.providers';
import { ApiEnv } from '../config/env';
import { RunCleanupService } from '../runs/run-cleanup.service';

/** Purges projects and runs archived longer than the retention period (hourly). */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Retention');
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly cleanup: RunCleanupService,
    @Inject(CORE_DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(API_ENV) private readonly env: ApiEnv,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.purge().catch((e) => this.logger.warn(`purge failed: ${String(e)}`)), 3_600_000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Returns how many runs were purged (those of purged projects included). */
  async purge(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.env.MYELIN_ARCHIVE_RETENTION_DAYS * 86_400_000);
    const purged = await this.dataSource.transaction(async (m) => {
      const runs = (await m.query(
        `SELECT r."uuid" FROM "core"."runs" r JOIN "core"."projects" p ON p."id" = r."project_id"
          WHERE r."archived_at" < $1 OR p."archived_at" < $1`,
        [cutoff],
      )) as Array<{ uuid: string }>;
      const uuids = runs.map((r) => r.uuid);
      if (uuids.length) await m.query(`DELETE FROM "core"."runs" WHERE "uuid" = ANY($1::uuid[])`, [uuids]);
      await m.query(`DELETE FROM "core"."projects" WHERE "archived_at" < $1`, [cutoff]);
      await this.cleanup.announce(m, uuids);
      return uuids.length;
    });
    if (purged) this.cleanup.published();
    return purged;
  }
}
