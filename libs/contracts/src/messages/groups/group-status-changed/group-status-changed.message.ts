import { IsIn, IsISO8601, IsString, IsUUID, MaxLength } from 'class-validator';
import { defineMessage } from '../../message-kind';

export const GROUP_STATUSES = ['running', 'done', 'failed', 'stopped'] as const;
export type GroupStatus = (typeof GROUP_STATUSES)[number];

/** Fact: the optimizer moved a group (running while trials go, done when the search ended). */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace GroupStatusChanged {
  export const PATTERN = 'optimizer.evt.group.status-changed.v1';
  export class Payload {
    @IsUUID() groupUuid!: string;
    @IsIn(GROUP_STATUSES) status!: GroupStatus;
    @IsString() @MaxLength(200) reason!: string;
    @IsString() @MaxLength(10_000) message!: string;
    @IsISO8601() at!: string;
  }
  export const definition = defineMessage(PATTERN, 'event', Payload);
}
