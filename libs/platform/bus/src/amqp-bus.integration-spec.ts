import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { RunStart, RunStatusChanged, TokenVerify } from '@myelin/contracts';
import { removeBusPrefix, TEST_AMQP_URL, uniqueName, waitFor } from '@myelin/testing';
import { AmqpBus } from './amqp-bus';
import { MessageHandler, MessageMeta } from './message-bus';

const uuid = '6f1c2b8e-1f7a-4c1e-9a51-3b0f4ad1c2d3';
const start = { runUuid: uuid, project: 'admin/q', number: 1, kind: 'experiment', cmd: 'true', params: {}, spec: {} };
const status = { runUuid: uuid, status: 'running', reason: 'r', message: '', at: new Date().toISOString() };
const handlers = (entries: Record<string, (p: unknown, m: MessageMeta) => unknown>) =>
  new Map(Object.entries(entries) as Array<[string, MessageHandler]>);
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('AmqpBus on a real RabbitMQ', () => {
  // Each test gets its own prefix, so consumers left by one test never steal another's messages.
  const runPrefix = uniqueName('myelin-test');
  let prefix = runPrefix;
  const prefixes: string[] = [];
  const buses: AmqpBus[] = [];
  const newBus = (opts: Partial<ConstructorParameters<typeof AmqpBus>[0]> = {}) => {
    const bus = new AmqpBus({ url: TEST_AMQP_URL, prefix, logger: quiet, ...opts });
    buses.push(bus);
    return bus;
  };
  beforeEach(() => {
    prefix = `${runPrefix}-${prefixes.length}`;
    prefixes.push(prefix);
  });
  let raw: amqplib.ChannelModel;
  let rawChannel: amqplib.ConfirmChannel;

  beforeAll(async () => {
    raw = await amqplib.connect(TEST_AMQP_URL);
    rawChannel = await raw.createConfirmChannel();
  });

  afterAll(async () => {
    for (const b of buses) await b.close();
    for (const p of prefixes) await removeBusPrefix(p);
    await raw.close();
  });

  it('delivers a command to one consumer and an event to every subscriber', async () => {
    const bus = newBus();
    const seen: string[] = [];
    await bus.consume('scheduler', handlers({ [RunStart.PATTERN]: () => seen.push('scheduler') }));
    await bus.consume('api', handlers({ [RunStatusChanged.PATTERN]: () => seen.push('api') }));
    await bus.consume('optimizer', handlers({ [RunStatusChanged.PATTERN]: () => seen.push('optimizer') }));
    await bus.send(RunStart.PATTERN, start);
    await bus.emit(RunStatusChanged.PATTERN, status);
    await waitFor(() => seen.length === 3, { what: 'three deliveries' });
    expect(seen.sort()).toEqual(['api', 'optimizer', 'scheduler']);
  });

  it("routes an event by its topic: a subscriber that follows some topics gets only those, on retries too", async () => {
    const bus = newBus();
    const api: string[] = [];
    const optimizer: string[] = [];
    let failedOnce = false;
    await bus.consume('api', handlers({ [RunStatusChanged.PATTERN]: (p) => api.push((p as { status: string }).status) }));
    const follower = ((p: { status: string; parentKind?: string }) => {
      // The first delivery fails: the retried copy must still reach this handler, under its pattern.
      if (!failedOnce) {
        failedOnce = true;
        throw new Error('not yet');
      }
      optimizer.push(`${p.status}/${p.parentKind ?? '?'}`);
    }) as unknown as MessageHandler;
    follower.topics = RunStatusChanged.finalChildrenOf('group');
    await bus.consume('optimizer', new Map([[RunStatusChanged.PATTERN, follower]]));
    const trial = { ...status, parentUuid: uuid, parentKind: 'group' };
    await bus.emit(RunStatusChanged.PATTERN, { ...trial, status: 'running' }); // live: not for the optimizer
    await bus.emit(RunStatusChanged.PATTERN, { ...status, status: 'succeeded', parentUuid: null }); // a plain run
    await bus.emit(RunStatusChanged.PATTERN, { ...status, status: 'failed', parentUuid: uuid, parentKind: 'pipeline' }); // a pipeline's op
    await bus.emit(RunStatusChanged.PATTERN, { ...trial, status: 'succeeded' }); // a trial's end: delivered (after one retry)
    await bus.emit(RunStatusChanged.PATTERN, { ...status, status: 'stopped', parentUuid: uuid }); // parent not said: delivered
    await waitFor(() => api.length === 5 && optimizer.length === 2, { what: 'every event to the api, two to the optimizer' });
    await new Promise((r) => setTimeout(r, 300)); // nothing else arrives late
    expect(api).toEqual(['running', 'succeeded', 'failed', 'succeeded', 'stopped']);
    expect(optimizer.sort()).toEqual(['stopped/?', 'succeeded/group']); // the retried one comes back after the other
  });

  it("leaves nothing of a prefix on the broker once a test removes it (its queues and exchanges are durable)", async () => {
    const bus = newBus();
    await bus.consume('scheduler', handlers({ [RunStart.PATTERN]: () => undefined }));
    await bus.consume('api', handlers({ [RunStatusChanged.PATTERN]: () => undefined }));
    await bus.close();
    const exists = async (check: (ch: amqplib.Channel) => Promise<unknown>) => {
      const ch = await raw.createChannel();
      ch.on('error', () => undefined); // a 404 closes the channel
      try {
        await check(ch);
        await ch.close();
        return true;
      } catch {
        return false;
      }
    };
    const names = [`${prefix}.scheduler`, `${prefix}.scheduler.dlq`, `${prefix}.api`];
    for (const q of names) expect(await exists((ch) => ch.checkQueue(q))).toBe(true);
    expect(await exists((ch) => ch.checkExchange(`${prefix}.bus`))).toBe(true);
    await removeBusPrefix(prefix);
    for (const q of names) expect(await exists((ch) => ch.checkQueue(q))).toBe(false);
    expect(await exists((ch) => ch.checkExchange(`${prefix}.bus`))).toBe(false);
    expect(await exists((ch) => ch.checkExchange(`${prefix}.dlx`))).toBe(false);
    await removeBusPrefix(prefix); // again: nothing left, no error
  });

  it('keeps a command sent before its consumer ever started', async () => {
    const sender = newBus();
    await sender.send(RunStart.PATTERN, { ...start, number: 42 });
    const consumer = newBus();
    const got: number[] = [];
    await consumer.consume('scheduler', handlers({ [RunStart.PATTERN]: (p) => got.push((p as RunStart.Payload).number) }));
    await waitFor(() => got.includes(42), { what: 'the early command' });
    expect(got).toEqual([42]);
  });

  it('answers a request through direct reply-to', async () => {
    const bus = newBus();
    await bus.consume('api', handlers({
      [TokenVerify.PATTERN]: (p) => ({ valid: (p as TokenVerify.Payload).token === 'good-token-123', username: 'admin' }),
    }));
    await expect(bus.request(TokenVerify.PATTERN, { token: 'good-token-123' })).resolves.toEqual({
      valid: true,
      username: 'admin',
    });
  });

  it('dead-letters a malformed payload and an unknown pattern, with the reason', async () => {
    const bus = newBus();
    await bus.consume('tracking', handlers({ [RunStatusChanged.PATTERN]: () => undefined }));
    const dlq = bus.deadLetterQueueOf('tracking');
    // A foreign producer publishes an invalid status change, then garbage directly into the queue.
    rawChannel.publish(bus.exchange, RunStatusChanged.PATTERN, Buffer.from(JSON.stringify({ runUuid: 'nope' })));
    rawChannel.sendToQueue(bus.queueOf('tracking'), Buffer.from('{"x":1}'));
    await rawChannel.waitForConfirms();
    const reasons: string[] = [];
    await waitFor(async () => {
      const m = await rawChannel.get(dlq, { noAck: true });
      if (m) reasons.push(String(m.properties.headers?.['x-myelin-dead-reason']));
      return reasons.length === 2;
    }, { what: 'two dead letters' });
    expect(reasons.join('\n')).toMatch(/invalid payload: runUuid/);
    expect(reasons.join('\n')).toMatch(/no handler for pattern/);
  });

  it('redelivers a message whose consumer process was killed mid-message', async () => {
    const script = join(__dirname, '../../../../dist/libs/platform/bus/src/testing/hanging-consumer.js');
    if (!existsSync(script)) throw new Error(`build first (npm run build): ${script} is missing`);
    const child = spawn(process.execPath, [script, TEST_AMQP_URL, prefix], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('consuming'), { what: 'the child consumer' });
    const sender = newBus();
    await sender.send(RunStart.PATTERN, { ...start, number: 7 });
    await waitFor(() => out.includes('received 7'), { what: 'the child to receive the command' });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const survivor = newBus();
    const got: Array<{ n: number; redelivered: boolean }> = [];
    await survivor.consume('scheduler', handlers({
      [RunStart.PATTERN]: (p, m) => got.push({ n: (p as RunStart.Payload).number, redelivered: m.redelivered }),
    }));
    await waitFor(() => got.some((g) => g.n === 7), { what: 'the redelivery', timeoutMs: 15_000 });
    expect(got.find((g) => g.n === 7)?.redelivered).toBe(true);
  });

  it('retries a failing handler and then dead-letters it', async () => {
    const bus = newBus({ maxAttempts: 2 });
    let calls = 0;
    await bus.consume('optimizer', handlers({
      [RunStatusChanged.PATTERN]: () => {
        calls++;
        throw new Error('always broken');
      },
    }));
    await bus.emit(RunStatusChanged.PATTERN, status);
    const dead = await waitFor(async () => (await rawChannel.get(bus.deadLetterQueueOf('optimizer'), { noAck: true })) || null, {
      what: 'the dead letter',
    });
    expect(calls).toBe(2);
    expect(String(dead.properties.headers?.['x-myelin-dead-reason'])).toMatch(/failed 2 times: always broken/);
  });
});
