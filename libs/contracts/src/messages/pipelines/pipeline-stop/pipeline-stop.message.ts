import { IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { defineMessage } from '../../message-kind';

/** Command to the pipelines service: stop a pipeline run (its running op runs get RunStop, the others `stopped`). */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace PipelineStop {
  export const PATTERN = 'pipelines.cmd.pipeline.stop.v1';
  export class Payload {
    @IsUUID() pipelineUuid!: string;
    @IsOptional() @IsString() @MaxLength(1000) reason?: string;
  }
  export const definition = defineMessage(PATTERN, 'command', Payload);
}
