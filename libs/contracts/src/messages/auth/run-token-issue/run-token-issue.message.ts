import { IsUUID } from 'class-validator';
import { defineMessage } from '../../message-kind';

/**
 * Request to the API from an executor about to start a run: a token scoped to that run (write
 * its tracking data, read its project), revoked when the run ends. Asked at launch and handed
 * only to the job's environment, so the clear token is never stored anywhere.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace RunTokenIssue {
  export const PATTERN = 'api.req.run-token.issue.v1';
  export class Payload {
    @IsUUID() runUuid!: string;
  }
  export interface Reply {
    token: string;
  }
  export const definition = defineMessage(PATTERN, 'request', Payload);
}
