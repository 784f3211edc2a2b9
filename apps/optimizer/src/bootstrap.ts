import { Logger } from '@nestjs/common';
import { createBus } from '@myelin/bus';
import { loadConfig } from '@myelin/config';
import { openServiceDatabase, OPTIMIZER_SCHEMA } from '@myelin/persistence';
import { AppBootstrap, standardChecks, startService } from '@myelin/runtime';
import { OptimizerEnv } from './config/env';
import { OptimizerModule } from './app.module';

/** Start the optimization engine: it runs groups' searches. See AppBootstrap for the hosting contract. */
export const bootstrap: AppBootstrap = async ({ env, bus: sharedBus, listen }) => {
  const config = loadConfig(OptimizerEnv, env);
  const db = await openServiceDatabase({ url: config.MYELIN_DATABASE_URL, embeddedTemplate: config.MYELIN_PGLITE_TEMPLATE, ...OPTIMIZER_SCHEMA });
  const bus = sharedBus ?? createBus({ url: config.MYELIN_AMQP_URL, prefix: config.MYELIN_BUS_PREFIX, logger: new Logger('Bus') });
  const readiness = standardChecks(db.dataSource, bus, config.MYELIN_REDIS_URL);
  return startService({
    name: 'optimizer',
    module: OptimizerModule.forRoot({ env: config, dataSource: db.dataSource, bus, readiness }),
    bus,
    listen,
    port: config.MYELIN_PORT,
    bind: config.MYELIN_BIND,
    routePrefixes: ['/api/v1/optimizer'],
    readiness,
    logLevel: config.MYELIN_LOG_LEVEL,
    requestsPerTurn: config.MYELIN_HTTP_REQUESTS_PER_TURN,
    onClose: async () => {
      if (!sharedBus) await bus.close();
      await db.close();
    },
  });
};
