import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { RunStatusReport } from '@myelin/contracts';

export class MetricPointDto {
  @ApiProperty() name!: string;
  @ApiProperty({ oneOf: [{ type: 'number' }, { type: 'string', enum: ['NaN', 'Infinity', '-Infinity'] }] }) value!: number | string;
  @ApiPropertyOptional() step?: number;
  @ApiPropertyOptional({ description: 'ISO-8601 or seconds since the epoch' }) timestamp?: string | number;
}

/** Documented for OpenAPI; validated by hand in ingest-body.ts (see there why). */
export class MetricsBatchDto {
  @ApiProperty({ description: 'client-generated id; a batch sent again with the same id is stored once' }) batchId!: string;
  @ApiProperty({ type: [MetricPointDto] }) points!: MetricPointDto[];
}

export class LogLineDto {
  @ApiProperty() line!: string;
  @ApiPropertyOptional({ enum: ['stdout', 'stderr'] }) stream?: string;
  @ApiPropertyOptional() timestamp?: string | number;
}

export class LogsBatchDto {
  @ApiProperty() batchId!: string;
  @ApiProperty({ type: [LogLineDto] }) lines!: LogLineDto[];
}

export class ParamsDto {
  @ApiProperty({ type: 'object', additionalProperties: true, example: { lr: 0.01, optimizer: 'adam' } })
  @IsObject()
  params!: Record<string, unknown>;
}

export class TagsDto {
  @ApiProperty({ type: [String] })
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MinLength(1, { each: true })
  @MaxLength(100, { each: true })
  tags!: string[];
}

export class StatusReportDto {
  @ApiProperty({ enum: RunStatusReport.REPORTABLE }) @IsIn(RunStatusReport.REPORTABLE) status!: RunStatusReport.Reportable;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(10_000) message?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(100_000) traceback?: string;
}

export class CodeRefDto {
  @ApiProperty() @IsString() @Matches(/^[0-9a-f]{7,64}$/, { message: 'commit must be a hexadecimal git commit id' }) commit!: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(500) branch?: string;
  @ApiPropertyOptional() @IsOptional() @IsBoolean() dirty?: boolean;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(2000) remote?: string;
}

export class EnvironmentDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(500) host?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(500) platform?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(100) python?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(100) node?: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } }) @IsOptional() @IsObject() packages?: Record<string, string>;
}

export class DataRefDto {
  @ApiProperty() @IsString() @MinLength(1) @MaxLength(250) name!: string;
  @ApiProperty({ description: 'content hash, e.g. sha256:…' }) @IsString() @MinLength(1) @MaxLength(200) hash!: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(4096) path?: string;
}

export class DataRefsDto {
  @ApiProperty({ type: [DataRefDto] })
  @IsArray()
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => DataRefDto)
  refs!: DataRefDto[];
}
