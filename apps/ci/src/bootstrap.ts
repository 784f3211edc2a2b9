import { Logger } from '@nestjs/common';
import { createBus } from '@myelin/bus';
import { loadConfig } from '@myelin/config';
import { openServiceDatabase } from '@myelin/persistence';
import { AppBootstrap, standardChecks, HealthOnlyModule, startService } from '@myelin/runtime';
import { CiEnv } from './config/env';

/**
 * Start the CI trigger service (code events start runs). The engine arrives with its own issue; today the service boots, owns its
 * schema "ci", joins the bus and answers /healthz and /readyz.
 */
export const bootstrap: AppBootstrap = async ({ env, bus: sharedBus, listen }) => {
  const config = loadConfig(CiEnv, env);
  const db = await openServiceDatabase({ url: config.MYELIN_DATABASE_URL, embeddedTemplate: config.MYELIN_PGLITE_TEMPLATE, schema: 'ci', entities: [], migrations: [] });
  const bus = sharedBus ?? createBus({ url: config.MYELIN_AMQP_URL, prefix: config.MYELIN_BUS_PREFIX, logger: new Logger('Bus') });
  const readiness = standardChecks(db.dataSource, bus, config.MYELIN_REDIS_URL);
  return startService({
    name: 'ci',
    module: HealthOnlyModule.forRoot(readiness),
    bus,
    listen,
    port: config.MYELIN_PORT,
    bind: config.MYELIN_BIND,
    routePrefixes: ['/api/v1/ci'],
    readiness,
    logLevel: config.MYELIN_LOG_LEVEL,
    requestsPerTurn: config.MYELIN_HTTP_REQUESTS_PER_TURN,
    onClose: async () => {
      if (!sharedBus) await bus.close();
      await db.close();
    },
  });
};
