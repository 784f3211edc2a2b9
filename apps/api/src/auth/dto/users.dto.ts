import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsEmail, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { NAME_FORMAT } from '../../projects/dto/project.dto';

export class CreateUserDto {
  @ApiProperty() @IsString() @Matches(NAME_FORMAT) username!: string;
  @ApiProperty({ minLength: 8 }) @IsString() @MinLength(8) @MaxLength(1000) password!: string;
  @ApiPropertyOptional() @IsOptional() @IsEmail() email?: string;
  @ApiPropertyOptional({ default: false }) @IsOptional() @IsBoolean() isSuperuser?: boolean;
}

export class CreateTokenDto {
  @ApiProperty({ example: 'laptop' }) @IsString() @MinLength(1) @MaxLength(100) name!: string;
  @ApiPropertyOptional({ description: 'days until it expires; never when absent', minimum: 1, maximum: 3650 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3650)
  expiresInDays?: number;
}
