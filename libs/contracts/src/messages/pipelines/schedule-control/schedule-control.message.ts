import { ArrayMaxSize, IsArray, IsIn, IsUUID } from 'class-validator';
import { defineMessage } from '../../message-kind';

export const SCHEDULE_ACTIONS = ['get', 'pause', 'resume'] as const;
export type ScheduleAction = (typeof SCHEDULE_ACTIONS)[number];

/** A pipeline schedule as the pipelines service keeps it. */
export interface ScheduleView {
  uuid: string;
  /** active: fires its slots; paused: fires nothing until resumed; finished: past `end_at`; stopped. */
  status: 'active' | 'paused' | 'finished' | 'stopped';
  /** The next slot (ISO 8601), if any. */
  nextAt: string | null;
  /** Pipeline runs started for slots so far, and slots dropped by the catch-up policy. */
  fired: number;
  missed: number;
  /** Why nothing fires (depends_on_past). */
  blocked: string | null;
  lastSlot: { slot: string; status: string } | null;
  catchUp: string;
}

/** Request to the pipelines service (from the API): read, pause or resume schedules. */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace ScheduleControl {
  export const PATTERN = 'pipelines.req.schedule.control.v1';
  export class Payload {
    @IsArray() @ArrayMaxSize(1000) @IsUUID('all', { each: true }) scheduleUuids!: string[];
    @IsIn(SCHEDULE_ACTIONS) action!: ScheduleAction;
  }
  /** The schedules the service knows among those asked, after the action. */
  export interface Reply {
    schedules: ScheduleView[];
  }
  export const definition = defineMessage(PATTERN, 'request', Payload);
}
