import { RunStatusChanged, TokenVerify } from '@myelin/contracts';
import { InProcessBus } from '../in-process-bus';
import { MessageHandler } from '../message-bus';
import { BusServer } from './bus.server';

describe('BusServer (Nest transport)', () => {
  it("hands the bus each handler with the topics of its @EventPattern extras, and none when it declared none", async () => {
    const bus = new InProcessBus();
    const consumed = new Map<string, MessageHandler>();
    const consume = bus.consume.bind(bus);
    bus.consume = async (service, handlers) => {
      for (const [pattern, handler] of handlers) consumed.set(`${service} ${pattern}`, handler);
      return consume(service, handlers);
    };
    const seen: string[] = [];
    const server = new BusServer(bus, 'optimizer');
    server.addHandler(RunStatusChanged.PATTERN, async (p: { status: string }) => void seen.push(p.status), true, { topics: RunStatusChanged.finalChildrenOf('group') });
    server.addHandler(TokenVerify.PATTERN, async () => ({ access: 'none' }), false);
    await new Promise<void>((resolve, reject) => server.listen((error?: unknown) => (error ? reject(error) : resolve())));

    expect(consumed.get(`optimizer ${RunStatusChanged.PATTERN}`)?.topics).toEqual(['final.group', 'final.unknown']);
    expect(consumed.get(`optimizer ${TokenVerify.PATTERN}`)?.topics).toBeUndefined();
    const at = new Date().toISOString();
    const base = { runUuid: '6f1c2b8e-1f7a-4c1e-9a51-3b0f4ad1c2d3', reason: 'r', message: '', at };
    await bus.emit(RunStatusChanged.PATTERN, { ...base, status: 'succeeded', parentUuid: null });
    await bus.emit(RunStatusChanged.PATTERN, { ...base, status: 'failed', parentUuid: base.runUuid, parentKind: 'group' });
    await bus.drain();
    expect(seen).toEqual(['failed']);
  });
});
