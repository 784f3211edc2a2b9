import amqplib from 'amqplib';
import { RunStart, RunStatusChanged, TokenVerify } from '@myelin/contracts';
import { PrivateRabbitMq, startPrivateRabbitMq, uniqueName, waitFor } from '@myelin/testing';
import { AmqpBus } from './amqp-bus';
import { MessageHandler, MessageMeta, RequestTimeoutError } from './message-bus';

jest.setTimeout(120_000);

const uuid = (n: number) => `6f1c2b8e-1f7a-4c1e-9a51-${String(n).padStart(12, '0')}`;
const start = (n: number) => ({ runUuid: uuid(n), project: 'admin/q', number: n, kind: 'experiment', cmd: 'true', params: {}, spec: {} });
const status = (n: number) => ({ runUuid: uuid(n), status: 'running', reason: 'r', message: '', at: new Date().toISOString() });
const handlers = (entries: Record<string, (p: unknown, m: MessageMeta) => unknown>) =>
  new Map(Object.entries(entries) as Array<[string, MessageHandler]>);

/**
 * The bus across a restart of its broker (a private RabbitMQ node, so the shared one is never
 * touched): publishers either get a confirm or an error (never a silent drop), consumers come
 * back on their own, requests keep their deadline, and no channel error escapes as a crash. A
 * consumer whose channel is lost while the connection stays up is set up again too.
 */
