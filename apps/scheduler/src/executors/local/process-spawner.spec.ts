import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@myelin/testing';
import { DEFAULT_STANDBY_PROCESSES, ProcessSpawner } from './process-spawner';

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

  it("makes the request's directories and files before the process starts, and fails the request when it cannot", async () => {
    const run = join(dir, 'run');
    const prepare = { dirs: [join(run, 'outputs'), join(run, 'code'), join(run, 'logs')], files: [[join(run, 'cmd.sh'), 'echo from the script\n']] as Array<[string, string]> };
    let exited = 0;
    await spawner.spawn(
      { ...request(`. ${join(run, 'cmd.sh')}; pwd; ls ${run} | tr '\n' ' '`), cwd: join(run, 'code'), stdout: join(run, 'logs', 'out.log'), prepare },
      () => exited++,
    );
    await waitFor(() => exited === 1, { timeoutMs: 5000 });
    expect(await readFile(join(run, 'logs', 'out.log'), 'utf8')).toBe(`from the script\n${join(run, 'code')}\ncmd.sh code logs outputs `);
    // A directory that cannot be made (a file is in the way): the request fails with the reason, nothing starts.
    await expect(
      spawner.spawn({ ...request('echo started >> never.log'), prepare: { dirs: [join(run, 'cmd.sh', 'sub')], files: [] } }, () => undefined),
    ).rejects.toThrow(/ENOTDIR/);
    await expect(readFile(join(dir, 'never.log'), 'utf8')).rejects.toThrow(/ENOENT/);
  });

  describe('standby processes (bash started ahead, waiting for a job)', () => {
    let standby: ProcessSpawner;
    beforeEach(() => {
      standby = new ProcessSpawner({ standby: DEFAULT_STANDBY_PROCESSES });
      standby.start();
    });
    afterEach(() => standby.close());

    const cmdline = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    /** The standbys once they are all started: a job whose pid is among them ran in one (a quick job may be gone before its cmdline is read). */
    const readyStandbys = async (): Promise<number[]> => {
      await waitFor(() => standbys().length === DEFAULT_STANDBY_PROCESSES, { timeoutMs: 5000, what: 'the standbys to be started' });
      return standbys();
    };
    /** Standby processes of this test's helper (an earlier test's may still be exiting). */
    const standbys = (): number[] =>
      readdirSync('/proc')
        .filter((name) => /^\d+$/.test(name))
        .flatMap((name) => {
          try {
            const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
            const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
            return ppid === standby.helperPid && cmdline(Number(name)).includes('myelin-standby') ? [Number(name)] : [];
          } catch {
            return []; // gone meanwhile
          }
        });
    /** The local executor's shape: `bash -c script $0 args...`; the job prints what it was given. */
    const bashJob = (env: Record<string, string>, outFile = 'job.log') => ({
      file: '/bin/bash',
      args: ['--norc', '-c', 'printf "[%s]" "$0" "$#" "$@"; echo; pwd; env | LC_ALL=C sort | grep -v "^_="', join(dir, 'script.sh'), 'first arg', 'second\nline'],
      cwd: join(dir, 'work'),
      env,
      stdout: join(dir, outFile),
      stderr: join(dir, `${outFile}.err`),
    });
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', GREETING: 'hello world', MULTI: 'two\nlines', EQUALS: 'a=b', EMPTY: '' };

    it('gives the job what a new process gets: $0, arguments, directory, env and output files', async () => {
      await mkdir(join(dir, 'work'));
      let exited = 0;
      const ready = await readyStandbys(); // started ahead
      const fresh = await spawner.spawn(bashJob(env, 'fresh.log'), () => exited++);
      expect(ready).not.toContain(fresh);
      const ahead = await standby.spawn(bashJob(env, 'standby.log'), () => exited++);
      expect(ready).toContain(ahead);
      await waitFor(() => exited === 2, { timeoutMs: 5000 });
      const output = await readFile(join(dir, 'standby.log'), 'utf8');
      expect(output).toBe(await readFile(join(dir, 'fresh.log'), 'utf8'));
      expect(output).toContain(`[${join(dir, 'script.sh')}][2][first arg][second\nline]\n${join(dir, 'work')}\n`);
      expect(output).toContain('MULTI=two\n'); // (its second line is sorted elsewhere)
      expect(output).not.toContain('__myelin');
      expect(await readFile(join(dir, 'standby.log.err'), 'utf8')).toBe('');
      // The standby used is replaced.
      await waitFor(() => standbys().filter((pid) => pid !== ahead).length === DEFAULT_STANDBY_PROCESSES, { timeoutMs: 5000 });
    });

    it('starts a new process for a job a standby cannot take: an env name that is not a shell name, another program, bash without --norc', async () => {
      await mkdir(join(dir, 'work'));
      const ready = await readyStandbys();
      let exited = 0;
      const dotted = await standby.spawn(bashJob({ ...env, 'my.setting': 'kept' }), () => exited++);
      const sh = await standby.spawn({ ...request('true'), file: '/bin/sh' }, () => exited++);
      // Without --norc, bash may run a bashrc (its rshd rule), which a standby never does.
      const withRc = await standby.spawn({ ...bashJob(env, 'rc.log'), args: ['-c', 'true', 'job'] }, () => exited++);
      expect(ready.filter((pid) => [dotted, sh, withRc].includes(pid))).toEqual([]);
      expect(standbys().sort()).toEqual([...ready].sort()); // all still waiting
      await waitFor(() => exited === 3, { timeoutMs: 5000 });
      expect(await readFile(join(dir, 'job.log'), 'utf8')).toContain('my.setting=kept\n');
    });

    it('reports a job that cannot start as before, and keeps its standbys for the next', async () => {
      await expect(standby.spawn(bashJob(env), () => undefined)).rejects.toThrow(/ENOENT/); // no work/ directory
      await mkdir(join(dir, 'work'));
      await expect(standby.spawn({ ...bashJob(env), stdout: join(dir, 'missing', 'out.log') }, () => undefined)).rejects.toThrow(/ENOENT/);
      const ready = await readyStandbys();
      expect(ready).toContain(await standby.spawn(bashJob(env), () => undefined));
    });

    it("hands a job to a standby in the directory its request made", async () => {
      const ready = await readyStandbys();
      let exited = 0;
      const pid = await standby.spawn({ ...bashJob(env, 'made.log'), prepare: { dirs: [join(dir, 'work', 'deeper')], files: [[join(dir, 'script.sh'), 'unused']] } }, () => exited++);
      expect(ready).toContain(pid); // the standby's check of the job's directory saw it made
      await waitFor(() => exited === 1, { timeoutMs: 5000 });
      expect(await readFile(join(dir, 'made.log'), 'utf8')).toContain(`\n${join(dir, 'work')}\n`);
      expect(await readFile(join(dir, 'script.sh'), 'utf8')).toBe('unused');
    });

    it('starts a burst of jobs, more than the standbys, each reported once with its own exit', async () => {
      const exits = new Map<number, number>();
      const job = (i: number) => ({ ...request(`echo ${i}`), file: '/bin/bash', args: ['--norc', '-c', `echo ${i}; exit $((${i} % 3))`, 'job'] });
      const pids = await Promise.all(Array.from({ length: 30 }, (_, i) => standby.spawn(job(i), () => exits.set(i, (exits.get(i) ?? 0) + 1))));
      expect(new Set(pids).size).toBe(30);
      await waitFor(() => exits.size === 30, { timeoutMs: 10_000 });
      expect([...exits.values()].every((n) => n === 1)).toBe(true);
      const lines = (await readFile(join(dir, 'out.log'), 'utf8')).trim().split('\n').map(Number).sort((a, b) => a - b);
      expect(lines).toEqual(Array.from({ length: 30 }, (_, i) => i));
    });

    it("does not leave the job's env (its run token) on disk once the job has started", async () => {
      await mkdir(join(dir, 'work'));
      const token = `token-${Math.random().toString(36).slice(2)}`;
      const ready = await readyStandbys();
      const pid = await standby.spawn({ ...bashJob({ ...env, MYELIN_RUN_TOKEN: token }), args: ['--norc', '-c', 'echo started; sleep 30', 'job'] }, () => undefined);
      try {
        expect(ready).toContain(pid);
        await waitFor(async () => (await readFile(join(dir, 'job.log'), 'utf8').catch(() => '')) === 'started\n', { timeoutMs: 5000 });
        await new Promise((r) => setTimeout(r, 100));
        const left = readdirSync(tmpdir())
          .filter((name) => name.startsWith('myelin-standby-jobs-'))
          .flatMap((name) => readdirSync(join(tmpdir(), name)).map((file) => readFileSync(join(tmpdir(), name, file), 'utf8')));
        expect(left.filter((content) => content.includes(token))).toEqual([]);
        expect(readFileSync(`/proc/${pid}/environ`, 'utf8')).not.toContain(token); // the standby's own env: empty
      } finally {
        process.kill(-pid, 'SIGKILL');
      }
    });

    it('lets idle standbys exit when the helper goes away, and a job started by one keeps running', async () => {
      await mkdir(join(dir, 'work'));
      const ready = await readyStandbys();
      const job = await standby.spawn({ ...bashJob(env), args: ['--norc', '-c', 'sleep 30', 'job'] }, () => undefined);
      expect(ready).toContain(job);
      await waitFor(() => standbys().filter((pid) => pid !== job).length === DEFAULT_STANDBY_PROCESSES, { timeoutMs: 5000 });
      const idle = standbys().filter((pid) => pid !== job);
      standby.close();
      await waitFor(() => idle.every((pid) => !alive(pid)), { timeoutMs: 5000 });
      expect(alive(job)).toBe(true);
      process.kill(-job, 'SIGKILL');
    });
  });
});

