import { Injectable } from '@nestjs/common';
import { RunAccess } from '@myelin/contracts';
import { ProjectEntity, RunEntity, RunsRepository } from '@myelin/persistence';
import { Identity } from '@myelin/runtime';
import { DataSource } from 'typeorm';
import { Inject } from '@nestjs/common';
import { CORE_DATA_SOURCE } from '../database/database.providers';

/**
 * Who may do what with a project's runs. For now: the project's owner and superusers have
 * full access, public projects are readable by everyone authenticated, and a run token may
 * write to its own run only. Teams and roles come with the core API issue.
 */
@Injectable()
export class RunAccessPolicy {
  constructor(
    private readonly runs: RunsRepository,
    @Inject(CORE_DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  async accessTo(identity: Identity, run: RunEntity): Promise<RunAccess> {
    if (identity.runUuid) return identity.runUuid === run.uuid ? 'write' : 'none';
    if (identity.isSuperuser) return 'write';
    const project = await this.dataSource.getRepository(ProjectEntity).findOne({ where: { id: run.projectId } });
    if (!project) return 'none';
    return this.projectAccess(identity, project);
  }

  projectAccess(identity: Identity, project: ProjectEntity): RunAccess {
    if (identity.runUuid) return 'none';
    if (identity.isSuperuser || project.ownerId === identity.userId) return 'write';
    return project.isPublic ? 'read' : 'none';
  }
}
