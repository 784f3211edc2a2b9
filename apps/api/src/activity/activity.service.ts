import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ActivityEntity } from '@myelin/persistence';
import { Identity } from '@myelin/runtime';
import { CORE_DATA_SOURCE } from '../database/database.providers';

export interface ActivityView {
  id: number;
  actor: string;
  action: string;
  entity: string;
  entityId: string;
  details: Record<string, unknown>;
  at: string;
}

/** Who did what, when: one row per change, per project and globally. */
@Injectable()
export class ActivityService {
  constructor(@Inject(CORE_DATA_SOURCE) private readonly dataSource: DataSource) {}

  async record(
    identity: Identity | null,
    action: string,
    entity: string,
    entityId: string,
    projectId: string | null,
    details: Record<string, unknown> = {},
    /** The transaction of the change itself, when there is one: the change and its record commit together. */
    manager: EntityManager = this.dataSource.manager,
  ): Promise<void> {
    await manager.getRepository(ActivityEntity).insert({
      // jsonb column: TypeORM's deep-partial typing does not follow Record<string, unknown>.
      details: details as object,
      actorId: identity?.userId ?? null,
      actor: identity ? (identity.runUuid ? `run:${identity.runUuid}` : identity.username) : 'system',
      action,
      entity,
      entityId,
      projectId,
    });
  }

  async list(projectId: string | null, limit: number, offset: number): Promise<{ count: number; results: ActivityView[] }> {
    const repo = this.dataSource.getRepository(ActivityEntity);
    const where = projectId ? { projectId } : {};
    const [rows, count] = await repo.findAndCount({ where, order: { id: 'DESC' }, take: limit, skip: offset });
    return {
      count,
      results: rows.map((r) => ({
        id: Number(r.id),
        actor: r.actor,
        action: r.action,
        entity: r.entity,
        entityId: r.entityId,
        details: r.details,
        at: new Date(r.at).toISOString(),
      })),
    };
  }
}
