import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

export const ROLES = ['viewer', 'member', 'admin', 'owner'] as const;
export type Role = (typeof ROLES)[number];

/** Compare roles: viewer < member < admin < owner. */
export function roleRank(role: Role | null | undefined): number {
  return role ? ROLES.indexOf(role) + 1 : 0;
}

@Entity({ schema: 'core', name: 'organizations' })
export class OrganizationEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column({ type: 'text', unique: true }) name!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

@Entity({ schema: 'core', name: 'org_members' })
export class OrgMemberEntity {
  @PrimaryColumn({ name: 'org_id', type: 'uuid' }) orgId!: string;
  @PrimaryColumn({ name: 'user_id', type: 'uuid' }) userId!: string;
  @Column({ type: 'text' }) role!: Role;
}

@Entity({ schema: 'core', name: 'teams' })
export class TeamEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column({ name: 'org_id', type: 'uuid' }) orgId!: string;
  @Column({ type: 'text' }) name!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

@Entity({ schema: 'core', name: 'team_members' })
export class TeamMemberEntity {
  @PrimaryColumn({ name: 'team_id', type: 'uuid' }) teamId!: string;
  @PrimaryColumn({ name: 'user_id', type: 'uuid' }) userId!: string;
}

@Entity({ schema: 'core', name: 'project_grants' })
export class ProjectGrantEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column({ name: 'project_id', type: 'uuid' }) projectId!: string;
  @Column({ name: 'user_id', type: 'uuid', nullable: true }) userId!: string | null;
  @Column({ name: 'team_id', type: 'uuid', nullable: true }) teamId!: string | null;
  @Column({ type: 'text' }) role!: Role;
}

@Entity({ schema: 'core', name: 'activity' })
export class ActivityEntity {
  @PrimaryColumn({ type: 'bigint', generated: 'increment' }) id!: number;
  @Column({ name: 'actor_id', type: 'uuid', nullable: true }) actorId!: string | null;
  @Column({ type: 'text' }) actor!: string;
  @Column({ type: 'text' }) action!: string;
  @Column({ type: 'text' }) entity!: string;
  @Column({ name: 'entity_id', type: 'text' }) entityId!: string;
  @Column({ name: 'project_id', type: 'uuid', nullable: true }) projectId!: string | null;
  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" }) details!: Record<string, unknown>;
  @Column({ type: 'timestamptz', default: () => 'now()' }) at!: Date;
}
