import { DynamicModule, Logger, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';
import { ExecutionsRepository, OutboxRelay } from '@myelin/persistence';
import { HealthController, READINESS_CHECKS, ReadinessCheck, TOKEN_VERIFIER, TokenAuthGuard } from '@myelin/runtime';
import { SchedulerEnv } from './config/env';
import { EXECUTOR, SCHEDULER_ENV } from './tokens';
import { Executor } from './executors/executor';
import { LogShipper, outboxTransport } from './logs/log-shipper';
import { SchedulerService } from './queue/scheduler.service';
import { SchedulerRpcController } from './queue/scheduler.rpc-controller';
import { LivenessService } from './queue/liveness.service';
import { BuildsRepository, QuotasRepository } from '@myelin/persistence';
import { RUN_LEASE } from './tokens';
import { LocalRunLease, RedisRunLease, replicaName } from './queue/run-lease';
import { QueueController } from './queue/queue.controller';
import { BuildsController } from './builds/builds.controller';
import { SchedulerTokenVerifier } from './auth/bus-token-verifier';
import { RunSamplingService } from './executors/local/run-sampling.service';

export interface SchedulerModuleDeps {
  env: SchedulerEnv;
  dataSource: DataSource;
  bus: MessageBus;
  executor: Executor;
  readiness: ReadinessCheck[];
}

@Module({})
export class SchedulerModule {
  static forRoot(deps: SchedulerModuleDeps): DynamicModule {
    return {
      module: SchedulerModule,
      controllers: [HealthController, SchedulerRpcController,
        QueueController, BuildsController],
      providers: [
        { provide: SCHEDULER_ENV, useValue: deps.env },
        { provide: MESSAGE_BUS, useValue: deps.bus },
        { provide: EXECUTOR, useValue: deps.executor },
        { provide: READINESS_CHECKS, useValue: deps.readiness },
        // The scheduler has no user-facing routes yet; anything but health is refused.
        { provide: TOKEN_VERIFIER, useValue: { verify: async () => null } },
        { provide: APP_GUARD, useClass: TokenAuthGuard },
        { provide: ExecutionsRepository, useFactory: () => new ExecutionsRepository(deps.dataSource) },
        {
          provide: OutboxRelay,
          // Log batches (up to 1 MiB each) share this outbox with status events: 50 rows a pass bounds what a pass holds.
          useFactory: () => new OutboxRelay(deps.dataSource, 'scheduler', deps.bus, { logger: new Logger('Outbox'), intervalMs: 250, batchSize: 50 }),
        },
        { provide: LogShipper, useFactory: () => new LogShipper(outboxTransport(deps.dataSource)) },
        SchedulerService,
        LivenessService,
        // Queue and admission: quotas, the run lease (Redis when configured), and callers verified by the API
        // (this provider comes after the deny-all verifier above and replaces it).
        { provide: QuotasRepository, useFactory: () => new QuotasRepository(deps.dataSource) },
        // Builds (Kubernetes): the image cache.
        { provide: BuildsRepository, useFactory: () => new BuildsRepository(deps.dataSource) },
        {
          provide: RUN_LEASE,
          useFactory: () =>
            deps.env.MYELIN_REDIS_URL
              ? new RedisRunLease(deps.env.MYELIN_REDIS_URL, `${deps.env.MYELIN_BUS_PREFIX}:scheduler`, replicaName(deps.env.MYELIN_SCHEDULER_REPLICA), deps.env.MYELIN_SCHEDULER_LEASE_MS)
              : new LocalRunLease(replicaName(deps.env.MYELIN_SCHEDULER_REPLICA)),
        },
        { provide: TOKEN_VERIFIER, useClass: SchedulerTokenVerifier },
        // CPU and memory of live local runs as system metrics (MYELIN_SAMPLE_SECONDS).
        RunSamplingService,
      ],
    };
  }
}
