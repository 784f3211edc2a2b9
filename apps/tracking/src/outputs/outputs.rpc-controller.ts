import { Controller, Inject } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { text } from 'node:stream/consumers';
import { RunDeleted, RunOutputsRead } from '@myelin/contracts';
import { ArtifactError, ArtifactErrorCode, type ArtifactStore } from '@myelin/artifacts';
import { parseRunOutputs, RUN_OUTPUTS_FILE, runOutputsSizeProblem } from '@myelin/sdk';
import { ARTIFACT_STORE } from './outputs.tokens';

@Controller()
export class OutputsRpcController {
  constructor(@Inject(ARTIFACT_STORE) private readonly store: ArtifactStore) {}

  /**
   * A deleted run takes its outputs with it. Nest chains every handler of an event pattern in an
   * app, so this runs beside IngestRpcController's handler (logs and metrics) for the same event;
   * a failure of either fails the delivery and the bus retries both (both are idempotent).
   */
  @EventPattern(RunDeleted.PATTERN)
  async deleted(@Payload() event: RunDeleted.Payload): Promise<void> {
    await this.store.deleteRun(event.runUuid);
  }

  /**
   * A finished op run's `outputs.json`, for the pipelines service on a host without the run's
   * directory. No file is no outputs (null); a store that cannot be read fails the request, so
   * the caller tries again instead of taking "no outputs" for an answer.
   */
  @MessagePattern(RunOutputsRead.PATTERN)
  async readOutputs(@Payload() request: RunOutputsRead.Payload): Promise<RunOutputsRead.Reply> {
    let file;
    try {
      file = await this.store.read(request.runUuid, RUN_OUTPUTS_FILE);
    } catch (error) {
      if (error instanceof ArtifactError && error.code === ArtifactErrorCode.NotFound) return { outputs: null };
      throw error;
    }
    const tooLarge = runOutputsSizeProblem(file.size);
    if (tooLarge) {
      file.stream.destroy();
      return { outputs: null, problem: tooLarge };
    }
    const parsed = parseRunOutputs(await text(file.stream));
    return parsed.problem === undefined ? { outputs: parsed.outputs } : { outputs: null, problem: parsed.problem };
  }
}
