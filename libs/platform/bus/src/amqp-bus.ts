import { randomUUID } from 'node:crypto';
import amqp, { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { BusHealth, MessageBus, MessageHandler, RemoteError, RequestTimeoutError } from './message-bus';
import { checkOutbound, DEFAULT_MAX_ATTEMPTS, dispatch, ownerOf, retryDelayMs } from './dispatcher';

export interface AmqpBusOptions {
  url: string;
  /** Prefix of every exchange and queue: isolates deployments (and test runs) sharing a broker. */
  prefix?: string;
  /** Unacked messages a consumer holds at once. */
  prefetch?: number;
  maxAttempts?: number;
  /** How long a publish may wait for the broker to come back before it is rejected. */
  publishTimeoutMs?: number;
  logger?: { log(m: string): void; warn(m: string): void; error(m: string): void };
}

const ATTEMPT_HEADER = 'x-myelin-attempt';
const REPLY_QUEUE = 'amq.rabbitmq.reply-to';

/**
 * RabbitMQ transport. Topology, per prefix P:
 *  - `P.bus` (topic): every message, routing key = its pattern;
 *  - `P.<service>` (durable queue): bound to the patterns the service handles; commands
 *    are bound by their sender too, so a command sent before its consumer ever started waits;
 *  - `P.dlx` (direct) and `P.<service>.dlq`: poison messages (unknown pattern, invalid payload)
 *    and messages whose handler failed `maxAttempts` times, with the reason in a header.
 * Consumers ack only after the handler resolved; a consumer that dies mid-message leaves it
 * unacked, so the broker redelivers it. Publishes use confirms and wait (bounded) across
 * reconnects, so a broker restart delays messages instead of dropping them.
 */
export class AmqpBus implements MessageBus {
  private readonly connection: AmqpConnectionManager;
  private readonly publisher: ChannelWrapper;
  private requester?: ChannelWrapper;
  private readonly consumers: ChannelWrapper[] = [];
  private readonly declaredCommandBindings = new Set<string>();
  private readonly pendingReplies = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly prefix: string;
  private connected = false;
  private lastError?: string;
  private closing = false;

  constructor(private readonly options: AmqpBusOptions) {
    this.prefix = options.prefix ?? 'myelin';
    this.connection = amqp.connect([options.url], {
      heartbeatIntervalInSeconds: 5,
      reconnectTimeInSeconds: 1,
    });
    this.connection.on('connect', () => {
      this.connected = true;
      this.lastError = undefined;
    });
    this.connection.on('disconnect', ({ err }) => {
      this.connected = false;
      this.lastError = err?.message;
      if (!this.closing) this.options.logger?.warn(`broker connection lost: ${err?.message ?? 'closed'}; reconnecting`);
    });
    this.publisher = this.connection.createChannel({
      confirm: true,
      publishTimeout: options.publishTimeoutMs ?? 60_000,
      setup: (ch: ConfirmChannel) => this.declareShared(ch),
    });
  }

  get exchange(): string {
    return `${this.prefix}.bus`;
  }
  get deadLetterExchange(): string {
    return `${this.prefix}.dlx`;
  }
  queueOf(service: string): string {
    return `${this.prefix}.${service}`;
  }
  deadLetterQueueOf(service: string): string {
    return `${this.prefix}.${service}.dlq`;
  }

  async waitForConnect(): Promise<void> {
    await this.publisher.waitForConnect();
  }

  async consume(service: string, handlers: ReadonlyMap<string, MessageHandler>): Promise<void> {
    const queue = this.queueOf(service);
    const wrapper = this.connection.createChannel({
      confirm: true,
      setup: async (ch: ConfirmChannel) => {
        await this.declareShared(ch);
        await this.declareServiceQueue(ch, service);
        for (const pattern of handlers.keys()) await ch.bindQueue(queue, this.exchange, pattern);
        await ch.prefetch(this.options.prefetch ?? 16);
        await ch.consume(queue, (msg) => {
          if (msg) void this.onMessage(ch, service, handlers, msg);
        });
      },
    });
    this.consumers.push(wrapper);
    await wrapper.waitForConnect();
  }

  async send(pattern: string, payload: object): Promise<void> {
    checkOutbound(pattern, payload, 'command');
    await this.ensureCommandBinding(pattern);
    await this.publish(pattern, payload, {});
  }

  async emit(pattern: string, payload: object): Promise<void> {
    checkOutbound(pattern, payload, 'event');
    await this.publish(pattern, payload, {});
  }

  async request<TReply>(pattern: string, payload: object, timeoutMs = 10_000): Promise<TReply> {
    checkOutbound(pattern, payload, 'request');
    await this.ensureCommandBinding(pattern);
    const requester = this.ensureRequester();
    await requester.waitForConnect();
    const correlationId = randomUUID();
    return new Promise<TReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingReplies.delete(correlationId);
        reject(new RequestTimeoutError(pattern, timeoutMs));
      }, timeoutMs);
      this.pendingReplies.set(correlationId, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as TReply);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      requester
        .publish(this.exchange, pattern, Buffer.from(JSON.stringify(payload)), {
          replyTo: REPLY_QUEUE,
          correlationId,
          contentType: 'application/json',
          expiration: String(timeoutMs),
        })
        .catch((e: Error) => {
          this.pendingReplies.get(correlationId)?.reject(e);
          this.pendingReplies.delete(correlationId);
        });
    });
  }

  health(): BusHealth {
    return { connected: this.connected, detail: this.lastError };
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const c of this.consumers) await c.close().catch(() => undefined);
    await this.requester?.close().catch(() => undefined);
    await this.publisher.close().catch(() => undefined);
    await this.connection.close();
  }

  /** Remove this prefix's queues and exchanges (test clean-up). */
  async destroyTopology(services: string[]): Promise<void> {
    await this.publisher.addSetup(async (ch: ConfirmChannel) => {
      for (const s of services) {
        await ch.deleteQueue(this.queueOf(s));
        await ch.deleteQueue(this.deadLetterQueueOf(s));
      }
      await ch.deleteExchange(this.exchange);
      await ch.deleteExchange(this.deadLetterExchange);
    });
  }

  private async declareShared(ch: Channel): Promise<void> {
    await ch.assertExchange(this.exchange, 'topic', { durable: true });
    await ch.assertExchange(this.deadLetterExchange, 'direct', { durable: true });
  }

  /** Declared identically by consumers and by command senders (arguments must match). */
  private async declareServiceQueue(ch: Channel, service: string): Promise<void> {
    const dlq = this.deadLetterQueueOf(service);
    await ch.assertQueue(dlq, { durable: true });
    await ch.bindQueue(dlq, this.deadLetterExchange, service);
    await ch.assertQueue(this.queueOf(service), {
      durable: true,
      arguments: { 'x-dead-letter-exchange': this.deadLetterExchange, 'x-dead-letter-routing-key': service },
    });
  }

  private async ensureCommandBinding(pattern: string): Promise<void> {
    if (this.declaredCommandBindings.has(pattern)) return;
    const owner = ownerOf(pattern);
    // addSetup runs now and again after every reconnect.
    await this.publisher.addSetup(async (ch: ConfirmChannel) => {
      await this.declareServiceQueue(ch, owner);
      await ch.bindQueue(this.queueOf(owner), this.exchange, pattern);
    });
    this.declaredCommandBindings.add(pattern);
  }

  private ensureRequester(): ChannelWrapper {
    if (!this.requester) {
      this.requester = this.connection.createChannel({
        confirm: false,
        setup: async (ch: Channel) => {
          await ch.consume(
            REPLY_QUEUE,
            (msg) => {
              if (!msg) return;
              const pending = this.pendingReplies.get(msg.properties.correlationId as string);
              if (!pending) return;
              this.pendingReplies.delete(msg.properties.correlationId as string);
              const body = JSON.parse(msg.content.toString()) as { ok: boolean; value?: unknown; error?: string };
              if (body.ok) pending.resolve(body.value);
              else pending.reject(new RemoteError(body.error ?? 'request failed'));
            },
            { noAck: true },
          );
        },
      });
    }
    return this.requester;
  }

  private async publish(pattern: string, payload: object, headers: Record<string, unknown>): Promise<void> {
    await this.publisher.publish(this.exchange, pattern, Buffer.from(JSON.stringify(payload)), {
      persistent: true,
      contentType: 'application/json',
      messageId: randomUUID(),
      headers,
    });
  }

  private async onMessage(
    ch: ConfirmChannel,
    service: string,
    handlers: ReadonlyMap<string, MessageHandler>,
    msg: ConsumeMessage,
  ): Promise<void> {
    // A retried copy is re-queued directly, so its pattern travels in a header.
    const pattern = (msg.properties.headers?.['x-myelin-pattern'] as string | undefined) ?? msg.fields.routingKey;
    const attempt = Number(msg.properties.headers?.[ATTEMPT_HEADER] ?? 0);
    let plain: unknown;
    try {
      plain = JSON.parse(msg.content.toString('utf8'));
    } catch {
      await this.deadLetter(ch, service, msg, 'payload is not JSON');
      return;
    }
    const outcome = await dispatch(handlers, { pattern, attempt, redelivered: msg.fields.redelivered }, plain);
    const replyTo = msg.properties.replyTo as string | undefined;
    if (outcome.kind === 'handled') {
      if (replyTo) this.reply(ch, msg, { ok: true, value: outcome.reply ?? null });
      safe(() => ch.ack(msg));
      return;
    }
    if (outcome.kind === 'failed' && replyTo) {
      // A request's caller is waiting: answer with the error instead of retrying behind its back.
      this.reply(ch, msg, { ok: false, error: outcome.error.message });
      safe(() => ch.ack(msg));
      return;
    }
    const maxAttempts = this.options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (outcome.kind === 'failed' && attempt + 1 < maxAttempts && !this.closing) {
      this.options.logger?.warn(
        `${service}: handler for ${pattern} failed (attempt ${attempt + 1}/${maxAttempts}): ${outcome.error.message}`,
      );
      await new Promise((r) => setTimeout(r, retryDelayMs(attempt)));
      try {
        // Re-queue a copy with the attempt count, then ack the original: at-least-once, never lost.
        ch.sendToQueue(this.queueOf(service), msg.content, {
          ...msg.properties,
          persistent: true,
          headers: { ...(msg.properties.headers ?? {}), [ATTEMPT_HEADER]: attempt + 1, 'x-myelin-pattern': pattern },
        });
        await ch.waitForConfirms();
        safe(() => ch.ack(msg));
      } catch {
        // Channel gone: the unacked original is redelivered by the broker.
      }
      return;
    }
    const reason = outcome.kind === 'dead' ? outcome.reason : `handler failed ${maxAttempts} times: ${outcome.error.message}`;
    await this.deadLetter(ch, service, msg, reason);
  }

  private reply(ch: Channel, msg: ConsumeMessage, body: { ok: boolean; value?: unknown; error?: string }): void {
    safe(() =>
      ch.sendToQueue(msg.properties.replyTo as string, Buffer.from(JSON.stringify(body)), {
        correlationId: msg.properties.correlationId as string,
        contentType: 'application/json',
      }),
    );
  }

  private async deadLetter(ch: ConfirmChannel, service: string, msg: ConsumeMessage, reason: string): Promise<void> {
    this.options.logger?.error(`${service}: dead-lettering ${msg.fields.routingKey}: ${reason}`);
    try {
      ch.publish(this.deadLetterExchange, service, msg.content, {
        ...msg.properties,
        persistent: true,
        headers: {
          ...(msg.properties.headers ?? {}),
          'x-myelin-dead-reason': reason.slice(0, 2000),
          'x-myelin-pattern': msg.properties.headers?.['x-myelin-pattern'] ?? msg.fields.routingKey,
        },
      });
      await ch.waitForConfirms();
      safe(() => ch.ack(msg));
    } catch {
      safe(() => ch.nack(msg, false, false)); // falls back on the queue's own dead-letter exchange
    }
  }
}

function safe(fn: () => void): void {
  try {
    fn();
  } catch {
    // The channel closed under us; the broker requeues what we did not ack.
  }
}
