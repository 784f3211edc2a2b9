import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RunFactsLogged, RunStatusReport } from '@myelin/contracts';
import { runCreatedEvent } from '../runs/usecases/create-run.usecase';
import { AccountsRepository, ProjectEntity, RunEntity, RunsRepository } from '@myelin/persistence';
import { Identity } from '@myelin/runtime';
import { ActivityService } from '../activity/activity.service';
import { CORE_DATA_SOURCE } from '../database/database.providers';

const REPORT_REASON: Record<RunStatusReport.Reportable, string> = {
  running: 'Tracked',
  succeeded: 'Succeeded',
  failed: 'Failed',
  stopped: 'Stopped',
};

/**
 * Runs tracked from outside the platform, and what any running job reports about itself
 * through tracking (params and tags), merged into the API's copy of the run.
 */
@Injectable()
export class ExternalRunsService {
  constructor(
    private readonly runs: RunsRepository,
    private readonly accounts: AccountsRepository,
    private readonly activity: ActivityService,
    @Inject(CORE_DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  /** A run the scheduler never executes: created `running`; the client reports how it ends. */
  async create(
    identity: Identity,
    project: ProjectEntity,
    projectName: string,
    input: { name?: string; description?: string; tags?: string[]; params?: Record<string, unknown> },
  ): Promise<RunEntity> {
    const run = await this.runs.create(
      {
        projectId: project.id,
        kind: 'experiment',
        name: input.name ?? null,
        description: input.description ?? '',
        tags: input.tags ?? [],
        content: JSON.stringify({ files: [], params: {}, external: true }),
        spec: { kind: 'experiment', external: true },
        params: input.params ?? {},
        createdBy: identity.userId,
        managed: false,
      },
      [runCreatedEvent(projectName)],
    );
    await this.runs.applyStatus(run.uuid, { status: 'running', reason: 'Tracked', message: 'tracked from outside the platform', at: new Date() });
    await this.activity.record(identity, 'run.created', 'run', run.uuid, project.id, { number: run.number, external: true });
    return (await this.runs.findByUuid(run.uuid)) as RunEntity;
  }

  async report(payload: RunStatusReport.Payload): Promise<RunStatusReport.Reply> {
    const run = await this.runs.findByUuid(payload.runUuid);
    if (!run) return { ok: false, error: `run ${payload.runUuid} not found` };
    if (run.managed) {
      return { ok: false, status: run.status, error: `run #${run.number} is executed by the scheduler: its status comes from its process, not from reports` };
    }
    const message = [payload.message, payload.traceback].filter(Boolean).join('\n').slice(0, 100_000);
    const result = await this.runs.applyStatus(run.uuid, { status: payload.status, reason: REPORT_REASON[payload.status], message, at: new Date() });
    if (!result.applied) {
      if (result.run?.status === payload.status) return { ok: true, status: payload.status }; // a retried report
      return { ok: false, status: result.run?.status, error: `run #${run.number} is ${result.run?.status ?? 'gone'}: it cannot become ${payload.status}` };
    }
    return { ok: true, status: payload.status };
  }

  /**
   * Logged params join the run's params (a declared param keeps its value: the job got it from
   * the platform), logged tags join its tags, in the order first seen.
   */
  async merge(event: RunFactsLogged.Payload): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const rows = (await m.query(`SELECT "params", "tags" FROM "core"."runs" WHERE "uuid" = $1 FOR UPDATE`, [event.runUuid])) as Array<{
        params: Record<string, unknown>;
        tags: string[];
      }>;
      if (!rows.length) return;
      const params = { ...(event.params ?? {}), ...rows[0].params };
      const tags = [...new Set([...rows[0].tags, ...(event.tags ?? [])])];
      await m.query(`UPDATE "core"."runs" SET "params" = $2::jsonb, "tags" = $3::jsonb, "updated_at" = now() WHERE "uuid" = $1`, [
        event.runUuid,
        JSON.stringify(params),
        JSON.stringify(tags),
      ]);
    });
  }

  /** The run's own tokens die with it (an external run has none, but a report may end any). */
  async revokeTokens(runUuid: string): Promise<void> {
    await this.accounts.revokeRunTokens(runUuid);
  }
}
