import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsObject, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { IsTagList } from '../common/tag-list';

export class CreateExternalRunDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(200) @Matches(/^[A-Za-z0-9_.-]+$/, { message: 'name may use letters, digits, _ . -' })
  name?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(10_000) description?: string;
  @IsTagList() tags?: string[];
  /** Params known when the run starts (the client may log more later, write-once). */
  @ApiPropertyOptional({ type: 'object', additionalProperties: true }) @IsOptional() @IsObject() params?: Record<string, unknown>;
}
