import { Logger } from '@nestjs/common';
import { createBus } from '@myelin/bus';
import { loadConfig } from '@myelin/config';
import { openServiceDatabase } from '@myelin/persistence';
import { AppBootstrap, standardChecks, HealthOnlyModule, startService } from '@myelin/runtime';
import { OptimizerEnv } from './config/env';

/**
 * Start the optimization engine (hyperparameter search for groups). The engine arrives with its own issue; today the service boots, owns its
 * schema "optimizer", joins the bus and answers /healthz and /readyz.
 */
export const bootstrap: AppBootstrap = async ({ env, bus: sharedBus, listen }) => {
  const config = loadConfig(OptimizerEnv, env);
  const db = await openServiceDatabase({ url: config.MYELIN_DATABASE_URL, embeddedTemplate: config.MYELIN_PGLITE_TEMPLATE, schema: 'optimizer', entities: [], migrations: [] });
  const bus = sharedBus ?? createBus({ url: config.MYELIN_AMQP_URL, prefix: config.MYELIN_BUS_PREFIX, logger: new Logger('Bus') });
  const readiness = standardChecks(db.dataSource, bus, config.MYELIN_REDIS_URL);
  return startService({
    name: 'optimizer',
    module: HealthOnlyModule.forRoot(readiness),
    bus,
    listen,
    port: config.MYELIN_PORT,
    bind: config.MYELIN_BIND,
    routePrefixes: ['/api/v1/optimizer'],
    readiness,
    logLevel: config.MYELIN_LOG_LEVEL,
    onClose: async () => {
      if (!sharedBus) await bus.close();
      await db.close();
    },
  });
};
