import { statusOf } from './kubernetes-client';
import type { PodView } from './pod-status';

export type PodEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** The two API calls a watch needs; the executor binds them to @kubernetes/client-node. */
export interface PodWatchSource {
  list(): Promise<{ items: PodView[]; resourceVersion: string }>;
  /** Start a watch from `resourceVersion`; `done` is called once when it ends (error or not). */
  watch(
    resourceVersion: string,
    onEvent: (type: string, object: Record<string, unknown>) => void,
    done: (error: unknown) => void,
  ): Promise<{ abort(): void }>;
}

export interface PodWatchOptions {
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Unhealthy when not connected for longer than this. */
  unhealthyAfterMs: number;
  logger?: { warn(message: string): void; log(message: string): void };
}

export interface PodWatchHealth {
  ok: boolean;
  detail: string;
}

/**
 * List, then watch from the list's resourceVersion; every event moves the resourceVersion on.
 * A dropped connection reconnects from the last resourceVersion seen (with exponential
 * backoff), so no transition is lost; 410 Gone (the server no longer has that version) lists
 * again and reports every difference as an event.
 */
export class PodWatch {
  readonly pods = new Map<string, PodView>();
  private resourceVersion = '';
  private stopped = false;
  private current?: { abort(): void };
  private listeners: Array<(type: PodEventType, pod: PodView) => void> = [];
  private syncedOnce!: () => void;
  private readonly synced = new Promise<void>((resolve) => (this.syncedOnce = resolve));
  private connectedSince: number | null = null;
  private disconnectedSince = Date.now();
  private loop?: Promise<void>;
  private wake?: () => void;
  readonly stats = { lists: 0, watches: 0, gone: 0, dropped: 0, events: 0 };
  lastError = '';

  constructor(
    private readonly source: PodWatchSource,
    private readonly options: PodWatchOptions,
  ) {}

  onEvent(listener: (type: PodEventType, pod: PodView) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.abort();
    this.wake?.();
    await this.loop;
  }

  /** Resolves once the first list has been applied (or after `timeoutMs`). */
  async ready(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([this.synced.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The first list has been applied: the cache says what exists. */
  get isSynced(): boolean {
    return this.stats.lists > 0;
  }

  health(): PodWatchHealth {
    const detail = `lists ${this.stats.lists}, watches ${this.stats.watches}, 410 Gone ${this.stats.gone}, dropped ${this.stats.dropped}, events ${this.stats.events}${this.lastError ? `, last error: ${this.lastError}` : ''}`;
    if (this.connectedSince !== null) return { ok: true, detail: `watching since resourceVersion ${this.resourceVersion}; ${detail}` };
    const down = Date.now() - this.disconnectedSince;
    return { ok: this.stats.lists > 0 && down < this.options.unhealthyAfterMs, detail: `not connected for ${Math.round(down / 1000)} s; ${detail}` };
  }

  private emit(type: PodEventType, pod: PodView): void {
    this.stats.events += 1;
    for (const listener of this.listeners) listener(type, pod);
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.source.list();
    this.stats.lists += 1;
    // Replace the whole cache first, then tell: listeners never see half of a list.
    const before = new Map(this.pods);
    this.pods.clear();
    for (const pod of items) this.pods.set(pod.metadata?.name ?? '', pod);
    this.resourceVersion = resourceVersion;
    for (const pod of items) this.emit(before.has(pod.metadata?.name ?? '') ? 'MODIFIED' : 'ADDED', pod);
    for (const [name, pod] of before) if (!this.pods.has(name)) this.emit('DELETED', pod);
    this.syncedOnce();
  }

  /** One watch connection: resolves with how it ended. */
  private watchOnce(): Promise<{ gone: boolean; events: number; lastedMs: number; error?: unknown }> {
    const started = Date.now();
    return new Promise((resolve) => {
      let events = 0;
      let gone = false;
      let settled = false;
      const finish = (error: unknown) => {
        if (settled) return;
        settled = true;
        if (this.connectedSince !== null) this.disconnectedSince = Date.now(); // down since now, not since each failed retry
        this.connectedSince = null;
        resolve({ gone: gone || statusOf(error) === 410, events, lastedMs: Date.now() - started, error });
      };
      this.stats.watches += 1;
      this.source
        .watch(
          this.resourceVersion,
          (type, object) => {
            if (type === 'ERROR') {
              // A Status object in the stream: 410 means our resourceVersion is too old.
              if (object['code'] === 410) gone = true;
              this.lastError = String(object['message'] ?? 'watch error');
              this.current?.abort();
              finish(null);
              return;
            }
            const rv = (object['metadata'] as { resourceVersion?: string } | undefined)?.resourceVersion;
            if (rv) this.resourceVersion = rv;
            events += 1;
            if (type === 'BOOKMARK') return;
            const pod = object as PodView;
            const name = pod.metadata?.name ?? '';
            if (type === 'DELETED') this.pods.delete(name);
            else this.pods.set(name, pod);
            if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') this.emit(type, pod);
          },
          finish,
        )
        .then((handle) => {
          this.current = handle;
          if (settled) handle.abort();
          else this.connectedSince = Date.now();
        }, finish);
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    let needList = true;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        const ended = await this.watchOnce();
        if (this.stopped) break;
        if (ended.gone) {
          this.stats.gone += 1;
          this.options.logger?.log('pod watch: resourceVersion gone (410), listing again');
          needList = true;
          failures = 0;
          continue;
        }
        this.stats.dropped += 1;
        if (ended.error) this.lastError = ended.error instanceof Error ? ended.error.message : String(ended.error);
        // A watch that delivered events or lasted a while (the server's timeoutSeconds) ended normally.
        failures = ended.events > 0 || ended.lastedMs > 10_000 ? 1 : failures + 1;
      } catch (error) {
        if (statusOf(error) === 410) needList = true;
        this.lastError = error instanceof Error ? error.message : String(error);
        failures += 1;
      }
      if (this.stopped) break;
      const delay = Math.min(this.options.maxBackoffMs, this.options.initialBackoffMs * 2 ** Math.max(0, failures - 1));
      if (failures > 1) this.options.logger?.warn(`pod watch: reconnecting in ${delay} ms (${this.lastError || 'connection closed'})`);
      await this.sleep(delay);
    }
  }
}
