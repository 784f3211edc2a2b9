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
  export interface Reply {
    runUuid: string;
    number: number;
  }
  export const definition = defineMessage(PATTERN, 'request', Payload);
}
