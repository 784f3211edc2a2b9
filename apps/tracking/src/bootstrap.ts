import { Logger } from '@nestjs/common';
import { createBus } from '@myelin/bus';
import { loadConfig } from '@myelin/config';
import { openServiceDatabase, TRACKING_SCHEMA } from '@myelin/persistence';
import { AppBootstrap, standardChecks, startService } from '@myelin/runtime';
import { TrackingEnv } from './config/env';
import { TrackingModule } from './app.module';

/** Start the tracking service: log and metric ingest and reads. See AppBootstrap. */
export const bootstrap: AppBootstrap = async ({ env, bus: sharedBus, listen }) => {
  const config = loadConfig(TrackingEnv, env);
  const db = await openServiceDatabase({ url: config.MYELIN_DATABASE_URL, embeddedTemplate: config.MYELIN_PGLITE_TEMPLATE, ...TRACKING_SCHEMA });
  const bus = sharedBus ?? createBus({ url: config.MYELIN_AMQP_URL, prefix: config.MYELIN_BUS_PREFIX, logger: new Logger('Bus') });
  const readiness = standardChecks(db.dataSource, bus, config.MYELIN_REDIS_URL);
  return startService({
    name: 'tracking',
    module: TrackingModule.forRoot({ env: config, dataSource: db.dataSource, bus, readiness }),
    bus,
    listen,
    port: config.MYELIN_PORT,
    bind: config.MYELIN_BIND,
    routePrefixes: ['/api/v1/tracking'],
    readiness,
    logLevel: config.MYELIN_LOG_LEVEL,
    onClose: async () => {
      if (!sharedBus) await bus.close();
      await db.close();
    },
  });
};
