import { Logger } from '@nestjs/common';
import { createBus } from '@myelin/bus';
import { loadConfig } from '@myelin/config';
import { CORE_SCHEMA, openServiceDatabase } from '@myelin/persistence';
import { AppBootstrap, standardChecks, startService } from '@myelin/runtime';
import { ApiEnv } from './config/env';
import { ApiModule } from './app.module';

/** Start the core API: accounts, projects, runs. See AppBootstrap for the hosting contract. */
export const bootstrap: AppBootstrap = async ({ env, bus: sharedBus, listen }) => {
  const config = loadConfig(ApiEnv, env);
  const db = await openServiceDatabase({ url: config.MYELIN_DATABASE_URL, embeddedTemplate: config.MYELIN_PGLITE_TEMPLATE, ...CORE_SCHEMA });
  const bus = sharedBus ?? createBus({ url: config.MYELIN_AMQP_URL, prefix: config.MYELIN_BUS_PREFIX, logger: new Logger('Bus') });
  const readiness = standardChecks(db.dataSource, bus, config.MYELIN_REDIS_URL);
  return startService({
    name: 'api',
    module: ApiModule.forRoot({
      env: config,
      dataSource: db.dataSource,
      bus,
      readiness,
    }),
    bus,
    listen,
    port: config.MYELIN_PORT,
    bind: config.MYELIN_BIND,
    routePrefixes: ['/api/v1'],
    openapi: {
      title: 'Myelin API',
      description: 'Accounts, organizations, projects, runs. Every route needs `Authorization: token <key>` unless marked otherwise.',
      jsonPath: 'api/v1/openapi.json',
      docsPath: 'api/v1/docs',
    },
    readiness,
    logLevel: config.MYELIN_LOG_LEVEL,
    requestsPerTurn: config.MYELIN_HTTP_REQUESTS_PER_TURN,
    onClose: async () => {
      if (!sharedBus) await bus.close();
      await db.close();
    },
  });
};
