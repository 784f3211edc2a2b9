import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, Matches } from 'class-validator';
import { ROLES, Role } from '@myelin/persistence';
import { NAME_FORMAT } from '../../projects/dto/project.dto';

export class CreateOrgDto {
  @ApiProperty({ example: 'acme' }) @IsString() @Matches(NAME_FORMAT) name!: string;
}

export class CreateTeamDto {
  @ApiProperty({ example: 'vision' }) @IsString() @Matches(NAME_FORMAT) name!: string;
}

export class MemberRoleDto {
  @ApiProperty({ enum: ROLES }) @IsIn(ROLES) role!: Role;
}
