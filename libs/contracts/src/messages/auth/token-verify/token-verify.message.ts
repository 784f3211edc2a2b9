import { IsIn, IsOptional, IsString, IsUUID, MaxLength, MinLength } from 'class-validator';
import { defineMessage } from '../../message-kind';

export type RunAccess = 'none' | 'read' | 'write';

/**
 * Request to the API: who does this token belong to, and (when `runUuid` is given) what may it
 * do with that run? Lets services other than the API authenticate and authorize callers
 * without reading the API's tables.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace TokenVerify {
  export const PATTERN = 'api.req.token.verify.v1';
  export class Payload {
    @IsString() @MinLength(10) @MaxLength(200) token!: string;
    @IsOptional() @IsUUID() runUuid?: string;
    @IsOptional() @IsIn(['read', 'write']) want?: 'read' | 'write';
  }
  export interface Reply {
    valid: boolean;
    userId?: string;
    username?: string;
    isSuperuser?: boolean;
    /** Set for run-scoped tokens: the only run the token may write to. */
    tokenRunUuid?: string;
    /** Access to `runUuid` when it was asked. */
    access?: RunAccess;
  }
  export const definition = defineMessage(PATTERN, 'request', Payload);
}
