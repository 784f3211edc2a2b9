import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsISO8601,
  IsNumber,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { defineMessage } from '../../message-kind';

/** Metric names: what a training script may reasonably use as a key. */
export const METRIC_NAME_FORMAT = /^[A-Za-z_][A-Za-z0-9_.\-/]*$/;

/** Command to tracking: store these metric points. `batchId` makes a redelivery harmless. */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace MetricsBatch {
  export const PATTERN = 'tracking.cmd.metrics.append.v1';
  export const MAX_POINTS = 10_000;
  export class Point {
    @IsString() @MaxLength(250) @Matches(METRIC_NAME_FORMAT) name!: string;
    @IsOptional() @IsInt() @Min(0) step?: number;
    @IsNumber({ allowNaN: true, allowInfinity: true }) value!: number;
    @IsISO8601() at!: string;
  }
  export class Payload {
    @IsUUID() runUuid!: string;
    @IsString() @MaxLength(100) batchId!: string;
    @IsArray() @ArrayMaxSize(MAX_POINTS) @ValidateNested({ each: true }) @Type(() => Point) points!: Point[];
  }
  export const definition = defineMessage(PATTERN, 'command', Payload);
}
