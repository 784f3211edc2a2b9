import { Logger } from '@nestjs/common';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { createBus } from '@myelin/bus';
import { loadConfig } from '@myelin/config';
import { openServiceDatabase, SCHEDULER_SCHEMA } from '@myelin/persistence';
import { AppBootstrap, standardChecks, startService } from '@myelin/runtime';
import { SchedulerEnv } from './config/env';
import { SchedulerModule } from './app.module';
import { LocalProcessExecutor } from './executors/local/local-process.executor';
import { CgroupLimiter, detectCgroups } from './executors/local/cgroup-limits';
import { startOutputsSync } from './outputs/outputs-sync';
import { createKubernetesExecutor } from './executors/kubernetes/create-kubernetes-executor';

/** clients/python of this checkout, from dist/apps/scheduler/src or apps/scheduler/src (under jest). */
function bundledPythonClient(): string {
  for (const up of [['..', '..', '..', '..'], ['..', '..', '..']]) {
    const dir = join(__dirname, ...up, 'clients', 'python');
    if (existsSync(join(dir, 'myelin', '__init__.py'))) return dir;
  }
  return '';
}

/** Start the scheduler with the local process executor. See AppBootstrap for the hosting contract. */
export const bootstrap: AppBootstrap = async ({ env, bus: sharedBus, listen }) => {
  const config = loadConfig(SchedulerEnv, env);
  const home = config.MYELIN_HOME || join(homedir(), '.myelin');
  const db = await openServiceDatabase({ url: config.MYELIN_DATABASE_URL, embeddedTemplate: config.MYELIN_PGLITE_TEMPLATE, ...SCHEDULER_SCHEMA });
  const bus = sharedBus ?? createBus({ url: config.MYELIN_AMQP_URL, prefix: config.MYELIN_BUS_PREFIX, logger: new Logger('Bus') });
  // Runs' cpu and memory limits: cgroups where this host lets us make them (only the local executor uses them).
  const detected = config.MYELIN_EXECUTOR === 'kubernetes' ? null : await detectCgroups(config.MYELIN_CGROUP_PARENT);
  const cgroups = detected && ('layout' in detected ? new CgroupLimiter(detected.layout) : detected);
  if (cgroups && !(cgroups instanceof CgroupLimiter) && config.MYELIN_CGROUP_PARENT !== 'off') {
    new Logger('Scheduler').log(`runs' cpu and memory limits are not enforced on this host: ${cgroups.unavailable}`);
  }
  const executor = new LocalProcessExecutor({
    ...(cgroups ? { cgroups } : {}),
    runsDir: config.MYELIN_RUNS_DIR ?? join(home, 'runs'),
    publicUrl: config.MYELIN_PUBLIC_URL,
    baseEnv: env,
    pythonPath: config.MYELIN_JOB_PYTHONPATH ?? bundledPythonClient(),
    standbyProcesses: config.MYELIN_STANDBY_PROCESSES,
    ...(config.MYELIN_PUBLIC_TRACKING_URL ? { trackingUrl: config.MYELIN_PUBLIC_TRACKING_URL } : {}),
  });
  // MYELIN_EXECUTOR=kubernetes: runs become pods (deploy/kubernetes/README.md); the watch's health joins readiness.
  const kubernetes = config.MYELIN_EXECUTOR === 'kubernetes' ? await createKubernetesExecutor(config, home) : undefined;
  const readiness = standardChecks(db.dataSource, bus, config.MYELIN_REDIS_URL);
  if (kubernetes) readiness.push(kubernetes.readinessCheck());
  await startOutputsSync(env, bus); // with an S3 artifacts store: finished runs' local outputs go to the bucket
  return startService({
    name: 'scheduler',
    module: SchedulerModule.forRoot({ env: config, dataSource: db.dataSource, bus, executor: kubernetes ?? executor, readiness }),
    bus,
    listen,
    port: config.MYELIN_PORT,
    bind: config.MYELIN_BIND,
    routePrefixes: ['/api/v1/scheduler'],
    readiness,
    logLevel: config.MYELIN_LOG_LEVEL,
    requestsPerTurn: config.MYELIN_HTTP_REQUESTS_PER_TURN,
    onClose: async () => {
      await kubernetes?.close();
      executor.close();
      if (!sharedBus) await bus.close();
      await db.close();
    },
  });
};
