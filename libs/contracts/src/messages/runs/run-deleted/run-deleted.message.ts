import { IsISO8601, IsUUID } from 'class-validator';
import { defineMessage } from '../../message-kind';

/**
 * Fact: the API deleted a run. Services drop what they keep of it: tracking its logs and
 * metrics, the scheduler its process (stopped) and working directory with the outputs.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace RunDeleted {
  export const PATTERN = 'api.evt.run.deleted.v1';
  export class Payload {
    @IsUUID() runUuid!: string;
    @IsISO8601() at!: string;
  }
  export const definition = defineMessage(PATTERN, 'event', Payload);
}
