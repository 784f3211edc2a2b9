import { IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { defineMessage } from '../../message-kind';

/**
 * Command to the API: stop this run, whatever its kind. The scheduler runs only jobs, so a service
 * that may hold a group or a pipeline (a pipeline's op whose template is a group, at its timeout)
 * asks the API, which knows each kind's way to stop: `RunStop` to the scheduler for a job, `stopping`
 * plus `GroupStop` and its trials' stops for a group, `PipelineStop` for a pipeline.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace RunStopRequest {
  export const PATTERN = 'api.cmd.run.stop.v1';
  export class Payload {
    @IsUUID() runUuid!: string;
    @IsOptional() @IsString() @MaxLength(1000) reason?: string;
  }
  export const definition = defineMessage(PATTERN, 'command', Payload);
}
