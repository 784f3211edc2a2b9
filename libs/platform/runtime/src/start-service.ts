import { ArgumentMetadata, DynamicModule, INestApplication, LogLevel, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import express from 'express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { BusServer, MessageBus } from '@myelin/bus';
import { AppHandle, AppName } from './app-host';
import { HttpErrorFilter } from './error-filter';
import { ReadinessCheck, runReadiness } from './health.controller';
import { isHealthProbe, processTurnBudget, turnBudgetMiddleware } from './turn-budget';

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
  /** At most this many requests begin per turn of the event loop (MYELIN_HTTP_REQUESTS_PER_TURN; 0: no limit). */
  requestsPerTurn: number;
  /** Serve an OpenAPI document of the app's routes and an interactive page. */
  openapi?: { title: string; description: string; jsonPath: string; docsPath: string };
  /** Largest JSON request body in bytes (default 4 MiB). */
  bodyLimitBytes?: number;
  /** Called after the Nest app closed (release the database, the bus if owned...). */
  onClose?: () => Promise<void>;
}

/**
 * The one place every app boots: HTTP with validation and one error shape, the bus transport
 * registered with `inheritAppConfig` (the error filter hands a handler's own error to the bus),
 * health endpoints, graceful close.
 */
export async function startService(options: StartServiceOptions): Promise<AppHandle> {
  const server = express();
  const levelIndex = Math.max(LEVELS.indexOf(options.logLevel as LogLevel), 1);
  const app: INestApplication = await NestFactory.create(options.module, new ExpressAdapter(server), {
    logger: LEVELS.slice(0, levelIndex + 1),
    bodyParser: false,
    abortOnError: false,
  });
  // Before anything else reads the request: a request waiting for its turn costs nothing yet.
  if (options.requestsPerTurn > 0) app.use(turnBudgetMiddleware(processTurnBudget(options.requestsPerTurn), isHealthProbe));
  app.use(express.json({ limit: options.bodyLimitBytes ?? 4 * 1024 * 1024, strict: false }));
  app.useGlobalPipes(new RequestValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
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
  app.connectMicroservice({ strategy: new BusServer(options.bus, options.name) }, { inheritAppConfig: true });
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

/**
 * Nest's validation pipe, except for a value that is already an instance of its declared class.
 * Request bodies, queries and params arrive as plain JSON or strings, so they are always
 * validated. A bus payload arrives as an instance of its contract class, built by the bus after it
 * validated the payload against that same class (docs/decisions/0002): checking it again cost
 * about 20 pipe runs per run in a burst of runs. (Nest gives bus payloads the type `body`, so the
 * argument type cannot tell them apart.)
 */
export class RequestValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (typeof metadata.metatype === 'function' && value instanceof metadata.metatype) return value;
    return super.transform(value, metadata);
  }
}
