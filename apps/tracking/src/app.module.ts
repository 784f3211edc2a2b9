import { DynamicModule, Logger, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';
import { OutboxRelay, TrackingRepository } from '@myelin/persistence';
import { OutboxLifecycle } from './ingest/outbox-lifecycle';
import { HealthController, READINESS_CHECKS, ReadinessCheck, TOKEN_VERIFIER, TokenAuthGuard } from '@myelin/runtime';
import { TrackingEnv } from './config/env';
import { TRACKING_ENV } from './tokens';
import { BusTokenVerifier } from './auth/bus-token-verifier';
import { IngestRpcController } from './ingest/ingest.rpc-controller';
import { OutputsModule } from './outputs/outputs.module';
import { CompareController, ReadsController } from './reads/reads.controller';
import { IngestController } from './ingest/ingest.controller';
import { IngestService } from './ingest/ingest.service';
import { HeartbeatRelay } from './ingest/heartbeat-relay';
import { LOG_NOTIFIER } from './tokens';
import type { LogNotifier } from './logs/log-notifier';

export interface TrackingModuleDeps {
  env: TrackingEnv;
  dataSource: DataSource;
  bus: MessageBus;
  readiness: ReadinessCheck[];
  logNotifier: LogNotifier;
}

@Module({})
export class TrackingModule {
  static forRoot(deps: TrackingModuleDeps): DynamicModule {
    return {
      module: TrackingModule,
      imports: [OutputsModule.forRoot({ env: deps.env, bus: deps.bus })],
      controllers: [HealthController, IngestRpcController, IngestController, ReadsController, CompareController],
      providers: [
        { provide: TRACKING_ENV, useValue: deps.env },
        { provide: MESSAGE_BUS, useValue: deps.bus },
        { provide: READINESS_CHECKS, useValue: deps.readiness },
        { provide: TrackingRepository, useFactory: () => new TrackingRepository(deps.dataSource) },
        {
          provide: OutboxRelay,
          useFactory: () => new OutboxRelay(deps.dataSource, 'tracking', deps.bus, { logger: new Logger('Outbox'), intervalMs: 250 }),
        },
        OutboxLifecycle,
        IngestService,
        HeartbeatRelay,
        { provide: LOG_NOTIFIER, useValue: deps.logNotifier },
        BusTokenVerifier,
        { provide: TOKEN_VERIFIER, useExisting: BusTokenVerifier },
        { provide: APP_GUARD, useClass: TokenAuthGuard },
      ],
    };
  }
}
