import { IsISO8601, IsUUID } from 'class-validator';
import { defineMessage } from '../../message-kind';

/**
 * Request to the API from the pipelines service: create (or return, if it exists) the pipeline run
 * of one slot of a scheduled pipeline, as a child of the schedule's run (keyed by the slot, so a
 * repeated request returns the same run). The API announces it with "run created" like any
 * pipeline run, without its `schedule`.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace PipelineRunCreate {
  export const PATTERN = 'api.req.pipeline-run.create.v1';
  export class Payload {
    @IsUUID() scheduleUuid!: string;
    /** The slot's time (ISO 8601, UTC). */
    @IsISO8601() slot!: string;
  }
  export interface Reply {
    runUuid: string;
    number: number;
    status: string;
  }
  export const definition = defineMessage(PATTERN, 'request', Payload);
}
