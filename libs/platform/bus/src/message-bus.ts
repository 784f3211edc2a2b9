/** Delivery details given to a handler next to the validated payload. */
export interface MessageMeta {
  pattern: string;
  /** 0 for the first delivery of a message, then 1, 2... after handler failures. */
  attempt: number;
  /** True when the broker redelivers a message whose previous consumer died before acking. */
  redelivered: boolean;
}

export type MessageHandler = ((payload: never, meta: MessageMeta) => unknown) & {
  /**
   * For an event whose contract gives it a topic: the topics this subscriber follows (absent: all).
   * Set from `@EventPattern(pattern, { topics })` by the Nest transport.
   */
  topics?: readonly string[];
};

export interface BusHealth {
  connected: boolean;
  detail?: string;
}

/**
 * The one way every service sends commands, emits events and answers requests.
 * Implementations: RabbitMQ (distributed) and in-process (embedded). Both validate
 * every inbound payload against its contract and dead-letter what they cannot handle.
 */
export interface MessageBus {
  /** Register the handlers of one service. Commands and requests go to the service that owns the pattern; events to every subscriber. */
  consume(service: string, handlers: ReadonlyMap<string, MessageHandler>): Promise<void>;
  /** A command: one consumer, durable; resolves once the broker holds it. */
  send(pattern: string, payload: object): Promise<void>;
  /** An event: a fact for any number of subscribers. */
  emit(pattern: string, payload: object): Promise<void>;
  /** A request with a reply; rejects after `timeoutMs`. */
  request<TReply>(pattern: string, payload: object, timeoutMs?: number): Promise<TReply>;
  health(): BusHealth;
  close(): Promise<void>;
}

export const MESSAGE_BUS = Symbol('MESSAGE_BUS');

/** Thrown by `send`/`emit`/`request` when the payload breaks its own contract: a bug in the caller. */
export class InvalidOutboundMessageError extends Error {
  constructor(pattern: string, detail: string) {
    super(`refusing to publish ${pattern}: ${detail}`);
    this.name = 'InvalidOutboundMessageError';
  }
}

export class RequestTimeoutError extends Error {
  constructor(pattern: string, timeoutMs: number) {
    super(`no reply to ${pattern} within ${timeoutMs} ms`);
    this.name = 'RequestTimeoutError';
  }
}

/** A handler that wants a request's caller to see a clean error (not a retry) throws this. */
export class RemoteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteError';
  }
}
