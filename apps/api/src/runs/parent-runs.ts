import { Injectable } from '@nestjs/common';
import { RunEntity, RunsRepository } from '@myelin/persistence';

/** How many parent runs' specs are kept at once. */
const KEPT_PARENT_RUNS = 16;

/**
 * Parent runs (groups, pipelines) as the creation of their children needs them. A parent's spec
 * and content never change and can be large (a wide pipeline's grow with its ops), so they are
 * read once and kept for a few parents; what can change (status, name, tags) and the project's
 * full name are read fresh on every request, in one statement.
 */
@Injectable()
export class ParentRuns {
  private readonly kept = new Map<string, RunEntity>();

  constructor(private readonly runs: RunsRepository) {}

  /** The parent as it is now, with its project's full name; null when it is gone or of another kind. */
  async get(uuid: string, kind: 'group' | 'pipeline'): Promise<{ run: RunEntity; projectName: string } | null> {
    const live = await this.runs.liveFacts(uuid);
    if (!live) {
      this.kept.delete(uuid);
      return null;
    }
    const kept = this.kept.get(uuid) ?? (await this.runs.findByUuid(uuid));
    if (!kept || kept.kind !== kind) return null;
    // Most recently used last; the least recently used goes when full.
    this.kept.delete(uuid);
    if (this.kept.size >= KEPT_PARENT_RUNS) this.kept.delete(this.kept.keys().next().value as string);
    this.kept.set(uuid, kept);
    const run = Object.assign(Object.create(Object.getPrototypeOf(kept) as object) as RunEntity, kept, { status: live.status, name: live.name, tags: live.tags });
    return { run, projectName: live.project };
  }
}
