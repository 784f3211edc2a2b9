import { IsIn, IsISO8601, IsString, IsUUID, MaxLength } from 'class-validator';
import { defineMessage } from '../../message-kind';

export const PIPELINE_STATUSES = ['running', 'succeeded', 'failed', 'stopped', 'skipped'] as const;
export type PipelineStatusName = (typeof PIPELINE_STATUSES)[number];

/** Fact: the pipelines service moved a pipeline run (running once started, then its final status). */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace PipelineStatusChanged {
  export const PATTERN = 'pipelines.evt.pipeline.status-changed.v1';
  export class Payload {
    @IsUUID() pipelineUuid!: string;
    @IsIn(PIPELINE_STATUSES) status!: PipelineStatusName;
    @IsString() @MaxLength(200) reason!: string;
    @IsString() @MaxLength(10_000) message!: string;
    @IsISO8601() at!: string;
  }
  export const definition = defineMessage(PATTERN, 'event', Payload);
}
