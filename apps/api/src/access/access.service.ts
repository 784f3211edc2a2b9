import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ProjectEntity, Role, roleRank, RunEntity } from '@myelin/persistence';
import { Identity } from '@myelin/runtime';
import { CORE_DATA_SOURCE } from '../database/database.providers';
import { ApiException, ApiExceptionCode } from '../api.exception';

/**
 * Who may do what in a project. The effective role is the highest of: owning user (owner),
 * superuser (owner), membership of the owning organization (its role), a direct grant, grants to
 * the user's teams; a public project gives every authenticated user at least `viewer`.
 * A run token sees its project as a viewer and may write only to its own run.
 * Roles: viewer reads; member creates, stops and edits runs; admin manages the project and its
 * grants, archives and deletes runs; owner also deletes the project.
 */
@Injectable()
export class AccessService {
  constructor(@Inject(CORE_DATA_SOURCE) private readonly dataSource: DataSource) {}

  async projectRole(identity: Identity, project: ProjectEntity): Promise<Role | null> {
    if (identity.runUuid) {
      const rows = (await this.dataSource.query(`SELECT 1 FROM "core"."runs" WHERE "uuid" = $1 AND "project_id" = $2`, [
        identity.runUuid,
        project.id,
      ])) as unknown[];
      return rows.length ? 'viewer' : null;
    }
    if (identity.isSuperuser || (project.ownerId !== null && project.ownerId === identity.userId)) return 'owner';
    const [row] = (await this.dataSource.query(
      `SELECT
         (SELECT "role" FROM "core"."org_members" WHERE "org_id" = $2 AND "user_id" = $1) AS org_role,
         (SELECT "role" FROM "core"."project_grants" WHERE "project_id" = $3 AND "user_id" = $1) AS user_role,
         (SELECT coalesce(json_agg(g."role"), '[]'::json) FROM "core"."project_grants" g
            JOIN "core"."team_members" tm ON tm."team_id" = g."team_id"
           WHERE g."project_id" = $3 AND tm."user_id" = $1) AS team_roles`,
      [identity.userId, project.orgId, project.id],
    )) as Array<{ org_role: Role | null; user_role: Role | null; team_roles: Role[] | string }>;
    const teamRoles = (typeof row.team_roles === 'string' ? JSON.parse(row.team_roles) : row.team_roles) as Role[];
    let best: Role | null = project.isPublic ? 'viewer' : null;
    for (const r of [row.org_role, row.user_role, ...teamRoles]) if (roleRank(r) > roleRank(best)) best = r;
    return best;
  }

  /**
   * The caller's role, or 404 when the caller may not even see the project (no existence leak),
   * or 403 when it may see it but lacks `needed`.
   */
  async require(identity: Identity, project: ProjectEntity, needed: Role, label: string): Promise<Role> {
    const role = await this.projectRole(identity, project);
    if (!role) throw new ApiException(ApiExceptionCode.NotFound, `project ${label} not found`);
    if (roleRank(role) < roleRank(needed)) {
      throw new ApiException(ApiExceptionCode.Forbidden, `${needed} role required on ${label} (you are ${role})`);
    }
    return role;
  }

  /** Access to one run: a run token writes its own run only; others follow their project role. */
  async runAccess(identity: Identity, run: Pick<RunEntity, 'uuid' | 'projectId'>): Promise<'none' | 'read' | 'write'> {
    if (identity.runUuid) return identity.runUuid === run.uuid ? 'write' : 'none';
    const project = await this.dataSource.getRepository(ProjectEntity).findOne({ where: { id: run.projectId } });
    if (!project) return 'none';
    const role = await this.projectRole(identity, project);
    if (!role) return 'none';
    return roleRank(role) >= roleRank('member') ? 'write' : 'read';
  }
}
