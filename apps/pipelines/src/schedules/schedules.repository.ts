import { DataSource, EntityManager } from 'typeorm';
import type { ScheduleState } from '@myelin/dag';

export interface ScheduleRow {
  uuid: string;
  project: string;
  spec: Record<string, unknown>;
  state: ScheduleState;
  status: 'active' | 'finished' | 'stopped';
  paused: boolean;
  catchUp: string;
  nextAt: Date | null;
  fired: number;
  missed: number;
  blocked: string | null;
}

export interface SlotRow {
  scheduleUuid: string;
  slot: Date;
  runUuid: string | null;
  status: string | null;
}

const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

function toSchedule(r: Record<string, unknown>): ScheduleRow {
  return {
    uuid: r['uuid'] as string,
    project: r['project'] as string,
    spec: json(r['spec']),
    state: json(r['state']),
    status: r['status'] as ScheduleRow['status'],
    paused: Boolean(r['paused']),
    catchUp: r['catch_up'] as string,
    nextAt: r['next_at'] ? new Date(r['next_at'] as string) : null,
    fired: Number(r['fired']),
    missed: Number(r['missed']),
    blocked: (r['blocked'] as string | null) ?? null,
  };
}

function toSlot(r: Record<string, unknown>): SlotRow {
  return {
    scheduleUuid: r['schedule_uuid'] as string,
    slot: new Date(r['slot'] as string),
    runUuid: (r['run_uuid'] as string | null) ?? null,
    status: (r['status'] as string | null) ?? null,
  };
}

/** The pipelines service's schedules (schema `pipelines`): state per schedule, one row per fired slot. */
export class SchedulesRepository {
  constructor(readonly dataSource: DataSource) {}

  async insert(uuid: string, project: string, spec: Record<string, unknown>, state: ScheduleState, catchUp: string): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO "pipelines"."schedules" ("uuid", "project", "spec", "state", "catch_up") VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [uuid, project, JSON.stringify(spec), JSON.stringify(state), catchUp],
    );
  }

  async find(m: EntityManager | DataSource, uuid: string): Promise<ScheduleRow | null> {
    const rows = (await m.query(`SELECT * FROM "pipelines"."schedules" WHERE "uuid" = $1`, [uuid])) as Array<Record<string, unknown>>;
    return rows.length ? toSchedule(rows[0]) : null;
  }

  async findMany(uuids: string[]): Promise<ScheduleRow[]> {
    if (!uuids.length) return [];
    const rows = (await this.dataSource.query(`SELECT * FROM "pipelines"."schedules" WHERE "uuid" = ANY($1::uuid[])`, [uuids])) as Array<Record<string, unknown>>;
    return rows.map(toSchedule);
  }

  async lock(m: EntityManager, uuid: string): Promise<ScheduleRow | null> {
    const rows = (await m.query(`SELECT * FROM "pipelines"."schedules" WHERE "uuid" = $1 FOR UPDATE`, [uuid])) as Array<Record<string, unknown>>;
    return rows.length ? toSchedule(rows[0]) : null;
  }

  async save(
    m: EntityManager,
    uuid: string,
    change: { state?: ScheduleState; status?: ScheduleRow['status']; nextAt?: number | null; fired?: number; missed?: number; blocked?: string | null; paused?: boolean },
  ): Promise<void> {
    const sets: string[] = [];
    const params: unknown[] = [uuid];
    const set = (column: string, value: unknown) => {
      params.push(value);
      sets.push(`"${column}" = $${params.length}`);
    };
    if (change.state) set('state', JSON.stringify(change.state));
    if (change.status) set('status', change.status);
    if (change.nextAt !== undefined) set('next_at', change.nextAt === null ? null : new Date(change.nextAt));
    if (change.fired !== undefined) set('fired', change.fired);
    if (change.missed !== undefined) set('missed', change.missed);
    if (change.blocked !== undefined) set('blocked', change.blocked);
    if (change.paused !== undefined) set('paused', change.paused);
    await m.query(`UPDATE "pipelines"."schedules" SET ${[...sets, `"updated_at" = now()`].join(', ')} WHERE "uuid" = $1`, params);
  }

  /** Active, unpaused schedules whose next tick is due (or unknown). */
  async due(now: Date): Promise<string[]> {
    const rows = (await this.dataSource.query(
      `SELECT "uuid" FROM "pipelines"."schedules" WHERE "status" = 'active' AND NOT "paused" AND ("next_at" IS NULL OR "next_at" <= $1)`,
      [now],
    )) as Array<{ uuid: string }>;
    return rows.map((r) => r.uuid);
  }

  async insertSlot(m: EntityManager, uuid: string, slot: number): Promise<void> {
    await m.query(`INSERT INTO "pipelines"."schedule_slots" ("schedule_uuid", "slot") VALUES ($1, $2) ON CONFLICT DO NOTHING`, [uuid, new Date(slot)]);
  }

  /** Slots fired whose pipeline run the API has not confirmed yet. */
  async pendingSlots(): Promise<SlotRow[]> {
    const rows = (await this.dataSource.query(`SELECT * FROM "pipelines"."schedule_slots" WHERE "run_uuid" IS NULL ORDER BY "slot"`)) as Array<Record<string, unknown>>;
    return rows.map(toSlot);
  }

  async attachRun(scheduleUuid: string, slot: Date, runUuid: string): Promise<void> {
    await this.dataSource.query(`UPDATE "pipelines"."schedule_slots" SET "run_uuid" = $3 WHERE "schedule_uuid" = $1 AND "slot" = $2`, [scheduleUuid, slot, runUuid]);
  }

  async slotByRun(m: EntityManager, runUuid: string): Promise<SlotRow | null> {
    const rows = (await m.query(`SELECT * FROM "pipelines"."schedule_slots" WHERE "run_uuid" = $1`, [runUuid])) as Array<Record<string, unknown>>;
    return rows.length ? toSlot(rows[0]) : null;
  }

  async settleSlot(m: EntityManager, slot: SlotRow, runUuid: string, status: string): Promise<void> {
    await m.query(`UPDATE "pipelines"."schedule_slots" SET "run_uuid" = $3, "status" = $4 WHERE "schedule_uuid" = $1 AND "slot" = $2`, [
      slot.scheduleUuid,
      slot.slot,
      runUuid,
      status,
    ]);
  }
}
