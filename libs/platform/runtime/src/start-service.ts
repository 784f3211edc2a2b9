import { DynamicModule, INestApplication, LogLevel, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import express from 'express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { BusServer, MessageBus } from '@myelin/bus';
import { AppHandle, AppName } from './app-host';
import { HttpErrorFilter } from './error-filter';
import { ReadinessCheck, runReadiness } from './health.controller';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

export interface StartServiceOptions {
  name: AppName;
  module: DynamicModule;
  bus: MessageBus;
  listen: boolean;
  port: number;
  bind: string;
  routePrefixes: string[];
  readiness: ReadinessCheck[];
  logLevel: string;
  /** Serve an OpenAPI document of the app's routes and an interactive page. */
  openapi?: { title: string; description: string; jsonPath: string; docsPath: string };
  /** Largest JSON request body in bytes (default 4 MiB). */
  bodyLimitBytes?: number;
  /** Called after the Nest app closed (release the database, the bus if owned...). */
  onClose?: () => Promise<void>;
}

/**
 * The one place every app boots: HTTP with validation and one error shape, the bus transport
 * (which validates inbound messages itself), health endpoints, graceful close.
 */
export async function startService(options: StartServiceOptions): Promise<AppHandle> {
  const server = express();
  const levelIndex = Math.max(LEVELS.indexOf(options.logLevel as LogLevel), 1);
  const app: INestApplication = await NestFactory.create(options.module, new ExpressAdapter(server), {
    logger: LEVELS.slice(0, levelIndex + 1),
    bodyParser: false,
    abortOnError: false,
  });
  app.use(express.json({ limit: options.bodyLimitBytes ?? 4 * 1024 * 1024, strict: false }));
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
  app.useGlobalFilters(new HttpErrorFilter());
  if (options.openapi) {
    const config = new DocumentBuilder()
      .setTitle(options.openapi.title)
      .setDescription(options.openapi.description)
      .setVersion('v1')
      .addApiKey({ type: 'apiKey', in: 'header', name: 'Authorization', description: '`token <key>` or `Bearer <key>`' }, 'token')
      .build();
    // Built on first request, not at boot: it costs start-up time every `myelin up` would pay.
    let document: ReturnType<typeof SwaggerModule.createDocument> | undefined;
    const documentFactory = () => (document ??= SwaggerModule.createDocument(app, config));
    SwaggerModule.setup(options.openapi.docsPath, app, documentFactory, { jsonDocumentUrl: options.openapi.jsonPath, raw: ['json'] });
  }
  // Not `inheritAppConfig`: the bus validates every payload against its contract already (and
  // hands the handler an instance of its class), so the HTTP validation pipe would check each
  // message a second time, about 20 checks per run in a burst. The error filter is still needed:
  // it hands a handler's own error to the bus instead of Nest's generic RPC error.
  const transport = app.connectMicroservice({ strategy: new BusServer(options.bus, options.name) });
  transport.useGlobalFilters(new HttpErrorFilter());
  await app.startAllMicroservices();
  let port: number | undefined;
  if (options.listen) {
    await app.listen(options.port, options.bind);
    const address = app.getHttpServer().address();
    port = typeof address === 'object' && address ? address.port : options.port;
  } else {
    await app.init();
  }
  return {
    name: options.name,
    routePrefixes: options.routePrefixes,
    httpHandler: server,
    port,
    readiness: () => runReadiness(options.readiness),
    async close() {
      await app.close();
      await options.onClose?.();
    },
  };
}
