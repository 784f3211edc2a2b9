import { Inject, Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { PipelineRunCreate, RunStatus, ScheduleAction, ScheduleControl, ScheduleView } from '@myelin/contracts';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';
import { CatchUpPolicy, createScheduleState, nextScheduleSlot, onScheduledRunDone, scheduleTick } from '@myelin/dag';
import { OutboxRelay } from '@myelin/persistence';
import type { CompiledSpec, Schedule } from '@myelin/spec';
import { PIPELINES_ENV } from '../tokens';
import { PipelinesEnv } from '../config/env';
import { PipelinesRepository } from '../runs/pipelines.repository';
import { ScheduleRow, SchedulesRepository } from './schedules.repository';

const iso = (t: number | Date | null | undefined): string | null => (t === null || t === undefined ? null : new Date(t).toISOString());

/**
 * Scheduled pipelines (`schedule:` interval or cron). The schedule's own run stays `running` while
 * it is active; at each due tick `scheduleTick` (libs/dag) says which slots fire, the slots are
 * written down with the new state in one transaction, then the API is asked for each slot's
 * pipeline run (PipelineRunCreate, idempotent on the slot). Missed slots after downtime follow the
 * catch-up policy: the schedule's own `catch_up` (Myelin extension), else the service's
 * `MYELIN_SCHEDULE_CATCH_UP` (latest, all, none), kept with the schedule. With `depends_on_past` the
 * schedule waits for each slot's run, and holds after one that did not succeed until that slot
 * succeeds (`myelin pipeline retry` of its run counts for the slot).
 */
@Injectable()
export class ScheduleService {
  private readonly logger = new Logger('Schedules');

  constructor(
    private readonly repo: SchedulesRepository,
    private readonly pipelines: PipelinesRepository,
    private readonly relay: OutboxRelay,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(PIPELINES_ENV) private readonly env: PipelinesEnv,
  ) {}

  private scheduleOf(row: { spec: Record<string, unknown> }): Schedule {
    return (row.spec as unknown as CompiledSpec).raw.schedule!;
  }

  /** A scheduled pipeline was created: register it (once) and say when it fires first. */
  async created(uuid: string, project: string, spec: Record<string, unknown>): Promise<void> {
    const schedule = (spec as unknown as CompiledSpec).raw.schedule!;
    const now = Date.now();
    await this.repo.insert(uuid, project, spec, createScheduleState(schedule, now), schedule.catch_up ?? this.env.MYELIN_SCHEDULE_CATCH_UP);
    await this.repo.dataSource.transaction(async (m) => {
      const row = await this.repo.lock(m, uuid);
      if (!row || row.fired > 0 || row.nextAt) return;
      const first = nextScheduleSlot(schedule, now - 1);
      await this.pipelines.announce(m, uuid, 'running', 'Scheduled', first ? `schedule: first run at ${iso(first)}` : 'schedule: no slot left');
    });
    this.relay.poke();
  }

  /** One pass: tick the due schedules, then ask for the runs of fired slots. */
  async pass(): Promise<void> {
    for (const uuid of await this.repo.due(new Date())) await this.tickOne(uuid);
    for (const slot of await this.repo.pendingSlots()) {
      try {
        const reply = await this.bus.request<PipelineRunCreate.Reply>(
          PipelineRunCreate.PATTERN,
          { scheduleUuid: slot.scheduleUuid, slot: slot.slot.toISOString() } satisfies PipelineRunCreate.Payload,
          15_000,
        );
        await this.repo.attachRun(slot.scheduleUuid, slot.slot, reply.runUuid);
      } catch (error) {
        this.logger.warn(`schedule ${slot.scheduleUuid}: run of ${slot.slot.toISOString()} not created yet (${String(error)})`);
        return;
      }
    }
  }

  private async tickOne(uuid: string): Promise<void> {
    await this.repo.dataSource.transaction(async (m) => {
      const row = await this.repo.lock(m, uuid);
      if (!row || row.status !== 'active' || row.paused) return;
      const schedule = this.scheduleOf(row);
      const t = scheduleTick(schedule, row.state, Date.now(), { catchUp: row.catchUp as CatchUpPolicy });
      for (const slot of t.fire) await this.repo.insertSlot(m, uuid, slot);
      if (t.missedCount) this.logger.log(`schedule ${uuid}: ${t.missedCount} slot(s) missed (catch-up ${row.catchUp})`);
      const fired = row.fired + t.fire.length;
      const missed = row.missed + t.missedCount;
      if (t.finished) {
        await this.repo.save(m, uuid, { state: t.state, status: 'finished', nextAt: null, fired, missed, blocked: null });
        await this.pipelines.announce(m, uuid, 'succeeded', 'ScheduleEnded', `schedule ended: ${fired} run(s), ${missed} missed`);
        return;
      }
      // In flight with depends_on_past: no next time; the end of that run sets next_at again.
      const nextAt = t.nextAt ?? (t.blocked ? Date.now() + 3_600_000 : null);
      await this.repo.save(m, uuid, { state: t.state, nextAt, fired, missed, blocked: t.blocked ?? null });
    });
    this.relay.poke();
  }

  /**
   * A pipeline run ended (inside the runner's transaction): if it is a slot's run, or the retry of
   * one, the schedule learns how it went (depends_on_past) and ticks again soon.
   */
  async pipelineDone(m: EntityManager, runUuid: string, resumeOf: string | null, status: string): Promise<void> {
    let slot = await this.repo.slotByRun(m, runUuid);
    if (!slot && resumeOf) slot = await this.repo.slotByRun(m, resumeOf);
    if (!slot) return;
    const row = await this.repo.lock(m, slot.scheduleUuid);
    if (!row) return;
    await this.repo.settleSlot(m, slot, runUuid, status);
    const state = onScheduledRunDone(row.state, slot.slot.getTime(), status as RunStatus);
    await this.repo.save(m, row.uuid, { state, nextAt: null, blocked: null });
  }

  /** Stop a schedule: no more slots. Returns false when `uuid` is not a schedule. */
  async stop(uuid: string): Promise<boolean> {
    const found = await this.repo.find(this.repo.dataSource, uuid);
    if (!found) return false;
    await this.repo.dataSource.transaction(async (m) => {
      const row = await this.repo.lock(m, uuid);
      if (!row || row.status !== 'active') return;
      await this.repo.save(m, uuid, { status: 'stopped', nextAt: null });
      await this.pipelines.announce(m, uuid, 'stopped', 'Stopped', `schedule stopped after ${row.fired} run(s)`);
    });
    this.relay.poke();
    return true;
  }

  async control(request: ScheduleControl.Payload): Promise<ScheduleControl.Reply> {
    if (request.action !== 'get') await this.setPaused(request.scheduleUuids, request.action);
    const rows = await this.repo.findMany(request.scheduleUuids);
    return { schedules: rows.map((r) => this.view(r)) };
  }

  private async setPaused(uuids: string[], action: Exclude<ScheduleAction, 'get'>): Promise<void> {
    for (const uuid of uuids) {
      await this.repo.dataSource.transaction(async (m) => {
        const row = await this.repo.lock(m, uuid);
        if (!row || row.status !== 'active') return;
        // Resuming ticks at once: slots due while paused follow the catch-up policy.
        await this.repo.save(m, uuid, action === 'pause' ? { paused: true } : { paused: false, nextAt: null });
      });
    }
  }

  private view(r: ScheduleRow): ScheduleView {
    const next = r.status === 'active' ? (r.nextAt ? r.nextAt.getTime() : nextScheduleSlot(this.scheduleOf(r), r.state.cursor)) : undefined;
    return {
      uuid: r.uuid,
      status: r.status === 'active' && r.paused ? 'paused' : r.status,
      nextAt: iso(next),
      fired: r.fired,
      missed: r.missed,
      blocked: r.blocked,
      lastSlot: r.state.last ? { slot: new Date(r.state.last.slot).toISOString(), status: r.state.last.status } : null,
      catchUp: r.catchUp,
    };
  }
}
