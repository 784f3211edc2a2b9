import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { OrgMemberEntity, ProjectEntity, ProjectGrantEntity, Role, roleRank, TeamEntity, UserEntity } from '@myelin/persistence';
import { Identity } from '@myelin/runtime';
import { AccessService } from '../access/access.service';
import { ActivityService } from '../activity/activity.service';
import { ApiException, ApiExceptionCode } from '../api.exception';
import { CORE_DATA_SOURCE } from '../database/database.providers';
import { CreateProjectDto, GrantDto, ProjectView, UpdateProjectDto } from './dto/project.dto';
import { Owner, ProjectsRepository } from './projects.repository';
import { RunCleanupService } from '../runs/run-cleanup.service';

/** Names that are path segments of the API and so cannot name a user, an organization or a project owner. */
export const RESERVED_NAMES = new Set([
  'users', 'superusers', 'orgs', 'archives', 'projects', 'runs', 'activitylogs', 'bookmarks', 'archives', 'searches',
  'tracking', 'scheduler', 'pipelines', 'optimizer', 'ci', 'openapi.json', 'docs', 'healthz', 'readyz',
]);

export interface ResolvedProject {
  project: ProjectEntity;
  fullName: string;
  role: Role;
}

@Injectable()
export class ProjectsService {
  constructor(
    private readonly projects: ProjectsRepository,
    private readonly access: AccessService,
    private readonly activity: ActivityService,
    private readonly cleanup: RunCleanupService,
    @Inject(CORE_DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  async owner(name: string): Promise<Owner> {
    const owner = await this.projects.findOwner(name);
    if (!owner) throw new ApiException(ApiExceptionCode.NotFound, `${name} not found`);
    return owner;
  }

  /**
   * `owner/name` with the caller's role checked: 404 when the caller may not see it (or it is
   * archived and `archived` was not asked for), 403 when it may see it but lacks `needed`.
   */
  async resolve(identity: Identity, ownerName: string, name: string, needed: Role = 'viewer', { archived = false } = {}): Promise<ResolvedProject> {
    const label = `${ownerName}/${name}`;
    const found = await this.projects.findByFullName(ownerName, name);
    if (!found || (found.project.archivedAt && !archived)) throw new ApiException(ApiExceptionCode.NotFound, `project ${label} not found`);
    const { owner, project } = found;
    const role = await this.access.require(identity, project, needed, label);
    return { project, fullName: `${owner.name}/${project.name}`, role };
  }

  /** The caller's role on a project already loaded (listings: no second lookup by name). */
  roleOf(identity: Identity, project: ProjectEntity): Promise<Role | null> {
    return this.access.projectRole(identity, project);
  }

  async create(identity: Identity, dto: CreateProjectDto): Promise<ResolvedProject> {
    if (identity.runUuid) throw new ApiException(ApiExceptionCode.Forbidden, 'a run token cannot create projects');
    const owner: Owner = dto.owner ? await this.owner(dto.owner) : { kind: 'user', id: identity.userId, name: identity.username };
    if (owner.kind === 'user' && owner.id !== identity.userId && !identity.isSuperuser) {
      throw new ApiException(ApiExceptionCode.Forbidden, `you may not create projects for ${owner.name}`);
    }
    if (owner.kind === 'org' && !identity.isSuperuser) {
      const member = await this.dataSource.getRepository(OrgMemberEntity).findOne({ where: { orgId: owner.id, userId: identity.userId } });
      if (roleRank(member?.role) < roleRank('admin')) {
        throw new ApiException(member ? ApiExceptionCode.Forbidden : ApiExceptionCode.NotFound, member ? `admin role required in ${owner.name}` : `${owner.name} not found`);
      }
    }
    if (await this.projects.find(owner, dto.name)) {
      throw new ApiException(ApiExceptionCode.Conflict, `project ${owner.name}/${dto.name} already exists`);
    }
    const project = await this.projects.create(owner, dto);
    await this.activity.record(identity, 'project.created', 'project', project.id, project.id);
    return { project, fullName: `${owner.name}/${project.name}`, role: 'owner' };
  }

  /**
   * Like `resolve`, but a project of the caller's own that does not exist yet is made on first use
   * (the CLI's `default` project, `myelin run -p name`). Looked up once in the common case: the
   * project is created only after the lookup missed.
   */
  async resolveOwnOrCreate(identity: Identity, ownerName: string, name: string, needed: Role): Promise<ResolvedProject> {
    try {
      return await this.resolve(identity, ownerName, name, needed);
    } catch (error) {
      const missing = error instanceof ApiException && error.code === ApiExceptionCode.NotFound;
      if (!missing || identity.runUuid || ownerName !== identity.username) throw error;
      const owner: Owner = { kind: 'user', id: identity.userId, name: identity.username };
      // An archived project of that name is not made again (resolve still says it is not found).
      if (!(await this.projects.find(owner, name))) {
        await this.projects.create(owner, { name }).catch(() => undefined); // a concurrent creation won
      }
      return this.resolve(identity, ownerName, name, needed);
    }
  }

  async update(identity: Identity, resolved: ResolvedProject, dto: UpdateProjectDto): Promise<ResolvedProject> {
    const { project } = resolved;
    if (dto.name && dto.name !== project.name) {
      const owner = await this.owner(resolved.fullName.split('/')[0]);
      if (await this.projects.find(owner, dto.name)) throw new ApiException(ApiExceptionCode.Conflict, `project ${owner.name}/${dto.name} already exists`);
    }
    Object.assign(project, {
      ...(dto.name !== undefined ? { name: dto.name } : {}),
      ...(dto.description !== undefined ? { description: dto.description } : {}),
      ...(dto.readme !== undefined ? { readme: dto.readme } : {}),
      ...(dto.isPublic !== undefined ? { isPublic: dto.isPublic } : {}),
      ...(dto.tags !== undefined ? { tags: dto.tags } : {}),
    });
    await this.dataSource.getRepository(ProjectEntity).save(project);
    await this.activity.record(identity, 'project.updated', 'project', project.id, project.id, { fields: Object.keys(dto) });
    return { ...resolved, project, fullName: `${resolved.fullName.split('/')[0]}/${project.name}` };
  }

  async setArchived(identity: Identity, resolved: ResolvedProject, archived: boolean): Promise<void> {
    resolved.project.archivedAt = archived ? new Date() : null;
    await this.dataSource.getRepository(ProjectEntity).save(resolved.project);
    await this.activity.record(identity, archived ? 'project.archived' : 'project.restored', 'project', resolved.project.id, resolved.project.id);
  }

  /** Delete the project and its runs; their deletion is announced in the same transaction. */
  async delete(identity: Identity, resolved: ResolvedProject): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const runs = (await m.query(`SELECT "uuid" FROM "core"."runs" WHERE "project_id" = $1`, [resolved.project.id])) as Array<{ uuid: string }>;
      await m.delete(ProjectEntity, { id: resolved.project.id });
      await this.cleanup.announce(m, runs.map((r) => r.uuid));
    });
    this.cleanup.published();
    await this.activity.record(identity, 'project.deleted', 'project', resolved.project.id, null, { name: resolved.fullName });
  }

  async bookmark(identity: Identity, project: ProjectEntity, on: boolean): Promise<void> {
    if (on) {
      await this.dataSource.query(
        `INSERT INTO "core"."bookmarks" ("user_id", "entity", "entity_id") VALUES ($1, 'project', $2) ON CONFLICT DO NOTHING`,
        [identity.userId, project.id],
      );
    } else {
      await this.dataSource.query(`DELETE FROM "core"."bookmarks" WHERE "user_id" = $1 AND "entity" = 'project' AND "entity_id" = $2`, [
        identity.userId,
        project.id,
      ]);
    }
  }

  async isBookmarked(identity: Identity, projectId: string): Promise<boolean> {
    const rows = (await this.dataSource.query(
      `SELECT 1 FROM "core"."bookmarks" WHERE "user_id" = $1 AND "entity" = 'project' AND "entity_id" = $2`,
      [identity.userId, projectId],
    )) as unknown[];
    return rows.length > 0;
  }

  async grants(project: ProjectEntity) {
    const rows = (await this.dataSource.query(
      `SELECT g."id", g."role", u."username" AS "user", o."name" || '/' || t."name" AS "team"
         FROM "core"."project_grants" g
         LEFT JOIN "core"."users" u ON u."id" = g."user_id"
         LEFT JOIN "core"."teams" t ON t."id" = g."team_id"
         LEFT JOIN "core"."organizations" o ON o."id" = t."org_id"
        WHERE g."project_id" = $1 ORDER BY 4 NULLS FIRST, 3`,
      [project.id],
    )) as Array<{ id: string; role: Role; user: string | null; team: string | null }>;
    return rows;
  }

  /** Give a user or a team a role on the project (replacing an earlier grant). */
  async grant(identity: Identity, project: ProjectEntity, dto: GrantDto) {
    if (!!dto.user === !!dto.team) throw new ApiException(ApiExceptionCode.BadRequest, 'give exactly one of user or team', [{ field: 'user' }]);
    let userId: string | null = null;
    let teamId: string | null = null;
    if (dto.user) {
      const user = await this.dataSource.getRepository(UserEntity).findOne({ where: { username: dto.user } });
      if (!user) throw new ApiException(ApiExceptionCode.NotFound, `user ${dto.user} not found`);
      userId = user.id;
    } else {
      const [orgName, teamName] = (dto.team as string).split('/');
      const org = await this.projects.findOwner(orgName);
      const team = org?.kind === 'org' ? await this.dataSource.getRepository(TeamEntity).findOne({ where: { orgId: org.id, name: teamName } }) : null;
      if (!team) throw new ApiException(ApiExceptionCode.NotFound, `team ${dto.team} not found`);
      teamId = team.id;
    }
    const repo = this.dataSource.getRepository(ProjectGrantEntity);
    await repo.delete(userId ? { projectId: project.id, userId } : { projectId: project.id, teamId: teamId as string });
    await repo.insert({ id: randomUUID(), projectId: project.id, userId, teamId, role: dto.role });
    await this.activity.record(identity, 'project.granted', 'project', project.id, project.id, { user: dto.user, team: dto.team, role: dto.role });
  }

  async revokeGrant(identity: Identity, project: ProjectEntity, grantId: string): Promise<void> {
    const result = await this.dataSource.getRepository(ProjectGrantEntity).delete({ id: grantId, projectId: project.id });
    if (!result.affected) throw new ApiException(ApiExceptionCode.NotFound, `grant ${grantId} not found`);
    await this.activity.record(identity, 'project.grant-revoked', 'project', project.id, project.id, { grant: grantId });
  }

  view(resolved: ResolvedProject): ProjectView {
    const { project } = resolved;
    return {
      id: project.id,
      fullName: resolved.fullName,
      owner: resolved.fullName.split('/')[0],
      name: project.name,
      description: project.description,
      readme: project.readme,
      isPublic: project.isPublic,
      tags: project.tags,
      archivedAt: project.archivedAt?.toISOString() ?? null,
      role: resolved.role,
      createdAt: project.createdAt.toISOString(),
      updatedAt: project.updatedAt.toISOString(),
    };
  }
}
