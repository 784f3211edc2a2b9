import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Min,
  ValidateNested,
  IsNumber,
  IsArray,
  MaxLength,
} from 'class-validator';
import { defineMessage } from '../../message-kind';
import { IsPlainObject } from '../../validators';
import { RUN_KINDS, RunKind } from '../../../runs/run-kind';

/**
 * Command to the scheduler: run this. The payload carries everything the executor
 * needs, so a replacement scheduler never reads the API's tables.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace RunStart {
  export const PATTERN = 'scheduler.cmd.run.start.v1';

  export class Resources {
    @IsOptional() @IsNumber() cpu?: number;
    /** Bytes. */
    @IsOptional() @IsNumber() memory?: number;
    @IsOptional() @IsInt() @Min(0) gpu?: number;
  }

  export class Payload {
    @IsUUID() runUuid!: string;
    /** `owner/project`. */
    @IsString() project!: string;
    @IsInt() @Min(1) number!: number;
    @IsIn(RUN_KINDS) kind!: RunKind;
    @IsString() @MaxLength(1_000_000) cmd!: string;
    /** The run's final params, exported as POLYAXON_PARAMS / MYELIN_PARAMS. */
    @IsPlainObject() params!: Record<string, unknown>;
    /** The compiled polyaxonfile, for executors that need more than cmd (resources, image...). */
    @IsPlainObject() spec!: Record<string, unknown>;
    @IsOptional() @ValidateNested() @Type(() => Resources) resources?: Resources;
    @IsOptional() @IsInt() @Min(0) maxRestarts?: number;
    @IsOptional() @IsInt() priority?: number;
    @IsOptional() @IsUUID() parentUuid?: string;
    @IsOptional() @IsArray() @IsString({ each: true }) tags?: string[];
    /**
     * Directory holding the run's code on the submitting host. The local executor copies it into
     * the run's working directory when it can read it; remote executors ignore it.
     */
    @IsOptional() @IsString() @MaxLength(4096) codeDir?: string;
    /**
     * The run whose code snapshot this one copies, taken once for all who name it: a pipeline's ops
     * and the trials of a search that is one of its ops name the pipeline, a search's trials their
     * group. Absent: the parent's snapshot, if the run has a parent.
     */
    @IsOptional() @IsUUID() codeOf?: string;
    /** Resume: write into this earlier run's outputs, so its checkpoints are found. */
    @IsOptional() @IsUUID() outputsOf?: string;
    /** Copy: start with a copy of this earlier run's outputs. */
    @IsOptional() @IsUUID() copyOutputsFrom?: string;
    /** Admission (quotas): the submitter's username. */
    @IsOptional() @IsString() @MaxLength(200) user?: string;
    /** Admission (quotas): the submitter's teams, as `org/team`. */
    @IsOptional() @IsArray() @IsString({ each: true }) teams?: string[];
    /** Admission: what the parent run is, and how many of its children may run at once (group `hptuning.concurrency`, pipeline `concurrency`). */
    @IsOptional() @IsIn(['group', 'pipeline']) parentKind?: 'group' | 'pipeline';
    @IsOptional() @IsInt() @Min(1) parentConcurrency?: number;
    /** Each attempt fails with reason Timeout after this many seconds (default: the scheduler's MYELIN_RUN_TIMEOUT_SECONDS). */
    @IsOptional() @IsInt() @Min(1) timeoutSeconds?: number;
  }
  export const definition = defineMessage(PATTERN, 'command', Payload);
}
