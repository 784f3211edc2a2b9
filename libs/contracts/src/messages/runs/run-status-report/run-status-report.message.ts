import { IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { defineMessage } from '../../message-kind';

/**
 * Request to the API: a run tracked from outside the platform (a script on a laptop) reports
 * its own status. Runs the scheduler executes refuse it: their status comes from their process.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace RunStatusReport {
  export const PATTERN = 'api.req.run-status.report.v1';
  export const REPORTABLE = ['running', 'succeeded', 'failed', 'stopped'] as const;
  export type Reportable = (typeof REPORTABLE)[number];
  export class Payload {
    @IsUUID() runUuid!: string;
    @IsIn(REPORTABLE) status!: Reportable;
    @IsOptional() @IsString() @MaxLength(10_000) message?: string;
    @IsOptional() @IsString() @MaxLength(100_000) traceback?: string;
  }
  export interface Reply {
    ok: boolean;
    /** The run's status after the report. */
    status?: string;
    /** Why the report was refused (the run is managed by the scheduler, or already final). */
    error?: string;
  }
  export const definition = defineMessage(PATTERN, 'request', Payload);
}
