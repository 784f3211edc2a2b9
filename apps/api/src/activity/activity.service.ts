import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ActivityEntity, CreationActivity, RunEntity } from '@myelin/persistence';
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

/** How an actor is named in the log: a user, a run (its own token) or the platform itself. */
function actorName(identity: Identity | null): string {
  return identity ? (identity.runUuid ? `run:${identity.runUuid}` : identity.username) : 'system';
}

/** Who did what, when: one row per change, per project and globally. */
@Injectable()
export class ActivityService {
  constructor(@Inject(CORE_DATA_SOURCE) private readonly dataSource: DataSource) {}

  /** The activity record of a run's creation, written by the runs repository with the run. */
  creation(identity: Identity | null, action: string, details: (run: RunEntity) => Record<string, unknown>): CreationActivity {
    return { actorId: identity?.userId ?? null, actor: actorName(identity), action, details };
  }

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
      actor: actorName(identity),
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
