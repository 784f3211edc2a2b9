import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { HealthController, READINESS_CHECKS, ReadinessCheck } from './health.controller';
import { TOKEN_VERIFIER, TokenAuthGuard } from './auth.guard';

/**
 * The module of a service whose engine is not built yet: it boots, joins the bus, owns its
 * schema and answers health checks; every other route is refused (no token verifier).
 */
@Module({})
export class HealthOnlyModule {
  static forRoot(readiness: ReadinessCheck[]): DynamicModule {
    return {
      module: HealthOnlyModule,
      controllers: [HealthController],
      providers: [
        { provide: READINESS_CHECKS, useValue: readiness },
        { provide: TOKEN_VERIFIER, useValue: { verify: async () => null } },
        { provide: APP_GUARD, useClass: TokenAuthGuard },
      ],
    };
  }
}
