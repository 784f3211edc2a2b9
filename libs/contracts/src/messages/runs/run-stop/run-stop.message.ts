import { IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { defineMessage } from '../../message-kind';

/** Command to the scheduler: stop this run (SIGTERM, then SIGKILL after the grace period). */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace RunStop {
  export const PATTERN = 'scheduler.cmd.run.stop.v1';
  export class Payload {
    @IsUUID() runUuid!: string;
    @IsOptional() @IsString() @MaxLength(1000) reason?: string;
  }
  export const definition = defineMessage(PATTERN, 'command', Payload);
}
