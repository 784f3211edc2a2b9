import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { RunDeleted } from '@myelin/contracts';
import { enqueueOutbox, OutboxRelay } from '@myelin/persistence';

/**
 * Announces deleted runs, in the transaction that deletes them, so tracking and the scheduler
 * drop their logs, metrics, processes and outputs even if the API crashes right after.
 */
@Injectable()
export class RunCleanupService {
  constructor(private readonly relay: OutboxRelay) {}

  async announce(manager: EntityManager, runUuids: string[]): Promise<void> {
    const at = new Date().toISOString();
    for (const runUuid of runUuids) {
      await enqueueOutbox(manager, 'core', 'event', RunDeleted.PATTERN, { runUuid, at } satisfies RunDeleted.Payload);
    }
  }

  published(): void {
    this.relay.poke();
  }
}
