import { Transform, Type } from 'class-transformer';
import { IsArray, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';

export class LogsQueryDto {
  /** Return lines after this id (the `id` of the last line seen). */
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) after: number = 0;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(10_000) limit: number = 1000;
}

export class MetricsQueryDto {
  /** Comma-separated metric names; all when absent. */
  @IsOptional()
  @Transform(({ value }) => (typeof value === 'string' ? value.split(',').filter(Boolean) : value))
  @IsArray()
  @IsString({ each: true })
  names?: string[];
}
