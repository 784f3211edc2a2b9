import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import Redis from 'ioredis';

/**
 * Who may start and supervise a run when several scheduler replicas share one database. A claim
 * is a Redis key per run (`SET NX PX`, renewed while the run lives) plus a fencing token from a
 * counter that only grows (`INCR`); the token is stored with the execution and every status write
 * carries it, so a replica that lost its claim (paused past the lease, partitioned) is refused by
 * the database even if it still believes it holds the run.
 */
export interface RunLease {
  /** This replica's name, stored as the owner of the runs it starts. */
  readonly owner: string;
  /** True when other replicas may exist (Redis): supervise only own runs, adopt orphans. */
  readonly shared: boolean;
  /** A fencing token when this replica now holds the run; null when another replica does. */
  claim(runUuid: string): Promise<number | null>;
  /** Extend the claims on these runs; returns those still held by this replica. */
  renew(runUuids: string[]): Promise<Set<string>>;
  /** Runs among these that some replica holds. */
  held(runUuids: string[]): Promise<Set<string>>;
  release(runUuid: string): Promise<void>;
  /** Run `fn` unless another replica is admitting right now (limits are counted by one replica at a time). */
  exclusively<T>(fn: () => Promise<T>): Promise<T | undefined>;
  close(): Promise<void>;
}

export function replicaName(explicit?: string): string {
  return explicit || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** One scheduler (embedded mode, or no Redis): every claim is granted, tokens still only grow. */
export class LocalRunLease implements RunLease {
  readonly shared = false;
  private last = 0;

  constructor(readonly owner: string) {}

  async claim(): Promise<number> {
    // Microseconds since the epoch, strictly increasing: larger than any token of an earlier process.
    this.last = Math.max(this.last + 1, Date.now() * 1000);
    return this.last;
  }

  async renew(runUuids: string[]): Promise<Set<string>> {
    return new Set(runUuids);
  }

  async held(runUuids: string[]): Promise<Set<string>> {
    return new Set(runUuids);
  }

  async release(): Promise<void> {
    // Nothing is held: there is no other replica to keep out.
  }

  exclusively<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async close(): Promise<void> {
    // No connection to close.
  }
}

// Extend or delete a key only while it still holds our value (another replica may own it now).
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export class RedisRunLease implements RunLease {
  readonly shared = true;
  private readonly redis: Redis;

  constructor(
    url: string,
    private readonly prefix: string,
    readonly owner: string,
    private readonly ttlMs: number,
  ) {
    this.redis = new Redis(url, { maxRetriesPerRequest: 3, lazyConnect: false });
    this.redis.on('error', () => undefined); // reconnects by itself; commands fail meanwhile and the pass is retried
  }

  private key(runUuid: string): string {
    return `${this.prefix}:run:${runUuid}`;
  }

  async claim(runUuid: string): Promise<number | null> {
    const ok = await this.redis.set(this.key(runUuid), this.owner, 'PX', this.ttlMs, 'NX');
    if (ok !== 'OK') return null;
    return Number(await this.redis.incr(`${this.prefix}:fence`));
  }

  async renew(runUuids: string[]): Promise<Set<string>> {
    if (!runUuids.length) return new Set();
    const pipeline = this.redis.pipeline();
    for (const uuid of runUuids) pipeline.eval(RENEW, 1, this.key(uuid), this.owner, this.ttlMs);
    const results = (await pipeline.exec()) ?? [];
    return new Set(runUuids.filter((_, i) => !results[i]?.[0] && Number(results[i]?.[1]) === 1));
  }

  async held(runUuids: string[]): Promise<Set<string>> {
    if (!runUuids.length) return new Set();
    const values = await this.redis.mget(...runUuids.map((u) => this.key(u)));
    return new Set(runUuids.filter((_, i) => values[i] !== null));
  }

  async release(runUuid: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key(runUuid), this.owner);
  }

  async exclusively<T>(fn: () => Promise<T>): Promise<T | undefined> {
    const key = `${this.prefix}:admission`;
    const ok = await this.redis.set(key, this.owner, 'PX', this.ttlMs, 'NX');
    if (ok !== 'OK') return undefined;
    try {
      return await fn();
    } finally {
      await this.redis.eval(RELEASE, 1, key, this.owner).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
