import { IsOptional, IsString, MaxLength } from 'class-validator';

/** `?path=`: a file or folder relative to the run's outputs (checked for safety by the store). */
export class OutputsPathQueryDto {
  @IsOptional() @IsString() @MaxLength(1024) path?: string;
}
