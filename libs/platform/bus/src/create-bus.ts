import { AmqpBus } from './amqp-bus';
import { InProcessBus } from './in-process-bus';
import { MessageBus } from './message-bus';

export interface BusConfig {
  /** `amqp://...` for RabbitMQ; `memory://` for the in-process bus (embedded mode). */
  url: string;
  prefix?: string;
  logger?: { log(m: string): void; warn(m: string): void; error(m: string): void };
}

export function createBus(config: BusConfig): MessageBus {
  if (config.url.startsWith('memory:')) return new InProcessBus();
  if (/^amqps?:\/\//.test(config.url)) return new AmqpBus({ url: config.url, prefix: config.prefix, logger: config.logger });
  throw new Error(`unsupported bus url "${config.url}" (expected amqp://, amqps:// or memory://)`);
}
