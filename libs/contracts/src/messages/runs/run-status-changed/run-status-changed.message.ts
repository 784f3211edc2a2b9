import { IsIn, IsInt, IsISO8601, IsOptional, IsString, IsUUID, MaxLength, Min } from 'class-validator';
import { defineMessage } from '../../message-kind';
import { RUN_STATUSES, RunStatus } from '../../../runs/run-status';

/**
 * Fact: the scheduler observed a new status for a run. Consumers apply it through
 * the state machine, so duplicates and out-of-order deliveries are harmless.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace RunStatusChanged {
  export const PATTERN = 'scheduler.evt.run.status-changed.v1';
  export class Payload {
    @IsUUID() runUuid!: string;
    @IsIn(RUN_STATUSES) status!: RunStatus;
    @IsString() @MaxLength(200) reason!: string;
    @IsString() @MaxLength(10_000) message!: string;
    @IsISO8601() at!: string;
    @IsOptional() @IsInt() exitCode?: number;
    @IsOptional() @IsInt() @Min(0) attempt?: number;
    /**
     * The group or pipeline the run belongs to; null when it belongs to none. Absent when the sender
     * does not know (then a consumer that follows only its own children must look the run up).
     */
    @IsOptional() @IsUUID() parentUuid?: string | null;
    /**
     * What the parent is, when the sender knows it (absent or null: unknown, look it up): a consumer
     * that follows only groups (the optimizer) or only pipelines skips the other's children unread.
     */
    @IsOptional() @IsIn(['group', 'pipeline']) parentKind?: 'group' | 'pipeline' | null;
  }
  export const definition = defineMessage(PATTERN, 'event', Payload);
}
