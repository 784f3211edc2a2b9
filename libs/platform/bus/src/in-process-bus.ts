import {
  BusHealth,
  MessageBus,
  MessageHandler,
  RemoteError,
  RequestTimeoutError,
} from './message-bus';
import { checkOutbound, DEFAULT_MAX_ATTEMPTS, DeadLetter, dispatch, eventTopic, follows, ownerOf, retryDelayMs } from './dispatcher';

interface Envelope {
  pattern: string;
  payload: unknown;
  attempt: number;
  /** Validated by send/emit/request on the way in (a copy of it): delivered without validating again. */
  checked?: boolean;
  reply?: { resolve: (v: unknown) => void; reject: (e: Error) => void };
}

/**
 * The embedded-mode bus: same contract as RabbitMQ (validation, one consumer per
 * command, fan-out of events, retries with backoff, dead letters) inside one process.
 * Payloads are copied through JSON so no service shares an object with another.
 * Commands sent before their owner registers wait in its queue, as on a durable queue.
 */
export class InProcessBus implements MessageBus {
  private readonly services = new Map<string, ReadonlyMap<string, MessageHandler>>();
  private readonly waiting = new Map<string, Envelope[]>(); // owner -> commands sent before it consumed
  private readonly inFlight = new Set<Promise<void>>();
  readonly deadLetters: DeadLetter[] = [];
  private closed = false;

  constructor(private readonly options: { maxAttempts?: number; onDeadLetter?: (d: DeadLetter) => void } = {}) {}

  async consume(service: string, handlers: ReadonlyMap<string, MessageHandler>): Promise<void> {
    this.services.set(service, handlers);
    const pending = this.waiting.get(service) ?? [];
    this.waiting.delete(service);
    for (const envelope of pending) this.deliver(service, envelope);
  }

  async send(pattern: string, payload: object): Promise<void> {
    // The copy that was checked is the one delivered (payloads cross services as copies, never shared).
    this.route(pattern, { pattern, payload: checkOutbound(pattern, payload, 'command'), attempt: 0, checked: true });
  }

  async emit(pattern: string, payload: object): Promise<void> {
    const copy = checkOutbound(pattern, payload, 'event');
    // Routed by topic as RabbitMQ does: a subscriber that follows some topics only gets those.
    const topic = eventTopic(pattern, copy);
    for (const [service, handlers] of this.services) {
      if (follows(handlers.get(pattern), topic)) this.deliver(service, { pattern, payload: copy, attempt: 0, checked: true });
    }
  }

  request<TReply>(pattern: string, payload: object, timeoutMs = 10_000): Promise<TReply> {
    const copy = checkOutbound(pattern, payload, 'request');
    return new Promise<TReply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RequestTimeoutError(pattern, timeoutMs)), timeoutMs);
      this.route(pattern, {
        pattern,
        payload: copy,
        attempt: 0,
        checked: true,
        reply: {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(clone(v) as TReply);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        },
      });
    });
  }

  health(): BusHealth {
    return { connected: !this.closed, detail: 'in-process' };
  }

  /** Resolves when every message delivered so far has been handled (tests, graceful shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.drain();
  }

  private route(pattern: string, envelope: Envelope): void {
    const owner = ownerOf(pattern);
    const handlers = this.services.get(owner);
    if (handlers) {
      this.deliver(owner, envelope);
    } else {
      const queue = this.waiting.get(owner) ?? [];
      queue.push(envelope);
      this.waiting.set(owner, queue);
    }
  }

  private deliver(service: string, envelope: Envelope): void {
    if (this.closed) return;
    const task = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.handle(service, envelope));
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
  }

  private async handle(service: string, envelope: Envelope): Promise<void> {
    const handlers = this.services.get(service) ?? new Map<string, MessageHandler>();
    const outcome = await dispatch(
      handlers,
      { pattern: envelope.pattern, attempt: envelope.attempt, redelivered: false },
      envelope.payload,
      envelope.checked === true,
    );
    if (outcome.kind === 'handled') {
      envelope.reply?.resolve(outcome.reply);
      return;
    }
    if (outcome.kind === 'failed' && envelope.reply) {
      // A request's caller is waiting: it gets the error now, no retry behind its back (as on RabbitMQ).
      envelope.reply.reject(outcome.error instanceof RemoteError ? outcome.error : new RemoteError(outcome.error.message));
      return;
    }
    const maxAttempts = this.options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (outcome.kind === 'failed' && envelope.attempt + 1 < maxAttempts && !this.closed) {
      await new Promise((r) => setTimeout(r, retryDelayMs(envelope.attempt)));
      this.deliver(service, { ...envelope, attempt: envelope.attempt + 1 });
      return;
    }
    const reason = outcome.kind === 'dead' ? outcome.reason : `handler failed ${maxAttempts} times: ${outcome.error.message}`;
    const letter: DeadLetter = {
      service,
      pattern: envelope.pattern,
      payload: envelope.payload,
      reason,
      at: new Date().toISOString(),
    };
    this.deadLetters.push(letter);
    this.options.onDeadLetter?.(letter);
    envelope.reply?.reject(new Error(reason));
  }
}

function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

