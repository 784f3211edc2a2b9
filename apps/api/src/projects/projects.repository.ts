import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, In, IsNull } from 'typeorm';
import { OrganizationEntity, ProjectEntity, UserEntity } from '@myelin/persistence';
import { CORE_DATA_SOURCE } from '../database/database.providers';

export type Owner = { kind: 'user'; id: string; name: string } | { kind: 'org'; id: string; name: string };

/** Projects and their owners (a user or an organization share one namespace of names). */
@Injectable()
export class ProjectsRepository {
  constructor(@Inject(CORE_DATA_SOURCE) private readonly dataSource: DataSource) {}

  async findOwner(name: string): Promise<Owner | null> {
    const user = await this.dataSource.getRepository(UserEntity).findOne({ where: { username: name } });
    if (user) return { kind: 'user', id: user.id, name: user.username };
    const org = await this.dataSource.getRepository(OrganizationEntity).findOne({ where: { name } });
    return org ? { kind: 'org', id: org.id, name: org.name } : null;
  }

  /**
   * `owner/name` in one statement (every request on a project resolves it): users and
   * organizations share one namespace of names, so at most one owner matches.
   */
  async findByFullName(ownerName: string, name: string): Promise<{ owner: Owner; project: ProjectEntity } | null> {
    const project = await this.dataSource
      .getRepository(ProjectEntity)
      .createQueryBuilder('p')
      .leftJoin(UserEntity, 'u', 'u.id = p.owner_id AND p.org_id IS NULL')
      .leftJoin(OrganizationEntity, 'o', 'o.id = p.org_id')
      .where('p.name = :name AND (u.username = :ownerName OR o.name = :ownerName)', { name, ownerName })
      .getOne();
    if (!project) return null;
    const owner: Owner = project.orgId ? { kind: 'org', id: project.orgId, name: ownerName } : { kind: 'user', id: project.ownerId as string, name: ownerName };
    return { owner, project };
  }

  find(owner: Owner, name: string): Promise<ProjectEntity | null> {
    return this.dataSource.getRepository(ProjectEntity).findOne({
      where: owner.kind === 'user' ? { ownerId: owner.id, orgId: IsNull(), name } : { orgId: owner.id, name },
    });
  }

  findById(id: string): Promise<ProjectEntity | null> {
    return this.dataSource.getRepository(ProjectEntity).findOne({ where: { id } });
  }

  async create(owner: Owner, fields: { name: string; description?: string; isPublic?: boolean; tags?: string[] }): Promise<ProjectEntity> {
    const repo = this.dataSource.getRepository(ProjectEntity);
    const project = repo.create({
      id: randomUUID(),
      ownerId: owner.kind === 'user' ? owner.id : null,
      orgId: owner.kind === 'org' ? owner.id : null,
      name: fields.name,
      description: fields.description ?? '',
      isPublic: fields.isPublic ?? false,
      tags: fields.tags ?? [],
      readme: '',
      archivedAt: null,
      lastRunNumber: 0,
    });
    return repo.save(project);
  }

  async ownerName(project: ProjectEntity): Promise<string> {
    if (project.orgId) {
      return (await this.dataSource.getRepository(OrganizationEntity).findOneOrFail({ where: { id: project.orgId } })).name;
    }
    return (await this.dataSource.getRepository(UserEntity).findOneOrFail({ where: { id: project.ownerId as string } })).username;
  }

  async fullName(project: ProjectEntity): Promise<string> {
    return `${await this.ownerName(project)}/${project.name}`;
  }

  /** An owner's projects the caller can see: all for superusers, else owned, public, granted, or via its organizations and teams. */
  async listVisible(owner: Owner, viewer: { userId: string; isSuperuser: boolean }, opts: { archived: boolean; limit: number; offset: number }) {
    const params: unknown[] = [owner.id, viewer.userId, opts.limit, opts.offset];
    const ownerClause = owner.kind === 'user' ? `p."owner_id" = $1 AND p."org_id" IS NULL` : `p."org_id" = $1`;
    const visible = viewer.isSuperuser
      ? '($2::uuid IS NOT NULL)' // every project; $2 still bound so both queries take the same parameters
      : `(p."owner_id" = $2 OR p."is_public"
          OR EXISTS (SELECT 1 FROM "core"."org_members" m WHERE m."org_id" = p."org_id" AND m."user_id" = $2)
          OR EXISTS (SELECT 1 FROM "core"."project_grants" g WHERE g."project_id" = p."id" AND g."user_id" = $2)
          OR EXISTS (SELECT 1 FROM "core"."project_grants" g JOIN "core"."team_members" tm ON tm."team_id" = g."team_id"
                     WHERE g."project_id" = p."id" AND tm."user_id" = $2))`;
    const where = `${ownerClause} AND p."archived_at" IS ${opts.archived ? 'NOT ' : ''}NULL AND ${visible}`;
    const [{ n }] = (await this.dataSource.query(
      `SELECT count(*)::int AS n FROM "core"."projects" p WHERE ${where}`,
      params.slice(0, 2),
    )) as Array<{ n: number }>;
    const ids = (await this.dataSource.query(
      `SELECT p."id" FROM "core"."projects" p WHERE ${where} ORDER BY p."name" LIMIT $3 OFFSET $4`,
      params,
    )) as Array<{ id: string }>;
    const byId = new Map(
      (await this.dataSource.getRepository(ProjectEntity).findBy({ id: In(ids.map((r) => r.id)) })).map((p) => [p.id, p] as const),
    );
    return { count: Number(n), results: ids.map((r) => byId.get(r.id) as ProjectEntity) };
  }
}
