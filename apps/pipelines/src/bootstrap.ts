import { homedir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { createBus } from '@myelin/bus';
import { RunOutputsRead } from '@myelin/contracts';
import { loadConfig } from '@myelin/config';
import { openServiceDatabase, PIPELINES_SCHEMA } from '@myelin/persistence';
import { AppBootstrap, standardChecks, startService } from '@myelin/runtime';
import { PipelinesEnv } from './config/env';
import { PipelinesModule } from './app.module';
import { FileOpOutputsReader } from './runs/op-outputs';

/** Start the pipeline engine: it runs pipeline runs' DAGs (libs/dag). See AppBootstrap for the hosting contract. */
export const bootstrap: AppBootstrap = async ({ env, bus: sharedBus, listen }) => {
  const config = loadConfig(PipelinesEnv, env);
  const db = await openServiceDatabase({ url: config.MYELIN_DATABASE_URL, embeddedTemplate: config.MYELIN_PGLITE_TEMPLATE, ...PIPELINES_SCHEMA });
  const bus = sharedBus ?? createBus({ url: config.MYELIN_AMQP_URL, prefix: config.MYELIN_BUS_PREFIX, logger: new Logger('Bus') });
  const readiness = standardChecks(db.dataSource, bus, config.MYELIN_REDIS_URL);
  const home = config.MYELIN_HOME || join(homedir(), '.myelin');
  // Op runs whose directory is not on this host: their outputs.json through tracking's artifacts store.
  const outputs = new FileOpOutputsReader(config.MYELIN_RUNS_DIR ?? join(home, 'runs'), (runUuid) =>
    bus.request<RunOutputsRead.Reply>(RunOutputsRead.PATTERN, { runUuid } satisfies RunOutputsRead.Payload, 15_000),
  );
  return startService({
    name: 'pipelines',
    module: PipelinesModule.forRoot({ env: config, dataSource: db.dataSource, bus, readiness, outputs }),
    bus,
    listen,
    port: config.MYELIN_PORT,
    bind: config.MYELIN_BIND,
    routePrefixes: ['/api/v1/pipelines'],
    readiness,
    logLevel: config.MYELIN_LOG_LEVEL,
    requestsPerTurn: config.MYELIN_HTTP_REQUESTS_PER_TURN,
    onClose: async () => {
      if (!sharedBus) await bus.close();
      await db.close();
    },
  });
};
