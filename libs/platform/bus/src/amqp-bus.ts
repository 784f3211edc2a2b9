import { randomUUID } from 'node:crypto';
import amqp, { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { BusHealth, MessageBus, MessageHandler, RemoteError, RequestTimeoutError } from './message-bus';
import { findMessage } from '@myelin/contracts';
import { checkOutbound, DEFAULT_MAX_ATTEMPTS, dispatch, eventTopic, ownerOf, retryDelayMs } from './dispatcher';

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
/** A message's pattern when its routing key is not the pattern (an event's topic, a retried copy, a dead letter). */
const PATTERN_HEADER = 'x-myelin-pattern';
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
  /** Each channel (publisher, requester, consumer of a service): set up on the current connection? */
  private readonly channelUp = new Map<string, boolean>();
  private readonly commandBindings = new Map<string, Promise<void>>();
  private readonly pendingReplies = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly prefix: string;
  private connected = false;
  private connectedAt = 0;
  private lastHeal = 0;
  private readonly healer: NodeJS.Timeout;
  private lastError?: string;
  private closing = false;

  constructor(private readonly options: AmqpBusOptions) {
    this.prefix = options.prefix ?? 'myelin';
    this.connection = amqp.connect([options.url], {
      heartbeatIntervalInSeconds: 5,
      reconnectTimeInSeconds: 1,
      // TCP_NODELAY: without it a small publish can wait for the broker's delayed ACK (Nagle),
      // measured as 40 ms stalls between two messages of one relay pass.
      connectionOptions: { noDelay: true },
    });
    this.connection.on('connect', () => {
      this.connected = true;
      this.connectedAt = Date.now();
      this.lastError = undefined;
    });
    this.connection.on('disconnect', ({ err }) => {
      this.connected = false;
      this.lastError = err?.message;
      for (const name of this.channelUp.keys()) this.channelUp.set(name, false);
      if (!this.closing) this.options.logger?.warn(`broker connection lost: ${err?.message ?? 'closed'}; reconnecting`);
    });
    this.publisher = this.connection.createChannel({
      confirm: true,
      publishTimeout: options.publishTimeoutMs ?? 60_000,
      setup: async (ch: ConfirmChannel) => {
        this.onChannelClose(ch, 'publisher');
        await this.declareShared(ch);
      },
    });
    this.track(this.publisher, 'publisher');
    this.healer = setInterval(() => this.heal(), 1000);
    this.healer.unref();
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
    const name = `consumer of ${service}`;
    const wrapper = this.connection.createChannel({
      confirm: true,
      setup: async (ch: ConfirmChannel) => {
        this.onChannelClose(ch, name);
        await this.declareShared(ch);
        await this.declareServiceQueue(ch, service);
        for (const [pattern, handler] of handlers) {
          for (const key of bindingKeys(pattern, handler)) await ch.bindQueue(queue, this.exchange, key);
        }
        await ch.prefetch(this.options.prefetch ?? 16);
        await ch.consume(queue, (msg) => {
          if (msg) void this.onMessage(ch, service, handlers, msg);
          else {
            // The broker cancelled the subscription (its queue was deleted): down until heal()
            // sets the channel up again, which declares the queue anew.
            this.options.logger?.warn(`${name}: subscription cancelled by the broker`);
            this.channelUp.set(name, false);
          }
        });
      },
    });
    this.track(wrapper, name);
    // Resolves once the service really consumes: a setup that fails (its queue cannot be declared,
    // the connection dropped meanwhile) is logged and retried, never taken for a subscription.
    const subscribed = new Promise<void>((resolve) => {
      const check = () => {
        if (!this.channelUp.get(name)) return;
        wrapper.off('connect', check);
        resolve();
      };
      wrapper.on('connect', check); // after track()'s listener, which sets the state
    });
    this.consumers.push(wrapper);
    await subscribed;
  }

  async send(pattern: string, payload: object): Promise<void> {
    checkOutbound(pattern, payload, 'command');
    await this.ensureCommandBinding(pattern);
    await this.publish(pattern, payload, {});
  }

  async emit(pattern: string, payload: object): Promise<void> {
    const copy = checkOutbound(pattern, payload, 'event');
    // An event with a topic is routed under `<pattern>.<topic>`; its pattern travels in a header.
    const topic = eventTopic(pattern, copy);
    if (topic === undefined) await this.publish(pattern, payload, {});
    else await this.publish(pattern, payload, { [PATTERN_HEADER]: pattern }, `${pattern}.${topic}`);
  }

  async request<TReply>(pattern: string, payload: object, timeoutMs = 10_000): Promise<TReply> {
    checkOutbound(pattern, payload, 'request');
    const correlationId = randomUUID();
    const deadline = Date.now() + timeoutMs;
    // The deadline covers the wait for a connection too: while the broker is down a caller gets
    // its timeout, not a promise that waits for the broker's return.
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
      const fail = (e: Error) => {
        this.pendingReplies.get(correlationId)?.reject(e);
        this.pendingReplies.delete(correlationId);
      };
      void (async () => {
        await this.ensureCommandBinding(pattern);
        const requester = this.ensureRequester();
        await requester.waitForConnect();
        const left = deadline - Date.now();
        if (!this.pendingReplies.has(correlationId) || left <= 0) return; // timed out meanwhile: never sent late
        await requester.publish(this.exchange, pattern, Buffer.from(JSON.stringify(payload)), {
          replyTo: REPLY_QUEUE,
          correlationId,
          contentType: 'application/json',
          expiration: String(left),
          timeout: left,
        });
      })().catch(fail);
    });
  }

  health(): BusHealth {
    if (!this.connected) return { connected: false, detail: this.lastError ?? 'not connected to the broker' };
    // Connected, but a channel is not set up (just reconnected, or its setup failed): not ready either.
    const down = this.channelsDown();
    if (down.length) return { connected: false, detail: `channel not set up: ${down.join(', ')}` };
    return { connected: true };
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.healer);
    for (const c of this.consumers) await c.close().catch(() => undefined);
    await this.requester?.close().catch(() => undefined);
    await this.publisher.close().catch(() => undefined);
    await this.connection.close();
  }

  /**
   * Follow a channel's state. A wrapper reports a setup that failed (the connection closed while
   * its queues were being declared, a queue declared elsewhere with other arguments) as an
   * 'error' event: without a listener that event kills the process. Such a channel is down until
   * a setup round succeeds; `heal()` forces that round.
   */
  private track(wrapper: ChannelWrapper, name: string): void {
    let failed = false;
    this.channelUp.set(name, false);
    wrapper.on('error', (err: Error) => {
      failed = true;
      this.channelUp.set(name, false);
      if (!this.closing) this.options.logger?.warn(`${name}: channel setup failed: ${err.message}`);
    });
    // Emitted after every setup round, also one whose setups failed.
    wrapper.on('connect', () => {
      this.channelUp.set(name, !failed);
      failed = false;
    });
  }

  /**
   * Called first in every setup. A channel error (a 406 on a declaration, say) is emitted on the
   * amqplib channel, where amqp-connection-manager does not listen: unheard, it escalates and
   * tears the whole connection down. Heard here, only this channel closes and heal() reopens it.
   */
  private onChannelClose(ch: Channel, name: string): void {
    ch.on('error', (err: Error) => {
      if (!this.closing) this.options.logger?.warn(`${name}: channel error: ${err.message}`);
    });
    ch.once('close', () => this.channelUp.set(name, false));
  }

  private channelsDown(): string[] {
    return [...this.channelUp].filter(([, up]) => !up).map(([name]) => name);
  }

  /**
   * amqp-connection-manager reopens channels only when the connection comes back. A channel that
   * closed alone (a channel error) or failed its setup while the connection stayed up would stay
   * down for good: a deaf consumer, or a publisher whose messages wait until they time out. After
   * a grace period (a reconnect's setup is still running) reconnect, which sets every channel up
   * again: re-declares the topology, resubscribes, then publishes what waited.
   */
  private heal(): void {
    if (this.closing || !this.connected) return;
    const now = Date.now();
    if (now - this.connectedAt < 3000 || now - this.lastHeal < 5000) return;
    const down = this.channelsDown();
    if (!down.length) return;
    this.lastHeal = now;
    this.options.logger?.warn(`channel down while connected (${down.join(', ')}); reconnecting to set it up again`);
    this.connection.reconnect();
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
    let declared = this.commandBindings.get(pattern);
    if (!declared) {
      const owner = ownerOf(pattern);
      // Registered once (concurrent senders wait for the same run). addSetup keeps the setup for
      // every later channel even when this first run fails, which happens only when the channel
      // closed under it; the publisher sends nothing on a new channel before its setups are
      // done. So after a failure the binding counts as registered, and the failure still
      // reaches the callers that waited for it.
      declared = this.publisher.addSetup(async (ch: ConfirmChannel) => {
        await this.declareServiceQueue(ch, owner);
        await ch.bindQueue(this.queueOf(owner), this.exchange, pattern);
      }) as Promise<void>;
      this.commandBindings.set(pattern, declared);
      declared.catch(() => this.commandBindings.set(pattern, Promise.resolve()));
    }
    await declared;
  }

  private ensureRequester(): ChannelWrapper {
    if (!this.requester) {
      this.requester = this.connection.createChannel({
        confirm: false,
        setup: async (ch: Channel) => {
          this.onChannelClose(ch, 'requester');
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
      this.track(this.requester, 'requester');
    }
    return this.requester;
  }

  private async publish(pattern: string, payload: object, headers: Record<string, unknown>, routingKey = pattern): Promise<void> {
    await this.publisher.publish(this.exchange, routingKey, Buffer.from(JSON.stringify(payload)), {
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
    const pattern = (msg.properties.headers?.[PATTERN_HEADER] as string | undefined) ?? msg.fields.routingKey;
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
          headers: { ...(msg.properties.headers ?? {}), [ATTEMPT_HEADER]: attempt + 1, [PATTERN_HEADER]: pattern },
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
          [PATTERN_HEADER]: msg.properties.headers?.[PATTERN_HEADER] ?? msg.fields.routingKey,
        },
      });
      await ch.waitForConfirms();
      safe(() => ch.ack(msg));
    } catch {
      safe(() => ch.nack(msg, false, false)); // falls back on the queue's own dead-letter exchange
    }
  }
}

/**
 * The exchange bindings of one subscription: its pattern; for an event with topics (published
 * under `<pattern>.<topic>`), each topic it follows, or all of them.
 */
function bindingKeys(pattern: string, handler: MessageHandler): string[] {
  if (!findMessage(pattern)?.topic) return [pattern];
  return handler.topics ? handler.topics.map((topic) => `${pattern}.${topic}`) : [`${pattern}.#`];
}

function safe(fn: () => void): void {
  try {
    fn();
  } catch {
    // The channel closed under us; the broker requeues what we did not ack.
  }
}
