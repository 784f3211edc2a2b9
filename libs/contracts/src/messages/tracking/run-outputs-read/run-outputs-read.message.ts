import { IsUUID } from 'class-validator';
import { defineMessage } from '../../message-kind';

/**
 * Request to tracking from the pipelines service: the outputs a finished op run left for the ops
 * after it (its `outputs.json`, read from the artifacts store tracking serves). The pipelines
 * service reads the file itself when the run's directory is on its host (the local executor on
 * the same machine, or a shared volume); this request is for the other cases (Kubernetes runs
 * writing to an outputs claim tracking mounts, runs tracked from outside that uploaded it).
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace RunOutputsRead {
  export const PATTERN = 'tracking.req.run-outputs.read.v1';
  export class Payload {
    @IsUUID() runUuid!: string;
  }
  export interface Reply {
    /** The JSON object the run wrote; null when it wrote no `outputs.json`. */
    outputs: Record<string, unknown> | null;
    /** Why the file could not be used (not JSON, not an object, too large); `outputs` is null then. */
    problem?: string;
  }
  export const definition = defineMessage(PATTERN, 'request', Payload);
}
