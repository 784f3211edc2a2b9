import { DynamicModule, Logger, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';
import { OutboxRelay } from '@myelin/persistence';
import { HealthController, READINESS_CHECKS, ReadinessCheck, TOKEN_VERIFIER, TokenAuthGuard } from '@myelin/runtime';
import { OptimizerEnv } from './config/env';
import { OPTIMIZER_ENV } from './tokens';
import { SearchesRepository } from './searches/searches.repository';
import { SearchService } from './searches/search.service';
import { SearchRpcController } from './searches/search.rpc-controller';

export interface OptimizerModuleDeps {
  env: OptimizerEnv;
  dataSource: DataSource;
  bus: MessageBus;
  readiness: ReadinessCheck[];
}

@Module({})
export class OptimizerModule {
  static forRoot(deps: OptimizerModuleDeps): DynamicModule {
    return {
      module: OptimizerModule,
      controllers: [HealthController, SearchRpcController],
      providers: [
        { provide: OPTIMIZER_ENV, useValue: deps.env },
        { provide: MESSAGE_BUS, useValue: deps.bus },
        { provide: READINESS_CHECKS, useValue: deps.readiness },
        // No user-facing routes: groups are read through the API.
        { provide: TOKEN_VERIFIER, useValue: { verify: async () => null } },
        { provide: APP_GUARD, useClass: TokenAuthGuard },
        { provide: SearchesRepository, useFactory: () => new SearchesRepository(deps.dataSource) },
        {
          provide: OutboxRelay,
          useFactory: () => new OutboxRelay(deps.dataSource, 'optimizer', deps.bus, { logger: new Logger('Outbox'), intervalMs: 250 }),
        },
        SearchService,
      ],
    };
  }
}
