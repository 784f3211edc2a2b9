import { pbkdf2, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionEntity } from '@myelin/persistence';
import { createTempDir, TempDir } from '@myelin/testing';
import { groupAlive, LocalProcessExecutor } from './local-process.executor';
import { runLocalJobToEnd } from '../../testing/run-local-job';

/** The bash wrapper a local job runs under: exit codes, signals and the files a restarted scheduler reads. */
describe('local executor: job wrapper', () => {
  let home: TempDir;
  let executor: LocalProcessExecutor;

  beforeEach(async () => {
    home = await createTempDir('myelin-wrapper');
    executor = new LocalProcessExecutor({ runsDir: join(home.path, 'runs'), publicUrl: 'http://127.0.0.1:1', baseEnv: {} });
  });

  afterEach(async () => {
    executor.close();
    await home.remove();
  });

  const execution = (cmd: string): ExecutionEntity =>
    ({ runUuid: randomUUID(), project: 'alice/vision', number: 1, kind: 'job', cmd, params: {}, spec: {}, codeDir: null, outputsOf: null, copyOutputsFrom: null, attempt: 0 }) as unknown as ExecutionEntity;

  /** Launch, wait until the executor sees the process gone, and return its state with the job's stdout. */
  const runToEnd = (cmd: string) => runLocalJobToEnd(executor, execution(cmd));

  it('reports the exit code of the command, including an explicit exit in the middle of the script', async () => {
    expect((await runToEnd('true')).state).toEqual({ state: 'exited', exitCode: 0 });
    const { state, stdout } = await runToEnd('echo before\nexit 3\necho after');
    expect(state).toEqual({ state: 'exited', exitCode: 3 });
    expect(stdout).toBe('before\n');
  });

  it('runs the command without positional arguments, with $0 naming its script, and its own pid file', async () => {
    const { state, stdout, row } = await runToEnd('echo "args=[$#] [$1] [$2]"; echo "zero=$(basename "$0")"');
    expect(state).toEqual({ state: 'exited', exitCode: 0 });
    expect(stdout).toBe('args=[0] [] []\nzero=cmd.sh\n');
    expect(Number(await readFile(join(home.path, 'runs', row.runUuid, '.myelin', 'pid'), 'utf8'))).toBe(row.pid);
  });

  it("runs no bashrc before the command, also when the job's env says it came through ssh", async () => {
    // bash runs ~/.bashrc for a non-interactive `bash -c` whose env has SSH_CLIENT (its rshd rule),
    // e.g. the env of a platform started over ssh: the same job must run the same way either way.
    await writeFile(join(home.path, '.bashrc'), 'echo bashrc ran\n');
    const sshEnv = { HOME: home.path, SSH_CLIENT: '10.0.0.1 50000 22', PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
    for (const standbyProcesses of [0, 2]) {
      const viaSsh = new LocalProcessExecutor({ runsDir: join(home.path, 'runs'), publicUrl: 'http://127.0.0.1:1', baseEnv: sshEnv, standbyProcesses });
      try {
        const { state, stdout } = await runLocalJobToEnd(viaSsh, execution('echo command ran'));
        expect({ standbyProcesses, state, stdout }).toEqual({ standbyProcesses, state: { state: 'exited', exitCode: 0 }, stdout: 'command ran\n' });
      } finally {
        viaSsh.close();
      }
    }
  });

  it('reports a job killed by a signal with its signal', async () => {
    const { state } = await runToEnd('kill -KILL $BASHPID');
    expect(state).toEqual({ state: 'exited', exitCode: 137, signal: 'SIGKILL' });
  });

  it('treats an empty exit-code file (the wrapper killed while writing it) as no exit code, not as success', async () => {
    const { row } = await runToEnd('true');
    const exitFile = join(home.path, 'runs', row.runUuid, '.myelin', 'exit_code');
    await writeFile(exitFile, '');
    expect(await executor.inspect(row)).toEqual({ state: 'vanished' });
  });

  describe('inspection of a launched run', () => {
    it('a run whose wrapper exited is running while a process it left in its group lives, and exited once that is gone', async () => {
      const marker = join(home.path, 'survivor-started');
      // The job's child outlives the wrapper (nohup-like, same process group).
      const run = execution(`(trap '' TERM; sleep 0.6) & echo x > ${marker}; exit 3`);
      const row = { ...run, ...(await executor.launch(run)) } as ExecutionEntity;
      for (let i = 0; i < 100 && !(await readFile(marker, 'utf8').catch(() => '')); i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 100)); // the wrapper gone, its child not
      expect(await executor.inspect(row)).toEqual({ state: 'running' });
      let state = await executor.inspect(row);
      for (let i = 0; i < 100 && state.state === 'running'; i++) {
        await new Promise((r) => setTimeout(r, 20));
        state = await executor.inspect(row);
      }
      expect(state).toEqual({ state: 'exited', exitCode: 3 });
    });

    it('a group whose only member is its ended, unreaped leader (a zombie) is over, told without the thread pool', async () => {
      // The leader (its own session and group) ends; its parent has become `sleep`, which never reaps it.
      const pidFile = join(home.path, 'leader-pid');
      const parent = spawn('bash', ['-c', `setsid bash -c 'echo $$ > ${pidFile}; exec true' & exec sleep 5`], { stdio: 'ignore' });
      try {
        let leader = 0;
        for (let i = 0; i < 200 && !leader; i++) {
          leader = Number(await readFile(pidFile, 'utf8').catch(() => '')) || 0;
          if (!leader) await new Promise((r) => setTimeout(r, 10));
        }
        let zombie = false;
        for (let i = 0; i < 200 && !zombie; i++) {
          zombie = / Z /.test(await readFile(`/proc/${leader}/stat`, 'utf8').catch(() => ''));
          if (!zombie) await new Promise((r) => setTimeout(r, 10));
        }
        expect(zombie).toBe(true);
        expect(() => process.kill(-leader, 0)).not.toThrow(); // kill(0) still reaches the group
        // Every thread of the pool busy (a flood of file reads under load): the answer does not wait for them.
        const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
        let poolFree = false;
        const busy = Array.from({ length: poolSize }, () => new Promise((r) => pbkdf2('x', 'y', 400_000, 64, 'sha512', r)));
        void Promise.all(busy).then(() => (poolFree = true));
        expect(groupAlive(leader)).toBe(false);
        expect(poolFree).toBe(false);
        await Promise.all(busy);
        // As a run's wrapper, known only by its pid file (no start time recorded): it is over.
        const run = execution('true');
        const meta = join(home.path, 'runs', run.runUuid, '.myelin');
        await mkdir(meta, { recursive: true });
        await writeFile(join(meta, 'pid'), String(leader));
        await writeFile(join(meta, 'exit_code'), '0');
        expect(await executor.inspect({ ...run, pid: null, pidStartTime: null } as ExecutionEntity)).toEqual({ state: 'exited', exitCode: 0 });
      } finally {
        parent.kill('SIGKILL');
      }
    });

    it('without a recorded pid (a crash before it was stored), the pid file the wrapper wrote is read', async () => {
      const { row } = await runToEnd('exit 4');
      expect(await executor.inspect({ ...row, pid: null, pidStartTime: null } as ExecutionEntity)).toEqual({ state: 'exited', exitCode: 4 });
      // Neither a pid nor a pid file: whether a process ever ran is unknown.
      await writeFile(join(home.path, 'runs', row.runUuid, '.myelin', 'pid'), '');
      await writeFile(join(home.path, 'runs', row.runUuid, '.myelin', 'exit_code'), '');
      expect((await executor.inspect({ ...row, pid: null, pidStartTime: null } as ExecutionEntity)).state).toBe('unknown');
    });
  });
});
