import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import { GroupStop, isFinal, isStoppable, RunStatusChanged, RunStop } from '@myelin/contracts';
import { PipelineStop } from '@myelin/contracts';
import { enqueueOutbox, GroupCommitter, OutboxRelay, RunEntity, RunsRepository, RunWithoutSpec, StatusUpdateResult } from '@myelin/persistence';
import { Identity } from '@myelin/runtime';
import { CORE_DATA_SOURCE } from '../database/database.providers';
import { AccessService } from '../access/access.service';
import { ActivityService } from '../activity/activity.service';
import { ApiException, ApiExceptionCode } from '../api.exception';
import { ProjectsRepository } from '../projects/projects.repository';
import { RunCleanupService } from './run-cleanup.service';
import { UpdateRunDto } from './dto/run-update.dto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

@Injectable()
export class RunsService {
  private readonly logger = new Logger('Runs');

  constructor(
    private readonly runs: RunsRepository,
    private readonly projects: ProjectsRepository,
    private readonly access: AccessService,
    private readonly activity: ActivityService,
    private readonly cleanup: RunCleanupService,
    private readonly relay: OutboxRelay,
    @Inject(CORE_DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  /** A run of the project by uuid or per-project number (archived ones only when asked). */
  findRun(projectId: string, id: string, { archived = false } = {}): Promise<RunEntity> {
    return this.lookUp(projectId, id, archived, (where) => ('uuid' in where ? this.runs.findByUuid(where.uuid) : this.runs.findByNumber(where.projectId, where.number)));
  }

  /** A run as its view shows it (without its spec and files, see RunsRepository.findView), by number or uuid, archived or not. */
  findRunView(projectId: string, id: string): Promise<RunWithoutSpec> {
    return this.lookUp(projectId, id, true, (where) => this.runs.findView(where));
  }

  /** `id` as a uuid or a per-project number, read with `find`; 404 when it is not a run of the project. */
  private async lookUp<T extends RunWithoutSpec>(
    projectId: string,
    id: string,
    archived: boolean,
    find: (where: { uuid: string } | { projectId: string; number: number }) => Promise<T | null>,
  ): Promise<T> {
    const where = UUID.test(id) ? { uuid: id } : /^\d+$/.test(id) ? { projectId, number: Number(id) } : null;
    const run = where ? await find(where) : null;
    if (!run || run.projectId !== projectId || (run.archivedAt && !archived)) {
      throw new ApiException(ApiExceptionCode.NotFound, `run ${id} not found`);
    }
    return run;
  }

  /** A run by uuid alone as its view shows it, with the caller's access checked (404 when none). */
  async findRunByUuid(identity: Identity, uuid: string): Promise<{ run: RunWithoutSpec; project: string }> {
    const run = UUID.test(uuid) ? await this.runs.findView({ uuid }) : null;
    if (!run || (await this.access.runAccess(identity, run)) === 'none') {
      throw new ApiException(ApiExceptionCode.NotFound, `run ${uuid} not found`);
    }
    return { run, project: await this.projectName(run.projectId) };
  }

  async projectName(projectId: string): Promise<string> {
    const project = await this.projects.findById(projectId);
    return project ? this.projects.fullName(project) : 'unknown/unknown';
  }

  /** Ask the scheduler to stop the run; the status moves when the scheduler reports it. */
  async stop(identity: Identity, run: RunEntity): Promise<void> {
    if (!isStoppable(run.status)) {
      throw new ApiException(
        ApiExceptionCode.Conflict,
        isFinal(run.status) ? `run ${run.number} already ended (${run.status})` : `run ${run.number} is already stopping`,
      );
    }
    await this.enqueueStops([run], `stopped by ${identity.username}`);
    await this.activity.record(identity, 'run.stopped', 'run', run.uuid, run.projectId);
  }

  /** Stop every stoppable run among `numbers`; returns the numbers a stop was sent for. */
  async stopMany(identity: Identity, projectId: string, numbers: number[]): Promise<number[]> {
    const runs = await this.dataSource.getRepository(RunEntity).find({ where: { projectId, number: In(numbers) } });
    const stoppable = runs.filter((r) => isStoppable(r.status));
    await this.enqueueStops(stoppable, `stopped by ${identity.username}`);
    for (const r of stoppable) await this.activity.record(identity, 'run.stopped', 'run', r.uuid, projectId);
    return stoppable.map((r) => r.number).sort((a, b) => a - b);
  }

  /**
   * A stop asked over the bus by another service (a pipeline op at its timeout, or stopped with its
   * pipeline): the run is stopped the way its kind stops, like a user's stop. An unknown or ended
   * run is left alone (the request may arrive twice, or after the run ended on its own).
   */
  async stopRequested(runUuid: string, reason: string): Promise<boolean> {
    const run = await this.dataSource.getRepository(RunEntity).findOne({ where: { uuid: runUuid } });
    if (!run || !isStoppable(run.status)) return false;
    await this.enqueueStops([run], reason);
    return true;
  }

  /**
   * Stop commands go to the scheduler; a group instead moves to `stopping`, tells the optimizer to
   * start no more trials, and its running trials are stopped (the optimizer then reports `stopped`).
   */
  private async enqueueStops(runs: RunEntity[], reason: string): Promise<void> {
    if (!runs.length) return;
    const targets: string[] = [];
    for (const run of runs) {
      if (run.kind === 'pipeline') {
        // The pipelines service stops the running op runs and marks the others `stopped`, then reports `stopped`.
        await this.runs.applyStatus(run.uuid, { status: 'stopping', reason: 'Stopping', message: reason, at: new Date() }, [
          { kind: 'command', pattern: PipelineStop.PATTERN, payload: { pipelineUuid: run.uuid, reason } satisfies PipelineStop.Payload },
        ]);
        // Ops that are groups are stopped here (the scheduler does not run groups).
        const groups = await this.dataSource.getRepository(RunEntity).find({ where: { parentUuid: run.uuid, kind: 'group' } });
        await this.enqueueStops(groups.filter((g) => isStoppable(g.status)), reason);
        continue;
      }
      if (run.kind !== 'group') {
        targets.push(run.uuid);
        continue;
      }
      await this.runs.applyStatus(run.uuid, { status: 'stopping', reason: 'Stopping', message: reason, at: new Date() }, [
        { kind: 'command', pattern: GroupStop.PATTERN, payload: { groupUuid: run.uuid } satisfies GroupStop.Payload },
      ]);
      const children = await this.dataSource.getRepository(RunEntity).find({ where: { parentUuid: run.uuid } });
      targets.push(...children.filter((c) => isStoppable(c.status)).map((c) => c.uuid));
    }
    await this.dataSource.transaction(async (m) => {
      for (const runUuid of targets) await enqueueOutbox(m, 'core', 'command', RunStop.PATTERN, { runUuid, reason } satisfies RunStop.Payload);
    });
    this.relay.poke();
  }

  /** A group's trials with their statuses, and how far the search went. */
  async groupProgress(group: RunEntity): Promise<{ total: number; byStatus: Record<string, number> }> {
    const rows = (await this.dataSource.query(
      `SELECT "status", count(*)::int AS n FROM "core"."runs" WHERE "parent_uuid" = $1 GROUP BY "status"`,
      [group.uuid],
    )) as Array<{ status: string; n: number }>;
    const byStatus = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    return { total: rows.reduce((a, r) => a + Number(r.n), 0), byStatus };
  }

  async update(identity: Identity, run: RunEntity, dto: UpdateRunDto): Promise<RunEntity> {
    Object.assign(run, dto);
    await this.dataSource.getRepository(RunEntity).save(run);
    await this.activity.record(identity, 'run.updated', 'run', run.uuid, run.projectId, { fields: Object.keys(dto) });
    return run;
  }

  async setArchived(identity: Identity, run: RunEntity, archived: boolean): Promise<RunEntity> {
    run.archivedAt = archived ? new Date() : null;
    await this.dataSource.getRepository(RunEntity).save(run);
    await this.activity.record(identity, archived ? 'run.archived' : 'run.restored', 'run', run.uuid, run.projectId);
    return run;
  }

  /**
   * Delete runs (and their children) with their logs, metrics and outputs: live ones are stopped
   * first; the deletion is announced to tracking and the scheduler in the same transaction.
   */
  async deleteMany(identity: Identity, projectId: string, runs: RunEntity[]): Promise<number[]> {
    if (!runs.length) return [];
    const uuids = runs.map((r) => r.uuid);
    await this.dataSource.transaction(async (m) => {
      const children = (await m.query(`SELECT "uuid" FROM "core"."runs" WHERE "parent_uuid" = ANY($1::uuid[])`, [uuids])) as Array<{ uuid: string }>;
      const all = [...uuids, ...children.map((c) => c.uuid)];
      await m.query(`DELETE FROM "core"."runs" WHERE "uuid" = ANY($1::uuid[])`, [all]);
      await this.cleanup.announce(m, all);
    });
    this.cleanup.published();
    for (const r of runs) await this.activity.record(identity, 'run.deleted', 'run', r.uuid, projectId, { number: r.number });
    return runs.map((r) => r.number).sort((a, b) => a - b);
  }

  async bookmark(identity: Identity, run: RunEntity, on: boolean): Promise<void> {
    await this.dataSource.query(
      on
        ? `INSERT INTO "core"."bookmarks" ("user_id", "entity", "entity_id") VALUES ($1, 'run', $2) ON CONFLICT DO NOTHING`
        : `DELETE FROM "core"."bookmarks" WHERE "user_id" = $1 AND "entity" = 'run' AND "entity_id" = $2`,
      [identity.userId, run.uuid],
    );
  }

  /**
   * Apply a status the scheduler observed; duplicates and late events are refused by the state
   * machine. Events that arrive while a group is being written go together in the next
   * transaction (one writer: the order of arrival is kept), and a status that is not final waits
   * up to STATUS_LINGER_MS for others: nothing acts on a run's `starting` or `running` as the API
   * records it (the times recorded are the event's), and a busy queue's `starting`, `running` and
   * ends came a few ms apart, two transactions per run. A final status goes at once, with those.
   */
  async applyStatus(event: RunStatusChanged.Payload): Promise<void> {
    const result = await this.statusWrites.submit(event);
    if (!result.applied) {
      this.logger.debug(`ignored status ${event.status} for run ${event.runUuid}: ${result.reason}${result.run ? ` (is ${result.run.status})` : ''}`);
    }
  }

  private readonly statusWrites = new GroupCommitter<RunStatusChanged.Payload, StatusUpdateResult>((events) =>
    this.runs.applyStatuses(
      events.map((event) => ({
        uuid: event.runUuid,
        change: {
          status: event.status,
          reason: event.reason,
          message: event.message,
          at: new Date(event.at),
          ...(event.exitCode !== undefined ? { exitCode: event.exitCode } : {}),
        },
      })),
    ),
    // A final status does not linger: what reads the run's end from the API (a group's best trial,
    // a watcher's exit) gets it as soon as before.
    { gather: true, lingerMs: STATUS_LINGER_MS, urgent: (event) => isFinal(event.status) },
  );
}

/** How long a status the scheduler reported waits for others to be written with it. */
const STATUS_LINGER_MS = 10;
