import { IsString, MaxLength, MinLength } from 'class-validator';
import { defineMessage } from '../../message-kind';

/**
 * Request to the API: who does this token belong to? Lets services other than the API
 * authenticate callers without reading the API's tables.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace TokenVerify {
  export const PATTERN = 'api.req.token.verify.v1';
  export class Payload {
    @IsString() @MinLength(10) @MaxLength(200) token!: string;
  }
  export interface Reply {
    valid: boolean;
    userId?: string;
    username?: string;
    isSuperuser?: boolean;
    /** Set for run-scoped tokens: the only run the token may write to. */
    runUuid?: string;
    expiresAt?: string;
  }
  export const definition = defineMessage(PATTERN, 'request', Payload);
}
