import { IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { defineMessage } from '../../message-kind';
import { IsPlainObject } from '../../validators';

/**
 * Request to the API from the optimizer: create (or return, if it exists) the child run of a
 * group for one trial. `trialKey` makes a retried request return the same run.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace TrialCreate {
  export const PATTERN = 'api.req.trial.create.v1';
  export class Payload {
    @IsUUID() groupUuid!: string;
    @IsString() @MaxLength(100) @Matches(/^[A-Za-z0-9_.:-]+$/) trialKey!: string;
    /** The trial's matrix params (and the resource param for hyperband/asha). */
    @IsPlainObject() params!: Record<string, unknown>;
    /** hyperband with `resume`: continue from this earlier trial's outputs (its checkpoints). */
    @IsOptional() @IsString() @MaxLength(100) resumeFromTrialKey?: string;
  }
  /**
   * The trial's run as it is now: a repeated request doubles as a status check, so the optimizer
   * catches up with events it missed (for instance while its run was not yet attached).
   */
  export interface Reply {
    runUuid: string;
    number: number;
    status: string;
    /** Last value and step of each metric the run reported so far. */
    metrics: Record<string, { last: number | null; lastStep: number | null }>;
  }
  export const definition = defineMessage(PATTERN, 'request', Payload);
}
