import { IsIn, IsInt, IsISO8601, IsOptional, IsString, IsUUID, MaxLength, Min } from 'class-validator';
import { defineMessage } from '../../message-kind';
import { isFinal, RUN_STATUSES, RunStatus } from '../../../runs/run-status';

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
  /**
   * `<final|live>.<group|pipeline|none|unknown>`: whether the status is final, and what the run
   * belongs to (`unknown` when the sender does not say). The optimizer and the pipelines service act
   * only on the final statuses of their own children, so they subscribe to `finalChildrenOf` and
   * never receive the other five or so events of every run.
   */
  export function topicOf(payload: Pick<Payload, 'status' | 'parentUuid' | 'parentKind'>): string {
    const parent = payload.parentKind ?? (payload.parentUuid === null ? 'none' : 'unknown');
    return `${isFinal(payload.status) ? 'final' : 'live'}.${parent}`;
  }
  /** The topics of the final statuses of a group's or a pipeline's children (and of runs whose parent is not said). */
  export function finalChildrenOf(parentKind: 'group' | 'pipeline'): string[] {
    return [`final.${parentKind}`, 'final.unknown'];
  }
  /** The topics of every final status (a subscriber that acts on runs' ends only). */
  export const FINAL_TOPICS: readonly string[] = ['final.group', 'final.pipeline', 'final.none', 'final.unknown'];
  export const definition = defineMessage(PATTERN, 'event', Payload, { topic: topicOf });
}
