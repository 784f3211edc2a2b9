import { MyelinClient } from './client';
import { RunTracker } from './tracker';

const RUN = '7c0c6f0e-3f7a-4d5e-9a43-8f1b2a3c4d5e';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(done: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(5);
  }
}

/** A fetch that records calls and answers with `status(path)`. */
function fakeFetch(status: (path: string) => number) {
  const calls: Array<{ method: string; path: string }> = [];
  const impl = (async (url: string, init?: RequestInit) => {
    const path = new URL(url).pathname;
    calls.push({ method: init?.method ?? 'GET', path });
    const code = status(path);
    return new Response(code === 200 ? '{}' : JSON.stringify({ code: 'x', message: `status ${code}` }), { status: code });
  }) as unknown as typeof fetch;
  return { calls, impl, beats: () => calls.filter((c) => c.method === 'POST' && c.path === `/api/v1/tracking/runs/${RUN}/heartbeat`).length };
}

describe('RunTracker heartbeats', () => {
  it('beats at once, then every interval, until closed', async () => {
    const slow = fakeFetch(() => 200);
    const first = new RunTracker({ client: new MyelinClient({ host: 'http://tracking.test', fetch: slow.impl }), runUuid: RUN, heartbeatIntervalMs: 60_000 });
    await until(() => slow.beats() === 1);
    await first.close(100);
    const server = fakeFetch(() => 200);
    const tracker = new RunTracker({ client: new MyelinClient({ host: 'http://tracking.test', token: 't', fetch: server.impl }), runUuid: RUN, heartbeatIntervalMs: 50 });
    await until(() => server.beats() >= 3);
    await tracker.close(1000);
    const count = server.beats();
    await sleep(150);
    expect(server.beats()).toBe(count);
    expect(slow.beats()).toBe(1);
  });

  it('keeps beating while the server is unreachable; stops for good when it refuses', async () => {
    let answer = 503;
    const server = fakeFetch(() => answer);
    const warnings: string[] = [];
    const tracker = new RunTracker({
      client: new MyelinClient({ host: 'http://tracking.test', fetch: server.impl }),
      runUuid: RUN,
      heartbeatIntervalMs: 30,
      onWarning: (m) => warnings.push(m),
    });
    await until(() => server.beats() >= 3);
    answer = 403;
    await sleep(100);
    const count = server.beats();
    await sleep(100);
    expect(server.beats()).toBe(count);
    expect(warnings).toEqual([expect.stringMatching(/^heartbeats refused/)]);
    await tracker.close(100);
  });

  it('sends none when turned off', async () => {
    const server = fakeFetch(() => 200);
    const tracker = new RunTracker({ client: new MyelinClient({ host: 'http://tracking.test', fetch: server.impl }), runUuid: RUN, heartbeatIntervalMs: 0 });
    await sleep(50);
    await tracker.close(100);
    expect(server.beats()).toBe(0);
  });
});
