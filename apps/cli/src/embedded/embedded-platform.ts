import { createServer, Server } from 'node:http';
import { join } from 'node:path';
import express, { Request, Response } from 'express';
import { InProcessBus } from '@myelin/bus';
import { embeddedTemplatePath } from '@myelin/persistence';
import { APP_NAMES, AppHandle, runReadiness } from '@myelin/runtime';
import { loadAppBootstrap } from './app-loader';

export interface EmbeddedOptions {
  home: string;
  port: number;
  bind: string;
  /** Extra variables for the apps (log level, limits); the embedded defaults win for URLs. */
  env: Record<string, string | undefined>;
}

export interface EmbeddedPlatform {
  url: string;
  apps: AppHandle[];
  close(): Promise<void>;
}

/**
 * `myelin up`: all six apps in one process, on one PostgreSQL-in-process database under the home
 * directory, one in-process bus and one HTTP port. Requests go to the app whose route prefix is
 * the longest match, exactly as an ingress routes them in distributed mode.
 */
export async function startEmbeddedPlatform(options: EmbeddedOptions): Promise<EmbeddedPlatform> {
  const publicUrl = `http://${options.bind === '0.0.0.0' ? '127.0.0.1' : options.bind}:${options.port}`;
  const env: Record<string, string | undefined> = {
    // A quiet terminal by default; MYELIN_LOG_LEVEL=log shows every service's start-up.
    MYELIN_LOG_LEVEL: 'warn',
    ...options.env,
    MYELIN_HOME: options.home,
    MYELIN_DATABASE_URL: `pglite://${join(options.home, 'db')}`,
    MYELIN_AMQP_URL: 'memory://',
    MYELIN_PORT: String(options.port),
    MYELIN_BIND: options.bind,
    MYELIN_PUBLIC_URL: publicUrl,
    MYELIN_CREDENTIALS_FILE: join(options.home, 'credentials.json'),
    MYELIN_PGLITE_TEMPLATE: embeddedTemplatePath(),
  };
  const bus = new InProcessBus();
  const apps: AppHandle[] = [];
  try {
    // Sequential: they share one embedded database session, so parallel start-up gains nothing.
    for (const name of APP_NAMES) apps.push(await loadAppBootstrap(name)({ env, bus, listen: false }));
  } catch (error) {
    for (const app of apps.reverse()) await app.close().catch(() => undefined);
    await bus.close();
    throw error;
  }

  const routes = apps
    .flatMap((app) => app.routePrefixes.map((prefix) => ({ prefix, app })))
    .sort((a, b) => b.prefix.length - a.prefix.length);
  const api = apps.find((a) => a.name === 'api') as AppHandle;
  const root = express();
  root.get('/healthz', (_req: Request, res: Response) => void res.json({ status: 'ok', apps: apps.map((a) => a.name) }));
  root.get('/readyz', async (_req: Request, res: Response) => {
    const reports = await Promise.all(apps.map(async (a) => [a.name, await a.readiness()] as const));
    const ready = reports.every(([, r]) => r.ready);
    res.status(ready ? 200 : 503).json({ ready, apps: Object.fromEntries(reports) });
  });
  root.use((req, res, next) => {
    const route = routes.find((r) => req.path === r.prefix || req.path.startsWith(`${r.prefix}/`));
    (route?.app ?? api).httpHandler(req, res, next);
  });

  const server: Server = createServer(root);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.bind, resolve);
  });
  return {
    url: publicUrl,
    apps,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      for (const app of [...apps].reverse()) await app.close();
      await bus.close();
    },
  };
}

export { runReadiness };
