import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsInt, IsOptional, IsString, Matches, MaxLength, Min, ValidateNested } from 'class-validator';
import { IsTagList } from '../../common/tag-list';
import { PolyaxonfileDto } from './create-run.dto';
import { IsStringRecord } from './is-string-record';

export class UpdateRunDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(200) @Matches(/^[A-Za-z0-9_.-]+$/) name?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(10_000) description?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(1_000_000) readme?: string;
  @IsTagList() tags?: string[];
}

export class BulkRunsDto {
  @ApiProperty({ type: [Number], description: 'run numbers' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @IsInt({ each: true })
  @Min(1, { each: true })
  ids!: number[];
}

export const CLONING_STRATEGIES = ['restart', 'resume', 'copy'] as const;
export type CloningStrategy = (typeof CLONING_STRATEGIES)[number];

export class CloneRunDto {
  @ApiPropertyOptional({ type: [PolyaxonfileDto], description: 'override polyaxonfile(s) deep-merged on top of the original' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @ValidateNested({ each: true })
  @Type(() => PolyaxonfileDto)
  files?: PolyaxonfileDto[];

  @ApiPropertyOptional({ description: '-P overrides' }) @IsOptional() @IsStringRecord() params?: Record<string, string>;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(10_000) description?: string;
}

export class CloneStrategyDto {
  @ApiProperty({ enum: CLONING_STRATEGIES }) @IsIn(CLONING_STRATEGIES) strategy!: CloningStrategy;
}
