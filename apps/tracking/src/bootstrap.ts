import { Logger } from '@nestjs/common';
import { createBus } from '@myelin/bus';
import { loadConfig } from '@myelin/config';
import { openServiceDatabase, TRACKING_SCHEMA } from '@myelin/persistence';
import { AppBootstrap, standardChecks, startService } from '@myelin/runtime';
import { TrackingEnv } from './config/env';
import { TrackingModule } from './app.module';
import { InProcessLogNotifier, RedisLogNotifier } from './logs/log-notifier';

/** Start the tracking service: log and metric ingest and reads. See AppBootstrap. */
export const bootstrap: AppBootstrap = async ({ env, bus: sharedBus, listen }) => {
  const config = loadConfig(TrackingEnv, env);
  const db = await openServiceDatabase({ url: config.MYELIN_DATABASE_URL, embeddedTemplate: config.MYELIN_PGLITE_TEMPLATE, ...TRACKING_SCHEMA });
  const bus = sharedBus ?? createBus({ url: config.MYELIN_AMQP_URL, prefix: config.MYELIN_BUS_PREFIX, logger: new Logger('Bus') });
  const readiness = standardChecks(db.dataSource, bus, config.MYELIN_REDIS_URL);
  config.MYELIN_TRACKING_INGEST_WRITERS ??= db.embedded ? 1 : 3;
  // With Redis, a follower on any tracking replica wakes when another replica stores lines.
  const logNotifier = config.MYELIN_REDIS_URL ? new RedisLogNotifier(config.MYELIN_REDIS_URL, config.MYELIN_BUS_PREFIX) : new InProcessLogNotifier();
  return startService({
    name: 'tracking',
    module: TrackingModule.forRoot({ env: config, dataSource: db.dataSource, bus, readiness, logNotifier }),
    bodyLimitBytes: config.MYELIN_TRACKING_MAX_BODY_BYTES,
    openapi: {
      title: 'Myelin tracking API',
      description: 'What a running job reports (params, metrics, logs, tags, outputs) and reads back. See docs/tracking-http-api.md.',
      jsonPath: 'api/v1/tracking/openapi.json',
      docsPath: 'api/v1/tracking/docs',
    },
    bus,
    listen,
    port: config.MYELIN_PORT,
    bind: config.MYELIN_BIND,
    routePrefixes: ['/api/v1/tracking'],
    readiness,
    logLevel: config.MYELIN_LOG_LEVEL,
    requestsPerTurn: config.MYELIN_HTTP_REQUESTS_PER_TURN,
    onClose: async () => {
      await logNotifier.close();
      if (!sharedBus) await bus.close();
      await db.close();
    },
  });
};
