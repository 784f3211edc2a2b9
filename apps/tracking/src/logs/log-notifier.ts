import { Logger } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import Redis from 'ioredis';

/**
 * Wakes log followers when new lines of a run are stored. The database stays the source of the
 * lines; a notification only says "look again now", so a lost one costs one fallback poll.
 */
export interface LogNotifier {
  notify(runUuid: string): void;
  /** Resolves on the next notification for the run, or after `timeoutMs`. */
  wait(runUuid: string, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

class Waiters {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  wake(runUuid: string): void {
    this.emitter.emit(runUuid);
  }

  wait(runUuid: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.emitter.off(runUuid, done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.emitter.on(runUuid, done);
    });
  }
}

/** One process (embedded mode, or a single tracking replica without Redis). */
export class InProcessLogNotifier implements LogNotifier {
  private readonly waiters = new Waiters();

  notify(runUuid: string): void {
    this.waiters.wake(runUuid);
  }

  wait(runUuid: string, timeoutMs: number): Promise<void> {
    return this.waiters.wait(runUuid, timeoutMs);
  }

  /** Nothing to release: waiters time out by themselves. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Distributed mode: a notification is published on Redis, so the replica serving a follower
 * wakes whichever replica stored the lines. One subscriber connection per process, one pattern.
 */
export class RedisLogNotifier implements LogNotifier {
  private readonly logger = new Logger('LogNotifier');
  private readonly waiters = new Waiters();
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly channelPrefix: string;

  constructor(url: string, prefix: string) {
    this.channelPrefix = `${prefix}:logs:`;
    // Notifications are hints: never queue them while disconnected, never fail a write for them.
    const options = { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: (n: number) => Math.min(n * 200, 5000) };
    this.publisher = new Redis(url, options);
    this.subscriber = new Redis(url, { ...options, enableOfflineQueue: true });
    for (const c of [this.publisher, this.subscriber]) c.on('error', (e: Error) => this.logger.warn(`redis: ${e.message}`));
    void this.subscriber.psubscribe(`${this.channelPrefix}*`).catch((e: Error) => this.logger.warn(`redis subscribe: ${e.message}`));
    this.subscriber.on('pmessage', (_pattern: string, channel: string) => this.waiters.wake(channel.slice(this.channelPrefix.length)));
  }

  notify(runUuid: string): void {
    this.waiters.wake(runUuid);
    void this.publisher.publish(`${this.channelPrefix}${runUuid}`, '1').catch(() => undefined);
  }

  wait(runUuid: string, timeoutMs: number): Promise<void> {
    return this.waiters.wait(runUuid, timeoutMs);
  }

  async close(): Promise<void> {
    this.publisher.disconnect();
    this.subscriber.disconnect();
  }
}
