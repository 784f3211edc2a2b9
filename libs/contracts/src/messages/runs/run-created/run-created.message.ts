import { IsIn, IsInt, IsISO8601, IsOptional, IsString, IsUUID, Min } from 'class-validator';
import { defineMessage } from '../../message-kind';
import { IsPlainObject } from '../../validators';
import { RUN_KINDS, RunKind } from '../../../runs/run-kind';

/** Fact: the API created a run (status `created`). */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace RunCreated {
  export const PATTERN = 'api.evt.run.created.v1';
  export class Payload {
    @IsUUID() runUuid!: string;
    @IsString() project!: string;
    @IsInt() @Min(1) number!: number;
    @IsIn(RUN_KINDS) kind!: RunKind;
    @IsOptional() @IsUUID() parentUuid?: string;
    @IsISO8601() at!: string;
    /** Groups only: the parsed `hptuning` section the optimizer searches with. */
    @IsOptional() @IsPlainObject() hptuning?: Record<string, unknown>;
    /** Pipelines only: the compiled `kind: pipeline` spec (ops, templates, policies) the pipelines service runs. */
    @IsOptional() @IsPlainObject() pipeline?: Record<string, unknown>;
    /** Pipelines only (`pipeline retry`): the earlier pipeline run whose succeeded ops are reused. */
    @IsOptional() @IsUUID() resumeOf?: string;
  }
  /** The run's kind: the optimizer follows `group`, the pipelines service `pipeline`, and neither is sent the others. */
  export function topicOf(payload: Pick<Payload, 'kind'>): string {
    return payload.kind;
  }
  export const definition = defineMessage(PATTERN, 'event', Payload, { topic: topicOf });
}
