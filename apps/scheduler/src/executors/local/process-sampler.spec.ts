import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTempDir, TempDir, waitFor } from '@myelin/testing';
import {
  CPU_METRIC,
  MEMORY_METRIC,
  parseStat,
  ProcessSampler,
  procConstants,
  readProcessGroups,
  samplePoints,
} from './process-sampler';
import { processStartTime } from './local-process.executor';

jest.setTimeout(20_000);

/** A process group like a run's: `sh` leading, detached, with the given command. */
function group(cmd: string): ChildProcess {
  const child = spawn('sh', ['-c', cmd], { detached: true, stdio: 'ignore' });
  child.unref();
  return child;
}

function killGroup(child: ChildProcess | undefined): void {
  try {
    if (child?.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

describe('process sampler', () => {
  const children: ChildProcess[] = [];
  afterAll(() => children.forEach(killGroup));

  it('reads the clock ticks and page size of this host', () => {
    const c = procConstants();
    expect(c.clockTicks).toBeGreaterThan(0);
    expect(c.pageSize).toBeGreaterThanOrEqual(4096);
  });

  it('samples a real process group: every member, resident memory above zero', async () => {
    const child = group('sleep 5 & sleep 5 & wait');
    children.push(child);
    const pid = child.pid!;
    // sh and its two sleeps.
    const usage = await waitFor(
      async () => {
        const u = (await readProcessGroups(new Set([pid]))).get(pid);
        return u && u.processes === 3 ? u : null;
      },
      { what: 'three processes in the group' },
    );
    expect(usage.rssBytes).toBeGreaterThan(0);
    expect(usage.leaderStartTime).toBe(processStartTime(pid));

    const sampler = new ProcessSampler();
    const [sample] = await sampler.sample([
      { runUuid: 'r1', pid, pidStartTime: processStartTime(pid) },
    ]);
    expect(sample).toMatchObject({ runUuid: 'r1', processes: 3, cpuPercent: null });
    expect(sample.memoryMb).toBeGreaterThan(0);
    expect(samplePoints(sample, 7).map((p) => [p.name, p.step])).toEqual([[MEMORY_METRIC, 7]]);

    // The group ends: nothing more to sample.
    killGroup(child);
    await waitFor(async () => !(await readProcessGroups(new Set([pid]))).get(pid)?.processes, {
      what: 'the group to end',
    });
    expect(await sampler.sample([{ runUuid: 'r1', pid, pidStartTime: null }])).toEqual([]);
  });

  it('reports the CPU a real busy process group used between two samples', async () => {
    const child = group('while :; do :; done');
    children.push(child);
    const run = { runUuid: 'busy', pid: child.pid!, pidStartTime: null };
    const sampler = new ProcessSampler();
    await waitFor(async () => (await sampler.sample([run])).length === 1, { what: 'the busy group' });
    await new Promise((r) => setTimeout(r, 1000));
    const [sample] = await sampler.sample([run]);
    killGroup(child);
    // How much of a core the loop got depends on the host's load (a CI host may give it little);
    // the exact conversion is checked on a fake /proc below.
    expect(sample.cpuPercent).toBeGreaterThan(0);
    expect(samplePoints(sample, 1).map((p) => p.name)).toEqual([CPU_METRIC, MEMORY_METRIC]);
  });

  it('skips a run whose pid now leads another process (a reused pid)', async () => {
    const child = group('sleep 5');
    children.push(child);
    const pid = child.pid!;
    await waitFor(async () => (await readProcessGroups(new Set([pid]))).get(pid)?.processes, {
      what: 'the group',
    });
    expect(await new ProcessSampler().sample([{ runUuid: 'old', pid, pidStartTime: '1' }])).toEqual([]);
    killGroup(child);
  });

  describe('without a usable /proc', () => {
    let dir: TempDir;
    beforeAll(async () => {
      dir = await createTempDir('myelin-fake-proc');
    });
    afterAll(async () => dir.remove());

    it('turns CPU ticks between two samples into a percentage of a core, over the time between them', async () => {
      const proc = join(dir.path, 'ticks');
      await mkdir(join(proc, '300'), { recursive: true });
      // pid 300 leading group 300: state R, then utime, stime, cutime, cstime as given, rss 5 pages.
      const stat = (utime: number, stime: number, cutime: number) =>
        `300 (train) R 1 300 ${Array(8).fill('0').join(' ')} ${utime} ${stime} ${cutime} 0 20 0 1 0 777 0 5`;
      const run = { runUuid: 'r', pid: 300, pidStartTime: '777' };
      const sampler = new ProcessSampler(proc);
      const { clockTicks } = procConstants();
      await writeFile(join(proc, '300', 'stat'), stat(100, 20, 0));
      const [first] = await sampler.sample([run], () => new Date(10_000));
      expect(first.cpuPercent).toBeNull(); // nothing to compare with yet
      // 2 s later: 3 seconds' worth of ticks (user, system, and a reaped child's) = 150 % of a core.
      await writeFile(
        join(proc, '300', 'stat'),
        stat(100 + 2 * clockTicks, 20 + 0.5 * clockTicks, 0.5 * clockTicks),
      );
      const [second] = await sampler.sample([run], () => new Date(12_000));
      expect(second.cpuPercent).toBe(150);
      // Ticks lost (a child reaped outside the group): never below zero.
      await writeFile(join(proc, '300', 'stat'), stat(100, 20, 0));
      const [third] = await sampler.sample([run], () => new Date(13_000));
      expect(third.cpuPercent).toBe(0);
      expect(third.memoryMb).toBeCloseTo((5 * procConstants().pageSize) / (1024 * 1024), 2);
    });

    it('stamps a sample when the run\'s processes are read, not when a slow scan of /proc ends', async () => {
      // A job at 150% of a core: a writer keeps its stat file at the ticks it has used so far.
      const proc = join(dir.path, 'slow');
      await mkdir(join(proc, '300'), { recursive: true });
      const { clockTicks } = procConstants();
      const t0 = Date.now();
      // Replaced whole (written aside, then renamed), as the kernel's file is: never read half-written.
      const write = () => {
        writeFileSync(
          join(proc, '300', 'stat.next'),
          `300 (train) R 1 300 ${Array(8).fill('0').join(' ')} ${Math.floor(((Date.now() - t0) / 1000) * 1.5 * clockTicks)} 0 0 0 20 0 1 0 777 0 5`,
        );
        renameSync(join(proc, '300', 'stat.next'), join(proc, '300', 'stat'));
      };
      write();
      const writer = setInterval(write, 2);
      try {
        // The first scan of /proc is slow: another process's stat file answers only 400 ms after
        // it is opened (a named pipe the test writes to), while the run's own file is read at once.
        const slow = join(proc, '1000');
        await mkdir(slow);
        execFileSync('mkfifo', [join(slow, 'stat')]);
        const run = { runUuid: 'r', pid: 300, pidStartTime: '777' };
        const sampler = new ProcessSampler(proc);
        const first = sampler.sample([run]);
        await new Promise((r) => setTimeout(r, 400));
        await writeFile(join(slow, 'stat'), '1000 (other) S 1 1000');
        await first;
        await rm(slow, { recursive: true });
        await new Promise((r) => setTimeout(r, 600));
        const [second] = await sampler.sample([run]);
        // Stamped when the first scan ended, the window was 400 ms short: about 250% instead of 150%.
        expect(Math.abs(second.cpuPercent! - 150)).toBeLessThan(10);
      } finally {
        clearInterval(writer);
      }
    });

    it('never throws: a missing /proc gives nothing, unreadable or malformed entries are skipped', async () => {
      expect((await readProcessGroups(new Set([1]), join(dir.path, 'absent'))).size).toBe(0);
      await mkdir(join(dir.path, '100'));
      await writeFile(join(dir.path, '100', 'stat'), 'garbage');
      await mkdir(join(dir.path, '101')); // no stat file
      await mkdir(join(dir.path, '102'));
      // pid 102, name with a space and a parenthesis, state S, pgid 100, utime 30, stime 20, cutime 5, cstime 5, rss 10 pages.
      const fields = [
        'S',
        '1',
        '100',
        '0',
        '0',
        '0',
        '0',
        '0',
        '0',
        '0',
        '0',
        '30',
        '20',
        '5',
        '5',
        '20',
        '0',
        '1',
        '0',
        '4242',
        '0',
        '10',
      ];
      await writeFile(join(dir.path, '102', 'stat'), `102 (a b) c) ${fields.join(' ')}`);
      const groups = await readProcessGroups(new Set([100]), dir.path, () => 5_000);
      expect(groups.get(100)).toEqual({
        processes: 1,
        cpuTicks: 60,
        rssBytes: 10 * procConstants().pageSize,
        leaderStartTime: null,
        at: 5_000,
      });
      expect(parseStat('')).toBeNull();
      expect(parseStat('1 (x) S 1 2')).toBeNull();
    });
  });
});
