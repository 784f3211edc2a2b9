import { DynamicModule, Logger, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';
import { OutboxRelay } from '@myelin/persistence';
import { HealthController, READINESS_CHECKS, ReadinessCheck, TOKEN_VERIFIER, TokenAuthGuard } from '@myelin/runtime';
import { PipelinesEnv } from './config/env';
import { OP_OUTPUTS, PIPELINES_ENV } from './tokens';
import { OpOutputsReader } from './runs/op-outputs';
import { PipelinesRepository } from './runs/pipelines.repository';
import { PipelineRunnerService } from './runs/pipeline-runner.service';
import { PipelinesRpcController } from './runs/pipelines.rpc-controller';
import { SchedulesRepository } from './schedules/schedules.repository';
import { ScheduleService } from './schedules/schedule.service';

export interface PipelinesModuleDeps {
  env: PipelinesEnv;
  dataSource: DataSource;
  bus: MessageBus;
  readiness: ReadinessCheck[];
  outputs: OpOutputsReader;
}

@Module({})
export class PipelinesModule {
  static forRoot(deps: PipelinesModuleDeps): DynamicModule {
    return {
      module: PipelinesModule,
      controllers: [HealthController, PipelinesRpcController],
      providers: [
        { provide: PIPELINES_ENV, useValue: deps.env },
        { provide: MESSAGE_BUS, useValue: deps.bus },
        { provide: READINESS_CHECKS, useValue: deps.readiness },
        { provide: OP_OUTPUTS, useValue: deps.outputs },
        // No user-facing routes: pipeline runs are read through the API.
        { provide: TOKEN_VERIFIER, useValue: { verify: async () => null } },
        { provide: APP_GUARD, useClass: TokenAuthGuard },
        { provide: PipelinesRepository, useFactory: () => new PipelinesRepository(deps.dataSource) },
        {
          provide: OutboxRelay,
          useFactory: () => new OutboxRelay(deps.dataSource, 'pipelines', deps.bus, { logger: new Logger('Outbox'), intervalMs: 250 }),
        },
        { provide: SchedulesRepository, useFactory: () => new SchedulesRepository(deps.dataSource) },
        ScheduleService,
        PipelineRunnerService,
      ],
    };
  }
}
