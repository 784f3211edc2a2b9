import { CustomTransportStrategy, MessageHandler as NestHandler, Server } from '@nestjs/microservices';
import { lastValueFrom, isObservable } from 'rxjs';
import { MessageBus, MessageHandler, MessageMeta } from '../message-bus';

/**
 * Nest transport over a MessageBus: apps declare handlers with `@MessagePattern` (commands,
 * requests) and `@EventPattern` (events) as usual; this strategy hands them to the bus,
 * which validates every payload against its contract before the handler runs.
 * Connect it with `app.connectMicroservice({ strategy }, { inheritAppConfig: true })`; the app's
 * validation pipe passes the payload instances the bus built (see RequestValidationPipe).
 */
export class BusServer extends Server implements CustomTransportStrategy {
  constructor(
    private readonly bus: MessageBus,
    private readonly service: string,
  ) {
    super();
  }

  listen(callback: (...optionalParams: unknown[]) => void): void {
    const handlers = new Map<string, MessageHandler>();
    for (const [pattern, handler] of this.getHandlers()) {
      const wrapped = (async (payload: unknown, meta: MessageMeta) => {
        const result = await (handler as NestHandler)(payload, meta);
        const value = isObservable(result) ? await lastValueFrom(result, { defaultValue: undefined }) : result;
        return value;
      }) as MessageHandler;
      // `@EventPattern(pattern, { topics })`: the subscriber follows only those topics of the event.
      const topics = (handler.extras as { topics?: unknown } | undefined)?.topics;
      if (Array.isArray(topics)) wrapped.topics = topics.map(String);
      handlers.set(pattern, wrapped);
    }
    this.bus.consume(this.service, handlers).then(
      () => callback(),
      (error: unknown) => callback(error),
    );
  }

  close(): void {
    // The bus is owned by whoever created it (the app host closes it last).
  }

  on(): void {
    // No transport-level events to forward.
  }

  unwrap<T>(): T {
    return this.bus as T;
  }
}
