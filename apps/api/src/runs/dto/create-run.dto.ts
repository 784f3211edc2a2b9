import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsInt,
  Max,
  Min,
  IsOptional,
  IsString,
  MaxLength,
  MinLength,
  ValidateNested,
  Matches,
} from 'class-validator';
import { IsTagList } from '../../common/tag-list';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsStringRecord } from './is-string-record';

export class PolyaxonfileDto {
  /** Name shown in error messages (`polyaxonfile.yml:12:5: ...`). */
  @ApiProperty({ example: 'polyaxonfile.yml' })
  @IsString() @MinLength(1) @MaxLength(500) path!: string;
  @ApiProperty({ description: 'the YAML text' }) @IsString() @MaxLength(1_000_000) content!: string;
}

export class CreateRunDto {
  /** One or more polyaxonfiles, deep-merged in order (like repeated `-f`). */
  @ApiProperty({ type: [PolyaxonfileDto] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(20)
  @ValidateNested({ each: true })
  @Type(() => PolyaxonfileDto)
  files!: PolyaxonfileDto[];

  /** `-P name=value` overrides, as typed on the command line; converted to the declared types. */
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional() @IsStringRecord() params?: Record<string, string>;

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(200) @Matches(/^[A-Za-z0-9_.-]+$/, { message: 'name may use letters, digits, _ . -' })
  name?: string;

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(10_000) description?: string;

  @IsTagList() tags?: string[];

  /** Absolute directory of the run's code on the submitting machine (local executor snapshots it). */
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(4096) codeDir?: string;
  @ApiPropertyOptional({ description: "The code's version: a content reference of the code directory (`tree:<hex>`, as `myelin run` sends it) or a commit. Part of a pipeline's cache keys." })
  @IsOptional()
  @IsString()
  @Matches(/^[\w.:+/@-]{1,200}$/, { message: 'codeRef must be 1-200 characters of letters, digits and . : + / @ - _' })
  codeRef?: string;

  /** Pipelines: the polyaxonfiles of ops whose template is a `path` (relative to the code directory). */
  @ApiPropertyOptional({ type: [PolyaxonfileDto] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(200)
  @ValidateNested({ each: true })
  @Type(() => PolyaxonfileDto)
  templateFiles?: PolyaxonfileDto[];

  /** Pipelines: run every `cache: true` op again instead of reusing an earlier identical run. */
  @ApiPropertyOptional() @IsOptional() @IsBoolean() noCache?: boolean;

  /**
   * Queue priority (higher starts first; FIFO within a priority). Above 0 only for superusers,
   * as with `PUT /api/v1/scheduler/queue/{run}/priority`.
   */
  @ApiPropertyOptional({ minimum: -1000, maximum: 1000 }) @IsOptional() @IsInt() @Min(-1000) @Max(1000) priority?: number;
}
