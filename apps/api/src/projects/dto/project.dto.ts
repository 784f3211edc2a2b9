import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { IsTagList } from '../../common/tag-list';
import { ROLES, Role } from '@myelin/persistence';

export const NAME_FORMAT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

export class CreateProjectDto {
  @ApiProperty({ example: 'mnist', description: 'letters, digits, _ . - (at most 100)' })
  @IsString()
  @Matches(NAME_FORMAT, { message: 'name may use letters, digits, _ . - and start with a letter or digit' })
  name!: string;

  @ApiPropertyOptional({ description: 'organization that owns the project; the caller when absent' })
  @IsOptional()
  @IsString()
  @Matches(NAME_FORMAT)
  owner?: string;

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(10_000) description?: string;
  @ApiPropertyOptional({ default: false }) @IsOptional() @IsBoolean() isPublic?: boolean;
  @IsTagList() tags?: string[];
}

export class UpdateProjectDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @Matches(NAME_FORMAT) name?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(10_000) description?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(1_000_000) readme?: string;
  @ApiPropertyOptional() @IsOptional() @IsBoolean() isPublic?: boolean;
  @IsTagList() tags?: string[];
}

export class GrantDto {
  @ApiPropertyOptional({ description: 'a username (exactly one of user or team)' })
  @IsOptional()
  @IsString()
  user?: string;

  @ApiPropertyOptional({ description: 'a team of the owning organization, "org/team"' })
  @IsOptional()
  @IsString()
  team?: string;

  @ApiProperty({ enum: ROLES }) @IsIn(ROLES) role!: Role;
}

export class ProjectView {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'alice/mnist' }) fullName!: string;
  @ApiProperty() owner!: string;
  @ApiProperty() name!: string;
  @ApiProperty() description!: string;
  @ApiProperty() readme!: string;
  @ApiProperty() isPublic!: boolean;
  @ApiProperty({ type: [String] }) tags!: string[];
  @ApiProperty({ nullable: true, type: String }) archivedAt!: string | null;
  @ApiProperty({ enum: ROLES, description: "the caller's role" }) role!: Role;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;
}
