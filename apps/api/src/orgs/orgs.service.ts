import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { OrganizationEntity, OrgMemberEntity, Role, roleRank, TeamEntity, TeamMemberEntity, UserEntity } from '@myelin/persistence';
import { Identity } from '@myelin/runtime';
import { ActivityService } from '../activity/activity.service';
import { ApiException, ApiExceptionCode } from '../api.exception';
import { CORE_DATA_SOURCE } from '../database/database.providers';
import { RESERVED_NAMES } from '../projects/projects.service';

/** Organizations, their members (with a role on every project of the organization) and teams. */
@Injectable()
export class OrgsService {
  constructor(
    private readonly activity: ActivityService,
    @Inject(CORE_DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  async create(identity: Identity, name: string): Promise<OrganizationEntity> {
    if (identity.runUuid) throw new ApiException(ApiExceptionCode.Forbidden, 'a run token cannot create organizations');
    if (RESERVED_NAMES.has(name)) throw new ApiException(ApiExceptionCode.BadRequest, `"${name}" is reserved`, [{ field: 'name' }]);
    const taken =
      (await this.dataSource.getRepository(UserEntity).count({ where: { username: name } })) +
      (await this.dataSource.getRepository(OrganizationEntity).count({ where: { name } }));
    if (taken) throw new ApiException(ApiExceptionCode.Conflict, `the name ${name} is taken`);
    const org = await this.dataSource.transaction(async (m) => {
      const created = await m.save(OrganizationEntity, { id: randomUUID(), name });
      await m.insert(OrgMemberEntity, { orgId: created.id, userId: identity.userId, role: 'owner' });
      return created;
    });
    await this.activity.record(identity, 'org.created', 'org', org.id, null, { name });
    return org;
  }

  /** The organization with the caller's role; 404 for non-members (no existence leak). */
  async resolve(identity: Identity, name: string, needed: Role = 'viewer'): Promise<{ org: OrganizationEntity; role: Role }> {
    const org = await this.dataSource.getRepository(OrganizationEntity).findOne({ where: { name } });
    const member = org ? await this.dataSource.getRepository(OrgMemberEntity).findOne({ where: { orgId: org.id, userId: identity.userId } }) : null;
    const role: Role | null = identity.isSuperuser ? 'owner' : (member?.role ?? null);
    if (!org || !role || identity.runUuid) throw new ApiException(ApiExceptionCode.NotFound, `organization ${name} not found`);
    if (roleRank(role) < roleRank(needed)) throw new ApiException(ApiExceptionCode.Forbidden, `${needed} role required in ${name} (you are ${role})`);
    return { org, role };
  }

  async listFor(identity: Identity) {
    const rows = (await this.dataSource.query(
      identity.isSuperuser
        ? `SELECT o."name", coalesce(m."role", 'owner') AS "role" FROM "core"."organizations" o
             LEFT JOIN "core"."org_members" m ON m."org_id" = o."id" AND m."user_id" = $1 ORDER BY o."name"`
        : `SELECT o."name", m."role" FROM "core"."organizations" o
             JOIN "core"."org_members" m ON m."org_id" = o."id" WHERE m."user_id" = $1 ORDER BY o."name"`,
      [identity.userId],
    )) as Array<{ name: string; role: Role }>;
    return rows;
  }

  async members(orgId: string) {
    return (await this.dataSource.query(
      `SELECT u."username", m."role" FROM "core"."org_members" m JOIN "core"."users" u ON u."id" = m."user_id"
        WHERE m."org_id" = $1 ORDER BY u."username"`,
      [orgId],
    )) as Array<{ username: string; role: Role }>;
  }

  async setMember(identity: Identity, org: OrganizationEntity, callerRole: Role, username: string, role: Role): Promise<void> {
    // Only an owner makes owners; an admin manages up to admin.
    if (roleRank(role) > roleRank(callerRole)) throw new ApiException(ApiExceptionCode.Forbidden, `you cannot grant ${role} (you are ${callerRole})`);
    const user = await this.user(username);
    const repo = this.dataSource.getRepository(OrgMemberEntity);
    const existing = await repo.findOne({ where: { orgId: org.id, userId: user.id } });
    if (existing && roleRank(existing.role) > roleRank(callerRole)) {
      throw new ApiException(ApiExceptionCode.Forbidden, `${username} is ${existing.role}; you are ${callerRole}`);
    }
    await repo.save({ orgId: org.id, userId: user.id, role });
    await this.activity.record(identity, 'org.member-set', 'org', org.id, null, { username, role });
  }

  async removeMember(identity: Identity, org: OrganizationEntity, callerRole: Role, username: string): Promise<void> {
    const user = await this.user(username);
    const repo = this.dataSource.getRepository(OrgMemberEntity);
    const existing = await repo.findOne({ where: { orgId: org.id, userId: user.id } });
    if (!existing) throw new ApiException(ApiExceptionCode.NotFound, `${username} is not a member of ${org.name}`);
    if (roleRank(existing.role) > roleRank(callerRole)) throw new ApiException(ApiExceptionCode.Forbidden, `${username} is ${existing.role}; you are ${callerRole}`);
    if (existing.role === 'owner' && (await repo.count({ where: { orgId: org.id, role: 'owner' } })) === 1) {
      throw new ApiException(ApiExceptionCode.Conflict, `${username} is the last owner of ${org.name}`);
    }
    await this.dataSource.transaction(async (m) => {
      await m.delete(OrgMemberEntity, { orgId: org.id, userId: user.id });
      await m.query(
        `DELETE FROM "core"."team_members" WHERE "user_id" = $1 AND "team_id" IN (SELECT "id" FROM "core"."teams" WHERE "org_id" = $2)`,
        [user.id, org.id],
      );
    });
    await this.activity.record(identity, 'org.member-removed', 'org', org.id, null, { username });
  }

  async teams(orgId: string) {
    const teams = await this.dataSource.getRepository(TeamEntity).find({ where: { orgId }, order: { name: 'ASC' } });
    const out: Array<{ name: string; members: string[] }> = [];
    for (const t of teams) {
      const members = (await this.dataSource.query(
        `SELECT u."username" FROM "core"."team_members" tm JOIN "core"."users" u ON u."id" = tm."user_id" WHERE tm."team_id" = $1 ORDER BY 1`,
        [t.id],
      )) as Array<{ username: string }>;
      out.push({ name: t.name, members: members.map((m) => m.username) });
    }
    return out;
  }

  async createTeam(identity: Identity, org: OrganizationEntity, name: string): Promise<void> {
    const repo = this.dataSource.getRepository(TeamEntity);
    if (await repo.findOne({ where: { orgId: org.id, name } })) throw new ApiException(ApiExceptionCode.Conflict, `team ${org.name}/${name} exists`);
    await repo.insert({ id: randomUUID(), orgId: org.id, name });
    await this.activity.record(identity, 'team.created', 'team', `${org.name}/${name}`, null);
  }

  async deleteTeam(identity: Identity, org: OrganizationEntity, name: string): Promise<void> {
    const result = await this.dataSource.getRepository(TeamEntity).delete({ orgId: org.id, name });
    if (!result.affected) throw new ApiException(ApiExceptionCode.NotFound, `team ${org.name}/${name} not found`);
    await this.activity.record(identity, 'team.deleted', 'team', `${org.name}/${name}`, null);
  }

  /** Team members must belong to the organization. */
  async setTeamMember(identity: Identity, org: OrganizationEntity, team: string, username: string, on: boolean): Promise<void> {
    const t = await this.dataSource.getRepository(TeamEntity).findOne({ where: { orgId: org.id, name: team } });
    if (!t) throw new ApiException(ApiExceptionCode.NotFound, `team ${org.name}/${team} not found`);
    const user = await this.user(username);
    if (on) {
      const member = await this.dataSource.getRepository(OrgMemberEntity).findOne({ where: { orgId: org.id, userId: user.id } });
      if (!member) throw new ApiException(ApiExceptionCode.Conflict, `${username} is not a member of ${org.name}; add them to the organization first`);
      await this.dataSource.getRepository(TeamMemberEntity).save({ teamId: t.id, userId: user.id });
    } else {
      await this.dataSource.getRepository(TeamMemberEntity).delete({ teamId: t.id, userId: user.id });
    }
    await this.activity.record(identity, on ? 'team.member-added' : 'team.member-removed', 'team', `${org.name}/${team}`, null, { username });
  }

  private async user(username: string): Promise<UserEntity> {
    const user = await this.dataSource.getRepository(UserEntity).findOne({ where: { username } });
    if (!user) throw new ApiException(ApiExceptionCode.NotFound, `user ${username} not found`);
    return user;
  }
}