describe('AmqpBus recovers from a broker restart and from lost channels', () => {
  let broker: PrivateRabbitMq;
  const buses: AmqpBus[] = [];
  const warnings: string[] = [];
  const logger = { log: () => undefined, warn: (m: string) => warnings.push(m), error: (m: string) => warnings.push(m) };
  const newBus = (opts: Partial<ConstructorParameters<typeof AmqpBus>[0]> = {}) => {
    const bus = new AmqpBus({ url: broker.url, prefix: uniqueName('restart'), logger, ...opts });
    buses.push(bus);
    return bus;
  };
  const crashes: unknown[] = [];
  const onCrash = (e: unknown) => crashes.push(e);

  beforeAll(async () => {
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    broker = await startPrivateRabbitMq({ label: 'myelin-bus-restart' });
  });

  // A test that failed while the broker was down must not take the next ones with it.
  beforeEach(async () => {
    if (!broker.running) await broker.start();
  });

  afterAll(async () => {
    for (const b of buses) await b.close().catch(() => undefined);
    await broker?.destroy();
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
  });

  it.each(['stop', 'kill'] as const)('loses no message sent by a retrying publisher while the broker restarts (%s), and the consumer resubscribes', async (how) => {
    const prefix = uniqueName('restart');
    const publisher = newBus({ prefix, publishTimeoutMs: 60_000 });
    const consumer = newBus({ prefix });
    const got = new Map<number, number>();
    await consumer.consume('scheduler', handlers({
      [RunStart.PATTERN]: (p) => {
        const n = (p as RunStart.Payload).number;
        got.set(n, (got.get(n) ?? 0) + 1);
      },
    }));
    // Subscribed; its other channel (the publisher's) may still be setting up under load, and
    // health says ready only once every channel is (CI saw it false right after consume).
    await waitFor(() => consumer.health().connected, { what: 'the consumer to be ready', timeoutMs: 20_000 });

    // Like the outbox relay: a message counts as sent once `send` resolved; a rejection (a publish
    // left unconfirmed when the connection went) is retried.
    const deadline = Date.now() + 60_000;
    const sendUntilConfirmed = async (n: number) => {
      while (Date.now() < deadline) {
        try {
          await publisher.send(RunStart.PATTERN, start(n));
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    };
    const total = 300;
    const sending = (async () => {
      for (let n = 1; n <= total; n++) {
        await sendUntilConfirmed(n);
        if (n % 10 === 0) await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await waitFor(() => got.size >= 20, { what: 'the first deliveries' });
    await (how === 'stop' ? broker.stop() : broker.kill());
    await waitFor(() => !publisher.health().connected && !consumer.health().connected, { what: 'both buses to see the broker gone' });
    // After a SIGKILL amqplib reports "Unexpected close" (no close frame); after a stop, CONNECTION_FORCED.
    expect(consumer.health()).toEqual({ connected: false, detail: expect.stringMatching(/CONNECTION_FORCED|[Cc]lose|ECONNREFUSED|ECONNRESET/) });
    await new Promise((r) => setTimeout(r, 1500));
    await broker.start();
    await sending;
    await waitFor(() => got.size === total, { what: `all ${total} messages (got ${got.size})`, timeoutMs: 30_000 });
    expect([...got.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    await waitFor(() => publisher.health().connected && consumer.health().connected, { what: 'both buses to reconnect' });
    expect(crashes).toEqual([]);
  });

  // Publish timeouts of 60 s: a private broker's restart took over 30 s on a loaded 2-core machine.
  it('delivers events emitted while the broker was down once it is back', async () => {
    const prefix = uniqueName('restart');
    const bus = newBus({ prefix, publishTimeoutMs: 60_000 });
    const seen: string[] = [];
    await bus.consume('api', handlers({ [RunStatusChanged.PATTERN]: (p) => seen.push((p as RunStatusChanged.Payload).runUuid) }));
    await broker.stop();
    const pending = Promise.all([1, 2, 3].map((n) => bus.emit(RunStatusChanged.PATTERN, status(n))));
    await new Promise((r) => setTimeout(r, 1000));
    await broker.start();
    await pending;
    await waitFor(() => seen.length === 3, { what: 'the three events', timeoutMs: 20_000 });
    expect(seen.sort()).toEqual([uuid(1), uuid(2), uuid(3)]);
    expect(crashes).toEqual([]);
  });

  it('rejects a request within its timeout while the broker is down, and answers again after', async () => {
    const prefix = uniqueName('restart');
    const bus = newBus({ prefix });
    await bus.consume('api', handlers({ [TokenVerify.PATTERN]: () => ({ valid: true, username: 'admin' }) }));
    await expect(bus.request(TokenVerify.PATTERN, { token: 'good-token-123' }, 5000)).resolves.toEqual({ valid: true, username: 'admin' });
    await broker.stop();
    const began = Date.now();
    await expect(bus.request(TokenVerify.PATTERN, { token: 'good-token-123' }, 1000)).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(Date.now() - began).toBeLessThan(3000);
    await broker.start();
    await waitFor(async () => (await bus.request<{ valid: boolean }>(TokenVerify.PATTERN, { token: 'good-token-123' }, 2000)).valid, {
      what: 'a reply after the restart',
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    expect(crashes).toEqual([]);
  });

  it('reports a consumer whose queue cannot be declared, without crashing, and subscribes once the conflict is gone', async () => {
    const prefix = uniqueName('restart');
    const bus = newBus({ prefix });
    const raw = await amqplib.connect(broker.url);
    try {
      const ch = await raw.createChannel();
      // Someone declared the service's queue with other arguments: the bus's declaration fails.
      await ch.assertQueue(bus.queueOf('scheduler'), { durable: true });
      const got: number[] = [];
      let consuming = false;
      const subscribed = bus
        .consume('scheduler', handlers({ [RunStart.PATTERN]: (p) => got.push((p as RunStart.Payload).number) }))
        .then(() => (consuming = true));
      await waitFor(() => warnings.some((w) => /consumer of scheduler: channel setup failed: .*PRECONDITION_FAILED/.test(w)), {
        what: 'the setup failure to be logged',
      });
      expect(bus.health()).toEqual({ connected: false, detail: expect.stringContaining('consumer of scheduler') });
      await new Promise((r) => setTimeout(r, 1000));
      expect(consuming).toBe(false);

      await ch.deleteQueue(bus.queueOf('scheduler'));
      await subscribed;
      await bus.send(RunStart.PATTERN, start(5));
      await waitFor(() => got.includes(5), { what: 'the command after the conflict was resolved', timeoutMs: 15_000 });
      await waitFor(() => bus.health().connected, { what: 'the bus to be ready' });
      expect(crashes).toEqual([]);
    } finally {
      await raw.close();
    }
  });

  it('sets up a consumer again when its queue is deleted under it', async () => {
    const prefix = uniqueName('restart');
    const bus = newBus({ prefix });
    const got: number[] = [];
    await bus.consume('scheduler', handlers({ [RunStart.PATTERN]: (p) => got.push((p as RunStart.Payload).number) }));
    await bus.send(RunStart.PATTERN, start(1));
    await waitFor(() => got.includes(1), { what: 'the first command' });

    const raw = await amqplib.connect(broker.url);
    try {
      await (await raw.createChannel()).deleteQueue(bus.queueOf('scheduler'));
    } finally {
      await raw.close();
    }
    await waitFor(() => !bus.health().connected, { what: 'the cancelled consumer to be reported' });
    await waitFor(() => bus.health().connected, { what: 'the consumer to be set up again', timeoutMs: 20_000 });
    await bus.send(RunStart.PATTERN, start(2));
    await waitFor(() => got.includes(2), { what: 'a command after the queue came back', timeoutMs: 15_000 });
    expect(crashes).toEqual([]);
  });
});
