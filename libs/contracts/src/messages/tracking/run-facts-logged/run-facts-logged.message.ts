import { ArrayMaxSize, IsArray, IsObject, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { defineMessage } from '../../message-kind';

/**
 * Fact: a running job (or a script tracked from outside) logged params and/or tags through the
 * tracking API. Tracking keeps the params write-once; the API merges both into the run so they
 * can be listed, filtered (`params.lr:<0.1`) and compared like declared ones.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace RunFactsLogged {
  export const PATTERN = 'tracking.evt.run-facts.logged.v1';
  export class Payload {
    @IsUUID() runUuid!: string;
    /** Params logged by this call (already checked write-once by tracking). */
    @IsOptional() @IsObject() params?: Record<string, unknown>;
    @IsOptional() @IsArray() @ArrayMaxSize(500) @IsString({ each: true }) @MaxLength(100, { each: true }) tags?: string[];
  }
  export const definition = defineMessage(PATTERN, 'event', Payload);
}
