import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';

export const LOG_LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;

/**
 * Variables every service reads. Defaults make embedded mode work with zero configuration;
 * distributed mode sets URLs to real servers.
 */
export class BaseServiceEnv {
  /** `postgres://user@host:5432/db` (server) or `pglite://<dir>` / `pglite://memory` (in-process). */
  @Matches(/^(postgres(ql)?:\/\/|pglite:\/\/)/, { message: 'must be a postgres:// or pglite:// URL' })
  MYELIN_DATABASE_URL: string = 'pglite://memory';

  /** `amqp://guest:guest@host:5672` or `memory://` (in-process bus, embedded mode only). */
  @Matches(/^(amqps?:\/\/|memory:\/\/)/, { message: 'must be an amqp:// or memory:// URL' })
  MYELIN_AMQP_URL: string = 'memory://';

  /** Prefix of queues and exchanges; lets several deployments share one broker. */
  @IsString() @Matches(/^[a-z0-9][a-z0-9_.-]*$/) MYELIN_BUS_PREFIX: string = 'myelin';

  @IsOptional() @Matches(/^rediss?:\/\//, { message: 'must be a redis:// URL' }) MYELIN_REDIS_URL?: string;

  @IsInt() @Min(0) @Max(65535) MYELIN_PORT: number = 8000;

  @IsString() MYELIN_BIND: string = '127.0.0.1';

  /**
   * At most this many HTTP requests begin their handling per turn of the event loop (0: no limit),
   * so that a flood of requests does not hold up the process's other work for whole batches at a
   * time (on `myelin up`, the scheduler's; see libs/platform/runtime/src/turn-budget.ts).
   */
  @IsInt() @Min(0) MYELIN_HTTP_REQUESTS_PER_TURN: number = 4;

  @IsIn(LOG_LEVELS) MYELIN_LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'log';

  /** Embedded only: a prepared empty PostgreSQL cluster a new data directory starts from (set by `myelin up`). */
  @IsOptional() @IsString() MYELIN_PGLITE_TEMPLATE?: string;

  /** Where embedded data, run working directories and outputs live. */
  @IsString() MYELIN_HOME: string = '';
}
