import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsIn, IsOptional, IsISO8601, IsString, IsUUID, MaxLength, ValidateNested } from 'class-validator';
import { defineMessage } from '../../message-kind';

export const LOG_STREAMS = ['stdout', 'stderr', 'system'] as const;
export type LogStream = (typeof LOG_STREAMS)[number];

/** Command to tracking: store these log lines of a run. `batchId` makes a redelivery harmless. */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace LogLinesAppend {
  export const PATTERN = 'tracking.cmd.logs.append.v1';
  export const MAX_LINES = 5000;
  export class Line {
    @IsISO8601() at!: string;
    @IsIn(LOG_STREAMS) stream!: LogStream;
    @IsString() @MaxLength(64 * 1024) line!: string;
  }
  export class Payload {
    @IsUUID() runUuid!: string;
    /** Client-generated id; the same id is stored once. */
    @IsString() @MaxLength(100) batchId!: string;
    @IsArray() @ArrayMaxSize(MAX_LINES) @ValidateNested({ each: true }) @Type(() => Line) lines!: Line[];
    /** The producer's last batch for this run: log followers may end their stream after it. */
    @IsOptional() @IsBoolean() final?: boolean;
  }
  export const definition = defineMessage(PATTERN, 'command', Payload);
}
