import { IsUUID } from 'class-validator';
import { defineMessage } from '../../message-kind';

/** Command to the optimizer: start no more trials for this group (the API stops the running ones). */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace GroupStop {
  export const PATTERN = 'optimizer.cmd.group.stop.v1';
  export class Payload {
    @IsUUID() groupUuid!: string;
  }
  export const definition = defineMessage(PATTERN, 'command', Payload);
}
