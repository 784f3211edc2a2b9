import { DynamicModule, Logger, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';
import { OutboxRelay } from '@myelin/persistence';
import {
  HealthController,
  RATE_LIMIT,
  RateLimitGuard,
  READINESS_CHECKS,
  ReadinessCheck,
  TOKEN_VERIFIER,
  TokenAuthGuard,
} from '@myelin/runtime';
import { ApiEnv } from './config/env';
import { API_ENV, CORE_DATA_SOURCE, repositoryProviders } from './database/database.providers';
import { AccountsTokenVerifier } from './auth/accounts-token-verifier';
import { UsersController } from './auth/users.controller';
import { AuthController } from './auth/auth.controller';
import { TokenVerifyRpcController } from './auth/token-verify.rpc-controller';
import { RunTokenRpcController } from './auth/run-token.rpc-controller';
import { AdminBootstrapService } from './auth/admin-bootstrap.service';
import { AccessService } from './access/access.service';
import { ActivityService } from './activity/activity.service';
import { ActivityController } from './activity/activity.controller';
import { OrgsController } from './orgs/orgs.controller';
import { OrgsService } from './orgs/orgs.service';
import { ProjectsController } from './projects/projects.controller';
import { ProjectsRepository } from './projects/projects.repository';
import { ProjectsService } from './projects/projects.service';
import { RunsController } from './runs/runs.controller';
import { ExternalRunsController } from './external-runs/external-runs.controller';
import { ExternalRunsService } from './external-runs/external-runs.service';
import { RunsRpcController } from './runs/runs.rpc-controller';
import { GroupsRpcController } from './groups/groups.rpc-controller';
import { PipelinesController } from './pipelines/pipelines.controller';
import { PipelinesRpcController } from './pipelines/pipelines.rpc-controller';
import { RunsService } from './runs/runs.service';
import { RunCleanupService } from './runs/run-cleanup.service';
import { CreateRunUseCase } from './runs/usecases/create-run.usecase';
import { ParentRuns } from './runs/parent-runs';
import { RunsReconciler } from './runs/runs.reconciler';
import { RetentionService } from './projects/retention.service';
import { SelectionsController } from './selections/selections.controller';
import { SearchesController } from './searches/searches.controller';

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
      // Order matters: static paths (users, orgs, activitylogs, runs/:uuid) before `:owner/:project`.
      controllers: [
        HealthController,
        AuthController,
        UsersController,
        OrgsController,
        ActivityController,
        PipelinesController,
        ExternalRunsController,
        RunsController,
        SelectionsController,
        SearchesController,
        ProjectsController,
        TokenVerifyRpcController,
        RunTokenRpcController,
        RunsRpcController,
        GroupsRpcController,
        PipelinesRpcController,
      ],
      providers: [
        { provide: API_ENV, useValue: deps.env },
        { provide: CORE_DATA_SOURCE, useValue: deps.dataSource },
        { provide: MESSAGE_BUS, useValue: deps.bus },
        { provide: READINESS_CHECKS, useValue: deps.readiness },
        { provide: RATE_LIMIT, useValue: { perMinute: deps.env.MYELIN_RATE_LIMIT_PER_MINUTE } },
        ...repositoryProviders,
        {
          provide: OutboxRelay,
          useFactory: () => new OutboxRelay(deps.dataSource, 'core', deps.bus, { logger: new Logger('Outbox') }),
        },
        { provide: TOKEN_VERIFIER, useClass: AccountsTokenVerifier },
        // Authenticate first, then count the request against the token's rate.
        { provide: APP_GUARD, useClass: TokenAuthGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
        AccessService,
        ActivityService,
        AdminBootstrapService,
        OrgsService,
        ProjectsRepository,
        ProjectsService,
        RetentionService,
        RunsService,
        RunCleanupService,
        CreateRunUseCase,
        ParentRuns,
        ExternalRunsService,
        RunsReconciler,
      ],
    };
  }
}
