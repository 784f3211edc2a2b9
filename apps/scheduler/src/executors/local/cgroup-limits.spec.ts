import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parsePolyaxonfiles } from '@myelin/spec';
import { createTempDir, TempDir } from '@myelin/testing';
import { CgroupLimiter, describeLimits, detectCgroups, parseCgroupMounts, runLimits } from './cgroup-limits';

/** A hybrid host's mountinfo (cgroup v1 controllers, an empty unified hierarchy), as Debian 10 and many VMs have it. */
const HYBRID = [
  '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
  '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  '41 22 0:40 / /mnt/with\\040space rw - ext4 /dev/vdb rw',
].join('\n');

const specWith = (resources: string) =>
  parsePolyaxonfiles([{ path: 'polyaxonfile.yml', content: `version: 1\nkind: experiment\nenvironment:\n  resources:\n${resources}\nrun:\n  cmd: python train.py\n` }]);

describe('cgroup limits of local runs', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await createTempDir('myelin-cgroup-fake');
  });
  afterAll(() => dir.remove());

  it('reads the limits (not the requests) of a polyaxonfile: cores and MB', () => {
    expect(runLimits(specWith('    cpu: {requests: 1, limits: 1.5}\n    memory: {requests: 256, limits: 512}\n    gpu: {limits: 1}'))).toEqual({ cpu: 1.5, memoryMb: 512 });
    expect(runLimits(specWith('    cpu: {requests: 2}\n    memory: {limits: 100}'))).toEqual({ cpu: null, memoryMb: 100 });
    expect(runLimits(parsePolyaxonfiles([{ path: 'p.yml', content: 'version: 1\nkind: experiment\nrun:\n  cmd: echo hi\n' }]))).toEqual({ cpu: null, memoryMb: null });
    expect(runLimits(null)).toEqual({ cpu: null, memoryMb: null });
    expect(describeLimits({ cpu: 1.5, memoryMb: 512 })).toBe('cpu limited to 1.5 cores, memory to 512 MB');
    expect(describeLimits({ cpu: 1, memoryMb: null })).toBe('cpu limited to 1 core');
    expect(describeLimits({ cpu: null, memoryMb: 64 })).toBe('memory limited to 64 MB');
  });

  it('finds the cgroup hierarchies in mountinfo', () => {
    expect(parseCgroupMounts(HYBRID)).toEqual([
      { dir: '/sys/fs/cgroup/cpu,cpuacct', type: 'cgroup', options: ['rw', 'cpu', 'cpuacct'] },
      { dir: '/sys/fs/cgroup/memory', type: 'cgroup', options: ['rw', 'memory'] },
      { dir: '/sys/fs/cgroup/systemd', type: 'cgroup', options: ['rw', 'name=systemd'] },
      { dir: '/sys/fs/cgroup/unified', type: 'cgroup2', options: ['rw'] },
    ]);
  });

  it('writes a run\'s limits on the unified hierarchy (v2), reads its OOM kills, and names the file the job joins it through', async () => {
    const parent = join(dir.path, 'v2');
    await mkdir(parent);
    const limiter = new CgroupLimiter({ version: 2, parent });
    const procs = await limiter.create('r1', 0, { cpu: 1.5, memoryMb: 512 });
    const run = join(parent, 'run-r1-0');
    expect(procs).toEqual([join(run, 'cgroup.procs')]);
    expect(await readFile(join(run, 'memory.max'), 'utf8')).toBe(String(512 * 1024 * 1024));
    expect(await readFile(join(run, 'memory.swap.max'), 'utf8')).toBe('0');
    expect(await readFile(join(run, 'cpu.max'), 'utf8')).toBe('150000 100000');
    expect(await limiter.oomKills('r1', 0)).toBe(0); // no memory.events yet
    await writeFile(join(run, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
    expect(await limiter.oomKills('r1', 0)).toBe(1);
    // A retry reuses the cgroup with the limits of its attempt.
    await limiter.create('r1', 0, { cpu: null, memoryMb: 64 });
    expect(await readFile(join(run, 'cpu.max'), 'utf8')).toBe('max 100000');
    expect(await readFile(join(run, 'memory.max'), 'utf8')).toBe(String(64 * 1024 * 1024));
  });

  it('writes a run\'s limits on the v1 memory and cpu hierarchies', async () => {
    const memory = join(dir.path, 'v1', 'memory');
    const cpu = join(dir.path, 'v1', 'cpu');
    const limiter = new CgroupLimiter({ version: 1, memory, cpu });
    const procs = await limiter.create('r2', 0, { cpu: 0.25, memoryMb: 64 });
    expect(procs).toEqual([join(memory, 'run-r2-0', 'cgroup.procs'), join(cpu, 'run-r2-0', 'cgroup.procs')]);
    expect(await readFile(join(memory, 'run-r2-0', 'memory.limit_in_bytes'), 'utf8')).toBe(String(64 * 1024 * 1024));
    expect(await readFile(join(memory, 'run-r2-0', 'memory.memsw.limit_in_bytes'), 'utf8')).toBe(String(64 * 1024 * 1024));
    expect(await readFile(join(cpu, 'run-r2-0', 'cpu.cfs_quota_us'), 'utf8')).toBe('25000');
    expect(await readFile(join(cpu, 'run-r2-0', 'cpu.cfs_period_us'), 'utf8')).toBe('100000');
    await writeFile(join(memory, 'run-r2-0', 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    expect(await limiter.oomKills('r2', 0)).toBe(2);
  });

  it('says why limits cannot be enforced: switched off, no such hierarchy, a directory without the controllers', async () => {
    expect(await detectCgroups('off')).toEqual({ unavailable: 'MYELIN_CGROUP_PARENT=off' });
    expect(await detectCgroups('auto', join(dir.path, 'absent-mountinfo'))).toEqual({ unavailable: 'no /proc/self/mountinfo (not Linux)' });
    const noCgroups = join(dir.path, 'mountinfo-none');
    await writeFile(noCgroups, '41 22 0:40 / / rw - ext4 /dev/vda rw\n');
    expect(await detectCgroups('auto', noCgroups)).toEqual({ unavailable: 'no cgroup hierarchy with the memory and cpu controllers' });
    const delegated = join(dir.path, 'delegated-io');
    await mkdir(delegated);
    await writeFile(join(delegated, 'cgroup.controllers'), 'io pids\n');
    expect(await detectCgroups(delegated)).toEqual({ unavailable: `${delegated} has no memory and cpu controllers` });
  });

  it('auto on a v1 host makes the runs\' parent under the scheduler\'s own cgroup of each hierarchy, after moving a process in to check', async () => {
    const root = join(dir.path, 'v1host');
    await mkdir(join(root, 'memory', 'service', 'abc'), { recursive: true });
    await mkdir(join(root, 'cpu,cpuacct'), { recursive: true });
    const mountinfo = join(dir.path, 'mountinfo-v1');
    await writeFile(
      mountinfo,
      [`31 30 0:28 / ${root}/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct`, `34 30 0:31 / ${root}/memory rw - cgroup cgroup rw,memory`, `40 30 0:37 / ${root}/unified rw - cgroup2 cgroup2 rw`].join('\n'),
    );
    const own = join(dir.path, 'own-cgroup');
    await writeFile(own, '4:memory:/service/abc\n2:cpu,cpuacct:/\n0::/\n');
    expect(await detectCgroups('auto', mountinfo, own)).toEqual({
      layout: { version: 1, memory: join(root, 'memory', 'service', 'abc', 'myelin'), cpu: join(root, 'cpu,cpuacct', 'myelin') },
    });
  });

  it('takes a delegated cgroup2 directory: enables the controllers for its children and checks it may make them', async () => {
    const delegated = join(dir.path, 'delegated');
    await mkdir(delegated);
    await writeFile(join(delegated, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    expect(await detectCgroups(delegated)).toEqual({ layout: { version: 2, parent: delegated } });
    expect(await readFile(join(delegated, 'cgroup.subtree_control'), 'utf8')).toBe('+memory +cpu');
  });
});
