import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsInt, IsOptional, IsString, IsUUID, Max, Min } from 'class-validator';

const commaList = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.split(',').filter(Boolean) : value);

export class LogsQueryDto {
  /** Return lines after this id (the `id` of the last line seen). */
  @ApiPropertyOptional() @IsOptional() @Type(() => Number) @IsInt() @Min(0) after: number = 0;
  @ApiPropertyOptional() @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(10_000) limit: number = 1000;
}

export class MetricsQueryDto {
  /** Comma-separated metric names; all when absent. */
  @ApiPropertyOptional({ description: 'comma-separated metric names; all when absent' })
  @IsOptional()
  @Transform(commaList)
  @IsArray()
  @IsString({ each: true })
  names?: string[];

  @ApiPropertyOptional() @IsOptional() @Type(() => Number) @IsInt() @Min(0) from_step?: number;
  @ApiPropertyOptional() @IsOptional() @Type(() => Number) @IsInt() @Min(0) to_step?: number;

  /** Longer series are downsampled (min/max per bucket, then LTTB) to this many points. */
  @ApiPropertyOptional({ description: 'downsample longer series to this many points (LTTB)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(3)
  @Max(100_000)
  points?: number;
}

export class MultiRunMetricsQueryDto extends MetricsQueryDto {
  @ApiPropertyOptional({ description: 'comma-separated run uuids (at most 50)' })
  @Transform(commaList)
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @IsUUID('all', { each: true })
  runs!: string[];
}
