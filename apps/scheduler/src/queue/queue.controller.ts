import { Body, Controller, Delete, ForbiddenException, Get, HttpCode, Inject, NotFoundException, Param, ParseUUIDPipe, Put, Query, Req } from '@nestjs/common';
import { IsIn, IsInt, IsNumber, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateIf } from 'class-validator';
import { ACTIVE_STATUSES, RunStatus } from '@myelin/contracts';
import { ExecutionEntity, ExecutionsRepository, QuotaRow, QuotasRepository } from '@myelin/persistence';
import { AuthenticatedRequest } from '@myelin/runtime';
import { SCHEDULER_ENV } from '../tokens';
import { SchedulerEnv } from '../config/env';
import { QUOTA_SCOPES, QuotaScope, queueOrder } from './admission';
import { SchedulerService } from './scheduler.service';
import { launched, toWaitingRun } from './admission-input';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)?$/;

export class QuotaBody {
  @IsIn(QUOTA_SCOPES) scope!: QuotaScope;
  @IsString() @MaxLength(200) @Matches(NAME, { message: 'name must be a username, org/team or owner/project' }) name!: string;
  /** null or absent: no ceiling. */
  @IsOptional() @ValidateIf((_, v) => v !== null) @IsNumber() @Min(0) maxRuns?: number | null;
  @IsOptional() @ValidateIf((_, v) => v !== null) @IsNumber() @Min(0) cpu?: number | null;
  /** MB. */
  @IsOptional() @ValidateIf((_, v) => v !== null) @IsNumber() @Min(0) memoryMb?: number | null;
  @IsOptional() @ValidateIf((_, v) => v !== null) @IsNumber() @Min(0) gpu?: number | null;
}

export class PriorityBody {
  @IsInt() @Min(-1000) @Max(1000) priority!: number;
}

export class QuotaKeyQuery {
  @IsIn(QUOTA_SCOPES) scope!: QuotaScope;
  @IsString() @MaxLength(200) name!: string;
}

export interface QueueEntry {
  position: number;
  runUuid: string;
  project: string;
  number: number;
  kind: string;
  status: RunStatus;
  priority: number;
  reason: string;
  message: string;
  user: string | null;
  parentUuid: string | null;
  demand: { cpu: number; memoryMb: number; gpu: number };
  queuedAt: string;
}

export interface QueueView {
  running: number;
  maxParallel: number;
  maxParallelPerProject: number | null;
  /** Waiting runs in admission order (unschedulable ones after them); others' runs are hidden from non-superusers. */
  waiting: QueueEntry[];
  hidden: number;
}

/**
 * `/api/v1/scheduler/queue`: what waits, in order, and why. `/api/v1/scheduler/quotas`: ceilings per
 * user, team and project (everyone authenticated reads them; only superusers change them).
 */
@Controller('api/v1/scheduler')
export class QueueController {
  constructor(
    private readonly executions: ExecutionsRepository,
    private readonly quotas: QuotasRepository,
    private readonly scheduler: SchedulerService,
    @Inject(SCHEDULER_ENV) private readonly env: SchedulerEnv,
  ) {}

  @Get('queue')
  async queue(@Req() req: AuthenticatedRequest): Promise<QueueView> {
    const rows = await this.executions.listLean(['queued', 'unschedulable', ...ACTIVE_STATUSES]);
    // A launched run held by its executor's condition (a pod the cluster cannot place) is not waiting for admission.
    const waiting = rows.filter((r) => (r.status === 'queued' || r.status === 'unschedulable') && !launched(r));
    const byUuid = new Map(waiting.map((r) => [r.runUuid, r]));
    const ordered = waiting
      .map(toWaitingRun)
      .sort(queueOrder)
      .map((w) => byUuid.get(w.runUuid)!)
      .sort((a, b) => Number(a.status === 'unschedulable') - Number(b.status === 'unschedulable'));
    const visible = (r: ExecutionEntity) => req.identity.isSuperuser || r.submitter === req.identity.username;
    const entries = ordered.map((r, i) => ({ row: r, position: i + 1 })).filter(({ row }) => visible(row));
    return {
      running: rows.length - waiting.length,
      maxParallel: this.env.MYELIN_MAX_PARALLEL,
      maxParallelPerProject: this.env.MYELIN_MAX_PARALLEL_PER_PROJECT || null,
      waiting: entries.map(({ row, position }) => ({
        position,
        runUuid: row.runUuid,
        project: row.project,
        number: row.number,
        kind: row.kind,
        status: row.status,
        priority: row.priority,
        reason: row.statusReason ?? '',
        message: row.statusMessage ?? '',
        user: row.submitter,
        parentUuid: row.parentUuid,
        demand: { cpu: Number(row.cpu), memoryMb: Number(row.memoryMb), gpu: Number(row.gpu) },
        queuedAt: row.createdAt.toISOString(),
      })),
      hidden: ordered.length - entries.length,
    };
  }

  /**
   * Move a waiting run in the queue. Superusers set any priority; the submitter may only lower
   * their own run's (to 0 or below), so nobody jumps ahead of others by themselves.
   */
  @Put('queue/:runUuid/priority')
  async priority(
    @Req() req: AuthenticatedRequest,
    @Param('runUuid', ParseUUIDPipe) runUuid: string,
    @Body() body: PriorityBody,
  ): Promise<{ runUuid: string; priority: number }> {
    const row = await this.executions.find(runUuid);
    const waiting = row && (row.status === 'queued' || row.status === 'unschedulable') && !launched(row);
    if (!row || (!req.identity.isSuperuser && row.submitter !== req.identity.username)) throw new NotFoundException(`run ${runUuid} is not in the queue`);
    if (!waiting) throw new NotFoundException(`run ${runUuid} is not in the queue (it is ${row.status})`);
    if (!req.identity.isSuperuser && body.priority > Math.min(0, row.priority)) {
      throw new ForbiddenException('only superusers raise a priority; you may lower your own runs (to 0 or below)');
    }
    const saved = await this.executions.setPriority(runUuid, body.priority);
    if (!saved) throw new NotFoundException(`run ${runUuid} is not in the queue any more`);
    this.scheduler.poke(true);
    return { runUuid, priority: saved.priority };
  }

  @Get('quotas')
  async list(): Promise<{ results: QuotaRow[] }> {
    return { results: await this.quotas.list() };
  }

  @Put('quotas')
  async put(@Req() req: AuthenticatedRequest, @Body() body: QuotaBody): Promise<QuotaRow> {
    requireSuperuser(req);
    const saved = await this.quotas.put({
      scope: body.scope,
      name: body.name,
      maxRuns: body.maxRuns ?? null,
      cpu: body.cpu ?? null,
      memoryMb: body.memoryMb ?? null,
      gpu: body.gpu ?? null,
      updatedBy: req.identity.username,
    });
    this.scheduler.quotasChanged(); // queued runs may fit now (or never)
    return saved;
  }

  @Delete('quotas')
  @HttpCode(204)
  async remove(@Req() req: AuthenticatedRequest, @Query() key: QuotaKeyQuery): Promise<void> {
    requireSuperuser(req);
    if (!(await this.quotas.remove(key.scope, key.name))) throw new NotFoundException(`no quota for ${key.scope} ${key.name}`);
    this.scheduler.quotasChanged();
  }
}

function requireSuperuser(req: AuthenticatedRequest): void {
  if (!req.identity.isSuperuser) throw new ForbiddenException('only superusers change quotas');
}
