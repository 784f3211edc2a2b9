import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@myelin/testing';
import { ProcessSpawner } from './process-spawner';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('ProcessSpawner: job processes started from a small helper process', () => {
  let dir: string;
  let spawner: ProcessSpawner;
  const request = (script: string) => ({
    file: '/bin/sh',
    args: ['-c', script],
    cwd: dir,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', GREETING: 'hello' },
    stdout: join(dir, 'out.log'),
    stderr: join(dir, 'err.log'),
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'myelin-spawner-'));
    spawner = new ProcessSpawner();
  });
  afterEach(async () => {
    spawner.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts the process with its env and cwd, appends its output to the files, and reports its exit', async () => {
    let exited = 0;
    const pid = await spawner.spawn(request('echo "$GREETING from $(pwd)"; echo oops >&2'), () => exited++);
    expect(pid).toBeGreaterThan(0);
    await waitFor(() => exited === 1, { timeoutMs: 5000 });
    expect(await readFile(join(dir, 'out.log'), 'utf8')).toBe(`hello from ${dir}\n`);
    expect(await readFile(join(dir, 'err.log'), 'utf8')).toBe('oops\n');
    // A second attempt appends (the log shipper resumes from its offsets).
    await spawner.spawn(request('echo again'), () => exited++);
    await waitFor(() => exited === 2, { timeoutMs: 5000 });
    expect(await readFile(join(dir, 'out.log'), 'utf8')).toBe(`hello from ${dir}\nagain\n`);
  });

  it('starts the process in a process group of its own (a stop signal reaches the whole tree)', async () => {
    const pid = await spawner.spawn(request('sleep 30 & sleep 30; wait'), () => undefined);
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    expect(pgid).toBe(pid);
    process.kill(-pid, 'SIGKILL');
    await waitFor(() => !alive(pid), { timeoutMs: 5000 });
  });

  it('fails the request with the reason when the process cannot start', async () => {
    await expect(spawner.spawn({ ...request('true'), cwd: join(dir, 'missing') }, () => undefined)).rejects.toThrow(/ENOENT/);
    await expect(spawner.spawn({ ...request('true'), stdout: join(dir, 'missing', 'out.log') }, () => undefined)).rejects.toThrow(/ENOENT/);
    // The helper is still usable after a failed request.
    expect(await spawner.spawn(request('true'), () => undefined)).toBeGreaterThan(0);
  });

  it('a job outlives the helper, and a new helper starts on the next request', async () => {
    const pid = await spawner.spawn(request('sleep 30'), () => undefined);
    spawner.close(); // as when the platform goes away: the helper quits on disconnect
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(pid)).toBe(true);
    const next = await spawner.spawn(request('true'), () => undefined);
    expect(next).toBeGreaterThan(0);
    process.kill(-pid, 'SIGKILL');
  });

  it('starts many processes at once, each reported once', async () => {
    const exits = new Map<number, number>();
    const pids = await Promise.all(
      Array.from({ length: 50 }, (_, i) => spawner.spawn(request(`echo ${i}`), () => exits.set(i, (exits.get(i) ?? 0) + 1))),
    );
    expect(new Set(pids).size).toBe(50);
    await waitFor(() => exits.size === 50, { timeoutMs: 10_000 });
    expect([...exits.values()].every((n) => n === 1)).toBe(true);
    const lines = (await readFile(join(dir, 'out.log'), 'utf8')).trim().split('\n').map(Number).sort((a, b) => a - b);
    expect(lines).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
