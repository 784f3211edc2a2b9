import { IsISO8601, IsUUID } from 'class-validator';
import { defineMessage } from '../../message-kind';

/**
 * Fact: a running job said it is alive (its tracking client calls `POST .../heartbeat`). Tracking
 * relays at most one per run every few seconds; the scheduler records it with the run's execution,
 * so a run whose process or pod it cannot see is not failed as a zombie while its job still beats.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace RunHeartbeat {
  export const PATTERN = 'tracking.evt.run.heartbeat.v1';
  export class Payload {
    @IsUUID() runUuid!: string;
    /** When tracking received it (ISO-8601). */
    @IsISO8601() at!: string;
  }
  export const definition = defineMessage(PATTERN, 'event', Payload);
}
