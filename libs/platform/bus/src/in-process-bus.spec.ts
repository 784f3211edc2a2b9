import { RunStart, RunStatusChanged, TokenVerify } from '@myelin/contracts';
import { InProcessBus } from './in-process-bus';
import { InvalidOutboundMessageError, MessageHandler, MessageMeta } from './message-bus';

const uuid = '6f1c2b8e-1f7a-4c1e-9a51-3b0f4ad1c2d3';
const status = (s: string) => ({ runUuid: uuid, status: s, reason: 'r', message: '', at: new Date().toISOString() });
const start = { runUuid: uuid, project: 'admin/q', number: 1, kind: 'experiment', cmd: 'true', params: {}, spec: {} };
const handlers = (entries: Record<string, (p: unknown, m: MessageMeta) => unknown>) =>
  new Map(Object.entries(entries) as Array<[string, MessageHandler]>);

describe('InProcessBus', () => {
  it('delivers a command to its owner only, and an event to every subscriber', async () => {
    const bus = new InProcessBus();
    const seen: string[] = [];
    await bus.consume('scheduler', handlers({ [RunStart.PATTERN]: () => seen.push('scheduler:start') }));
    await bus.consume('api', handlers({ [RunStatusChanged.PATTERN]: () => seen.push('api:status') }));
    await bus.consume('optimizer', handlers({ [RunStatusChanged.PATTERN]: () => seen.push('optimizer:status') }));
    await bus.send(RunStart.PATTERN, start);
    await bus.emit(RunStatusChanged.PATTERN, status('running'));
    await bus.drain();
    expect(seen.sort()).toEqual(['api:status', 'optimizer:status', 'scheduler:start']);
  });

  it('routes an event by its topic: a subscriber that follows some topics gets only those', async () => {
    const bus = new InProcessBus();
    const all: string[] = [];
    const groups: string[] = [];
    const pipelines: string[] = [];
    const follower = (seen: string[], kind: 'group' | 'pipeline') => {
      const handler = ((p: { status: string; parentKind?: string }) => seen.push(`${p.status}/${p.parentKind ?? '?'}`)) as unknown as MessageHandler;
      handler.topics = RunStatusChanged.finalChildrenOf(kind);
      return handler;
    };
    await bus.consume('api', handlers({ [RunStatusChanged.PATTERN]: (p) => all.push((p as { status: string }).status) }));
    await bus.consume('optimizer', new Map([[RunStatusChanged.PATTERN, follower(groups, 'group')]]));
    await bus.consume('pipelines', new Map([[RunStatusChanged.PATTERN, follower(pipelines, 'pipeline')]]));
    await bus.emit(RunStatusChanged.PATTERN, { ...status('running'), parentUuid: uuid, parentKind: 'group' });
    await bus.emit(RunStatusChanged.PATTERN, { ...status('succeeded'), parentUuid: null });
    await bus.emit(RunStatusChanged.PATTERN, { ...status('failed'), parentUuid: uuid, parentKind: 'pipeline' });
    await bus.emit(RunStatusChanged.PATTERN, { ...status('succeeded'), parentUuid: uuid, parentKind: 'group' });
    await bus.emit(RunStatusChanged.PATTERN, { ...status('stopped'), parentUuid: uuid });
    await bus.drain();
    expect(all).toEqual(['running', 'succeeded', 'failed', 'succeeded', 'stopped']);
    expect(groups).toEqual(['succeeded/group', 'stopped/?']);
    expect(pipelines).toEqual(['failed/pipeline', 'stopped/?']);
  });

  it("gives every subscriber its own instance of an event, untouched by the sender's and the other subscribers' changes", async () => {
    const bus = new InProcessBus();
    const got: Array<{ service: string; payload: RunStatusChanged.Payload }> = [];
    const mutating = (service: string) => (p: unknown) => {
      const payload = p as RunStatusChanged.Payload;
      got.push({ service, payload: { ...payload } });
      payload.status = 'failed';
      payload.reason = `changed by ${service}`;
    };
    await bus.consume('api', handlers({ [RunStatusChanged.PATTERN]: mutating('api') }));
    await bus.consume('optimizer', handlers({ [RunStatusChanged.PATTERN]: mutating('optimizer') }));
    const sent = status('running');
    await bus.emit(RunStatusChanged.PATTERN, sent);
    sent.status = 'stopped';
    await bus.drain();
    expect(got.map((g) => [g.service, g.payload.status, g.payload.reason]).sort()).toEqual([
      ['api', 'running', 'r'],
      ['optimizer', 'running', 'r'],
    ]);
  });

  it('keeps a command sent before its owner consumes', async () => {
    const bus = new InProcessBus();
    await bus.send(RunStart.PATTERN, start);
    const got: unknown[] = [];
    await bus.consume('scheduler', handlers({ [RunStart.PATTERN]: (p) => got.push(p) }));
    await bus.drain();
    expect(got).toHaveLength(1);
    expect(got[0]).toBeInstanceOf(RunStart.Payload); // validated into its class
  });

  it('refuses to publish a payload that breaks its contract', async () => {
    const bus = new InProcessBus();
    await expect(bus.send(RunStart.PATTERN, { ...start, runUuid: 'x' })).rejects.toThrow(InvalidOutboundMessageError);
    await expect(bus.emit(RunStart.PATTERN, start)).rejects.toThrow(/is a command/);
    await expect(bus.send('scheduler.cmd.run.fly.v1', {})).rejects.toThrow(/unknown message pattern/);
  });

  it('retries a failing handler with backoff, then dead-letters it', async () => {
    const bus = new InProcessBus({ maxAttempts: 3 });
    const attempts: number[] = [];
    await bus.consume('scheduler', handlers({
      [RunStart.PATTERN]: (_p, m) => {
        attempts.push(m.attempt);
        throw new Error('disk full');
      },
    }));
    await bus.send(RunStart.PATTERN, start);
    for (let i = 0; i < 50 && bus.deadLetters.length === 0; i++) {
      await bus.drain();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(attempts).toEqual([0, 1, 2]);
    expect(bus.deadLetters[0].reason).toMatch(/failed 3 times: disk full/);
  });

  it('recovers when a handler fails once', async () => {
    const bus = new InProcessBus();
    let calls = 0;
    await bus.consume('scheduler', handlers({
      [RunStart.PATTERN]: () => {
        calls++;
        if (calls === 1) throw new Error('transient');
      },
    }));
    await bus.send(RunStart.PATTERN, start);
    for (let i = 0; i < 50 && calls < 2; i++) {
      await bus.drain();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(calls).toBe(2);
    expect(bus.deadLetters).toHaveLength(0);
  });

  it('answers requests and reports their errors to the caller', async () => {
    const bus = new InProcessBus();
    await bus.consume('api', handlers({
      [TokenVerify.PATTERN]: (p) => {
        const { token } = p as TokenVerify.Payload;
        if (token === 'explode-now-please') throw new Error('boom');
        return { valid: token === 'good-token-123' };
      },
    }));
    await expect(bus.request(TokenVerify.PATTERN, { token: 'good-token-123' })).resolves.toEqual({ valid: true });
    await expect(bus.request(TokenVerify.PATTERN, { token: 'bad-token-1234' })).resolves.toEqual({ valid: false });
    await expect(bus.request(TokenVerify.PATTERN, { token: 'explode-now-please' }, 2000)).rejects.toThrow();
  });

  it('dead-letters an inbound payload that fails validation', async () => {
    const bus = new InProcessBus();
    await bus.consume('api', handlers({ [RunStatusChanged.PATTERN]: () => undefined }));
    // Bypass the outbound check to simulate a foreign producer.
    (bus as unknown as { deliver(s: string, e: object): void }).deliver('api', {
      pattern: RunStatusChanged.PATTERN,
      payload: { runUuid: uuid, status: 'flying' },
      attempt: 0,
    });
    await bus.drain();
    expect(bus.deadLetters[0].reason).toMatch(/invalid payload: .*status/);
  });
});
