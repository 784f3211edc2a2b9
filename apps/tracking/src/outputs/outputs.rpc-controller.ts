import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { RunDeleted } from '@myelin/contracts';
import type { ArtifactStore } from '@myelin/artifacts';
import { ARTIFACT_STORE } from './outputs.tokens';

/**
 * A deleted run takes its outputs with it. Nest chains every handler of an event pattern in an
 * app, so this runs beside IngestRpcController's handler (logs and metrics) for the same event;
 * a failure of either fails the delivery and the bus retries both (both are idempotent).
 */
@Controller()
export class OutputsRpcController {
  constructor(@Inject(ARTIFACT_STORE) private readonly store: ArtifactStore) {}

  @EventPattern(RunDeleted.PATTERN)
  async deleted(@Payload() event: RunDeleted.Payload): Promise<void> {
    await this.store.deleteRun(event.runUuid);
  }
}
