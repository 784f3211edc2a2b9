import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsInt, IsNumber, IsOptional, IsString, IsUUID, MaxLength, Min, ValidateNested } from 'class-validator';
import { defineMessage } from '../../message-kind';

/**
 * Fact: a run's metric summaries after new points (last, min, max, count, last step per metric).
 * The API keeps them to filter and sort runs by metrics without reading tracking's tables.
 * `count` only grows, so a consumer keeps the summary with the highest count.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace MetricsSummarized {
  export const PATTERN = 'tracking.evt.metrics.summarized.v1';
  export class Summary {
    @IsString() @MaxLength(250) name!: string;
    /** Non-finite values travel as null here (JSON has no NaN); min/max ignore them. */
    @IsOptional() @IsNumber() last!: number | null;
    @IsOptional() @IsInt() lastStep!: number | null;
    @IsOptional() @IsNumber() min!: number | null;
    @IsOptional() @IsNumber() max!: number | null;
    @IsInt() @Min(0) count!: number;
  }
  export class Payload {
    @IsUUID() runUuid!: string;
    @IsArray() @ArrayMaxSize(10_000) @ValidateNested({ each: true }) @Type(() => Summary) metrics!: Summary[];
  }
  export const definition = defineMessage(PATTERN, 'event', Payload);
}
