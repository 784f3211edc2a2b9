import { DynamicModule, Logger, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';
import { OutboxRelay } from '@myelin/persistence';
import { HealthController, READINESS_CHECKS, ReadinessCheck, TOKEN_VERIFIER, TokenAuthGuard } from '@myelin/runtime';
import { ApiEnv } from './config/env';
import { API_ENV, CORE_DATA_SOURCE, repositoryProviders } from './database/database.providers';
import { AccountsTokenVerifier } from './auth/accounts-token-verifier';
import { UsersController } from './auth/users.controller';
import { TokenVerifyRpcController } from './auth/token-verify.rpc-controller';
import { RunAccessPolicy } from './auth/run-access.policy';
import { AdminBootstrapService } from './auth/admin-bootstrap.service';
import { RunsController } from './runs/runs.controller';
import { RunsRpcController } from './runs/runs.rpc-controller';
import { RunsService } from './runs/runs.service';
import { CreateRunUseCase } from './runs/usecases/create-run.usecase';
import { RunsReconciler } from './runs/runs.reconciler';

export interface ApiModuleDeps {
  env: ApiEnv;
  dataSource: DataSource;
  bus: MessageBus;
  readiness: ReadinessCheck[];
}

@Module({})
export class ApiModule {
  static forRoot(deps: ApiModuleDeps): DynamicModule {
    return {
      module: ApiModule,
      controllers: [HealthController, UsersController, TokenVerifyRpcController, RunsController, RunsRpcController],
      providers: [
        { provide: API_ENV, useValue: deps.env },
        { provide: CORE_DATA_SOURCE, useValue: deps.dataSource },
        { provide: MESSAGE_BUS, useValue: deps.bus },
        { provide: READINESS_CHECKS, useValue: deps.readiness },
        ...repositoryProviders,
        {
          provide: OutboxRelay,
          useFactory: () => new OutboxRelay(deps.dataSource, 'core', deps.bus, { logger: new Logger('Outbox') }),
        },
        { provide: TOKEN_VERIFIER, useClass: AccountsTokenVerifier },
        { provide: APP_GUARD, useClass: TokenAuthGuard },
        RunAccessPolicy,
        AdminBootstrapService,
        RunsService,
        CreateRunUseCase,
        RunsReconciler,
      ],
    };
  }
}
