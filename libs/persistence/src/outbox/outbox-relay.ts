import { DataSource, EntityManager, EntitySubscriberInterface, TransactionCommitEvent } from 'typeorm';
import type { MessageKind } from '@myelin/contracts';
import { isEmbeddedDataSource } from '../data-source/create-data-source';

/** What the relay needs from the bus (kept structural so persistence does not depend on it). */
export interface OutboxPublisher {
  send(pattern: string, payload: object): Promise<void>;
  emit(pattern: string, payload: object): Promise<void>;
  request?: unknown;
}

export interface OutboxLogger {
  warn(message: string): void;
}

/** Queue a message in the caller's transaction. */
export async function enqueueOutbox(
  manager: EntityManager,
  schema: string,
  kind: Exclude<MessageKind, 'request'>,
  pattern: string,
  payload: object,
): Promise<void> {
  // Remembered on the transaction, so the schema's relay publishes right after the commit (below).
  const data = manager.queryRunner?.data as { outboxSchemas?: Set<string> } | undefined;
  if (data) (data.outboxSchemas ??= new Set()).add(schema);
  await manager.query(`INSERT INTO "${schema}"."outbox" ("pattern", "kind", "payload") VALUES ($1, $2, $3)`, [
    pattern,
    kind,
    JSON.stringify(payload),
  ]);
}

/** A message as queued in an outbox. */
export interface OutboxEntry {
  kind: Exclude<MessageKind, 'request'>;
  pattern: string;
  payload: object;
}

/** Queue several messages in the caller's transaction with one statement, in the given order. */
export async function enqueueOutboxMany(manager: EntityManager, schema: string, messages: readonly OutboxEntry[]): Promise<void> {
  if (!messages.length) return;
  if (messages.length === 1) return enqueueOutbox(manager, schema, messages[0].kind, messages[0].pattern, messages[0].payload);
  const data = manager.queryRunner?.data as { outboxSchemas?: Set<string> } | undefined;
  if (data) (data.outboxSchemas ??= new Set()).add(schema);
  // Ids follow the ordinality, so the relay publishes them in this order.
  await manager.query(
    `INSERT INTO "${schema}"."outbox" ("pattern", "kind", "payload")
     SELECT m.pattern, m.kind, m.payload FROM unnest($1::text[], $2::text[], $3::jsonb[]) WITH ORDINALITY AS m(pattern, kind, payload, n) ORDER BY m.n`,
    [messages.map((m) => m.pattern), messages.map((m) => m.kind), messages.map((m) => JSON.stringify(m.payload))],
  );
}

/** The longest an idle relay waits between two safety-net passes. */
const IDLE_POLL_MAX_MS = 5000;

/** The relays of each data source, so that a write outside a transaction can poke them (below). */
const relaysOf = new WeakMap<DataSource, Set<OutboxRelay>>();

/**
 * A single statement that queued messages in `schema`'s outbox outside a transaction (autocommit):
 * no commit event fires for it, so it pokes the schema's relays itself.
 */
export function outboxWritten(dataSource: DataSource, schema: string): void {
  for (const relay of relaysOf.get(dataSource) ?? []) if (relay.schema === schema) relay.poke();
}

/**
 * Publishes a schema's outbox in order. Rows are locked with SKIP LOCKED so several replicas of
 * a service can relay at once without publishing a row twice; a row is deleted only after the
 * broker confirmed it (at-least-once: consumers are idempotent).
 */
export class OutboxRelay {
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  // Until start(), commits do not poke it (a relay used only through flush() stays passive).
  private stopped = true;
  private failures = 0;
  private idlePasses = 0;
  private readonly embedded: boolean;

  constructor(
    private readonly dataSource: DataSource,
    readonly schema: string,
    private readonly publisher: OutboxPublisher,
    private readonly options: { intervalMs?: number; batchSize?: number; logger?: OutboxLogger } = {},
  ) {
    this.embedded = isEmbeddedDataSource(dataSource);
    // A transaction that queued messages for this schema pokes the relay once it commits: a
    // message waits for no polling interval (the interval stays as the safety net, e.g. for
    // rows another replica left behind).
    const afterCommit: EntitySubscriberInterface = {
      afterTransactionCommit: (event: TransactionCommitEvent) => {
        const data = event.queryRunner.data as { outboxSchemas?: Set<string> } | undefined;
        if (!event.queryRunner.isTransactionActive && data?.outboxSchemas?.has(this.schema)) this.poke();
      },
    };
    dataSource.subscribers.push(afterCommit);
    const relays = relaysOf.get(dataSource) ?? new Set<OutboxRelay>();
    relays.add(this);
    relaysOf.set(dataSource, relays);
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Ask for a relay pass now (after a commit that queued messages). */
  poke(): void {
    if (this.stopped) return;
    this.idlePasses = 0;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 10));
  }

  /** One pass: publish everything queued now. Returns the number of messages published. */
  async flush(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.publishBatch();
      total += n;
      if (n < (this.options.batchSize ?? 200)) return total;
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delayMs);
  }

  private async tick(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    let delay = this.options.intervalMs ?? 500;
    try {
      // The polling interval is only the safety net (commits poke the relay): while passes find
      // nothing it doubles, up to IDLE_POLL_MAX_MS, so an idle platform does not poll several
      // times a second. A poke or a pass that published something brings it back.
      this.idlePasses = (await this.flush()) ? 0 : this.idlePasses + 1;
      delay = Math.min(delay * 2 ** Math.min(this.idlePasses, 10), Math.max(delay, IDLE_POLL_MAX_MS));
      this.failures = 0;
    } catch (error) {
      this.failures++;
      delay = Math.min(500 * 2 ** this.failures, 10_000);
      this.options.logger?.warn(`outbox ${this.schema}: relay failed (${String(error)}); retrying in ${delay} ms`);
    } finally {
      this.running = false;
    }
    if (this.again) {
      this.again = false;
      delay = 0;
    }
    this.schedule(delay);
  }

  private async publishBatch(): Promise<number> {
    const limit = this.options.batchSize ?? 200;
    return this.dataSource.transaction(async (manager) => {
      // One relay of a schema at a time across replicas (held to the commit): two relaying side by
      // side would each take a batch and publish them interleaved, e.g. a run's end of logs before
      // lines the other still holds. The second waits, then takes what is left, in id order.
      // On the embedded database there is no other replica (its one session is this process's)
      // and the transaction already holds that session: the lock would be a statement per pass for nothing.
      if (!this.embedded) await manager.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`myelin.outbox.${this.schema}`]);
      // Taken and deleted in one statement, published before the commit: a failed publish rolls
      // the delete back and the rows go again on the next pass (at least once, in id order).
      const rows: Array<{ id: string | number; pattern: string; kind: MessageKind; payload: unknown }> =
        await manager.query(
          `WITH taken AS (
             DELETE FROM "${this.schema}"."outbox" WHERE "id" IN (
               SELECT "id" FROM "${this.schema}"."outbox" ORDER BY "id" LIMIT $1 FOR UPDATE SKIP LOCKED)
             RETURNING "id", "pattern", "kind", "payload")
           SELECT * FROM taken ORDER BY "id"`,
          [limit],
        );
      if (!rows.length) return 0;
      for (const row of rows) {
        const payload = (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as object;
        if (row.kind === 'event') await this.publisher.emit(row.pattern, payload);
        else await this.publisher.send(row.pattern, payload);
      }
      return rows.length;
    });
  }
}
