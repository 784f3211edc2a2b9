import { IsInt, IsOptional, IsString, Min } from 'class-validator';
import { BaseServiceEnv } from '@myelin/config';

export class ApiEnv extends BaseServiceEnv {
  /** Name of the superuser created on first start (when the database has no user). */
  @IsString() MYELIN_ADMIN_USERNAME: string = 'admin';
  /** Its password; when unset a random one is generated and printed once. */
  @IsOptional() @IsString() MYELIN_ADMIN_PASSWORD?: string;
  /** Where to write the first admin token (JSON {host, token, username}) so the CLI finds it. */
  @IsOptional() @IsString() MYELIN_CREDENTIALS_FILE?: string;
  /** Public URL of the platform written next to the token. */
  @IsOptional() @IsString() MYELIN_PUBLIC_URL?: string;
  /** Seconds after which a run still `created` gets its start command again. */
  @IsInt() @Min(1) MYELIN_RECONCILE_AFTER_SECONDS: number = 30;
  /** API requests per minute per token (0: no limit). */
  @IsInt() @Min(0) MYELIN_RATE_LIMIT_PER_MINUTE: number = 1200;
  /** Days an archived project or run is kept before it is purged. */
  @IsInt() @Min(1) MYELIN_ARCHIVE_RETENTION_DAYS: number = 7;
}
