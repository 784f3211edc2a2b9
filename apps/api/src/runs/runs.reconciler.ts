import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RunStart } from '@myelin/contracts';
import { enqueueOutbox, OutboxRelay, RunsRepository } from '@myelin/persistence';
import { admissionFacts } from '@myelin/persistence';
import { CompiledSpec } from '@myelin/spec';
import { API_ENV, CORE_DATA_SOURCE } from '../database/database.providers';
import { ApiEnv } from '../config/env';
import { startPayload } from './usecases/create-run.usecase';
import { RunsService } from './runs.service';

/**
 * The database is the source of truth: a run still `created` after a while never reached the
 * scheduler (an in-process bus lost it in a crash, a queue was purged...). Its start command is
 * sent again; the scheduler ignores a run it already knows, so this is always safe.
 */
@Injectable()
export class RunsReconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('RunsReconciler');
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly runs: RunsRepository,
    private readonly service: RunsService,
    private readonly relay: OutboxRelay,
    @Inject(CORE_DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(API_ENV) private readonly env: ApiEnv,
  ) {}

  onApplicationBootstrap(): void {
    this.relay.start();
    const everyMs = Math.max(1000, (this.env.MYELIN_RECONCILE_AFTER_SECONDS * 1000) / 2);
    this.timer = setInterval(() => void this.reconcile().catch((e) => this.logger.warn(`reconcile failed: ${String(e)}`)), everyMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.relay.stop();
  }

  async reconcile(): Promise<number> {
    const olderThan = new Date(Date.now() - this.env.MYELIN_RECONCILE_AFTER_SECONDS * 1000);
    const stale = await this.runs.listUnfinished(['created'], olderThan);
    for (const run of stale) {
      if (run.kind === 'group' || run.kind === 'pipeline') continue;
      const spec = run.spec as unknown as CompiledSpec;
      const cmd = spec.run?.cmd;
      if (!cmd) continue;
      const project = await this.service.projectName(run.projectId);
      await this.dataSource.transaction(async (m) => {
        // With what the scheduler's admission needs (submitter, teams, parent concurrency), as at creation.
        await enqueueOutbox(m, 'core', 'command', RunStart.PATTERN, { ...startPayload(run, project, spec, cmd), ...(await admissionFacts(m, run)) });
        await m.query(`UPDATE "core"."runs" SET "updated_at" = now() WHERE "uuid" = $1`, [run.uuid]);
      });
      this.logger.log(`run ${project}#${run.number} still created: start command sent again`);
    }
    if (stale.length) this.relay.poke();
    return stale.length;
  }
}
