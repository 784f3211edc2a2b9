import { ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeApiServer, Obj } from './testing/fake-api-server';
import { kubelet } from './testing/kubelet';

/**
 * `myelin up` with MYELIN_EXECUTOR=kubernetes and a kubeconfig pointing at the fake API server
 * (not a cluster): the CLI submits runs, the scheduler creates their pods, the test plays the
 * kubelet, and the statuses and logs come back through the platform (built dist/, as a user runs it).
 */
jest.setTimeout(180_000);

const REPO = join(__dirname, '..', '..', '..', '..', '..');
const BIN = join(REPO, 'bin', 'myelin.js');
const NS = 'myelin-e2e';

function myelin(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...process.env, MYELIN_SKIP_BUILD_CHECK: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 400)); // probes spawn the CLI: a busy loop would slow the platform and meet the API's rate limit
  }
}

describe('myelin up with the Kubernetes executor against the fake API server', () => {
  let server: FakeApiServer;
  let home: string;
  let up: ChildProcess;
  let output = '';
  let env: Record<string, string>;
  let base: string;

  beforeAll(async () => {
    server = new FakeApiServer();
    const url = await server.start();
    home = await mkdtemp(join(tmpdir(), 'myelin-k8s-e2e-'));
    const kubeconfig = join(home, 'kubeconfig');
    await writeFile(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: ${url}\n    insecure-skip-tls-verify: true\nusers:\n- name: e2e\n  user:\n    token: not-checked\ncontexts:\n- name: fake\n  context: {cluster: fake, user: e2e}\ncurrent-context: fake\n`,
    );
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = {
      MYELIN_HOME: home,
      MYELIN_EXECUTOR: 'kubernetes',
      MYELIN_K8S_KUBECONFIG: kubeconfig,
      MYELIN_K8S_NAMESPACE: NS,
      MYELIN_K8S_IMAGE_PULL_GRACE_SECONDS: '1',
      MYELIN_STOP_GRACE_SECONDS: '1',
      MYELIN_HOST: base,
    };
    up = spawn(process.execPath, [BIN, 'up', '--port', String(port)], { cwd: REPO, env: { ...process.env, MYELIN_SKIP_BUILD_CHECK: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-20_000));
    up.stdout?.on('data', keep);
    up.stderr?.on('data', keep);
    await until(
      'myelin up to be ready',
      async () => {
        if (up.exitCode !== null) throw new Error(`myelin up exited:\n${output}`);
        const res = await fetch(`${base}/readyz`).catch(() => undefined);
        return res?.ok ? true : undefined;
      },
      120_000,
    );
  }, 150_000);

  afterAll(async () => {
    if (up && up.exitCode === null) {
      const exited = new Promise((r) => up.once('exit', r));
      up.kill('SIGTERM');
      await exited;
    }
    await server?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  const submit = async (name: string, body: string): Promise<{ uuid: string }> => {
    const file = join(home, name);
    await writeFile(file, body);
    const res = await myelin(['run', '-f', file, '--json'], env);
    if (res.code !== 0) throw new Error(`myelin run failed: ${res.stderr}`);
    return JSON.parse(res.stdout) as { uuid: string };
  };
  const podOf = (uuid: string) =>
    until(`the pod of ${uuid}`, () => server.list(`core/${NS}/pods`).find((p: Obj) => p.metadata.labels?.['myelin.dev/run-uuid'] === uuid)?.metadata.name);
  const get = async (uuid: string) => JSON.parse((await myelin(['get', uuid, '--json'], env)).stdout) as { status: string; statusMessage: string; exitCode: number | null; statuses: Array<{ status: string }> };

  it("reports the watch in the scheduler's readiness", async () => {
    type Ready = { apps: Record<string, { checks: Record<string, { ok: boolean; detail?: string }> }> };
    const check = await until('the watch to be connected', async () => {
      const c = ((await (await fetch(`${base}/readyz`)).json()) as Ready).apps['scheduler']?.checks['kubernetes-watch'];
      return c?.detail?.includes('watching since resourceVersion') ? c : undefined;
    });
    expect(check.ok).toBe(true);
  });

  it('a run becomes a pod; its status and log (with metrics) come back through the platform; its objects are deleted', async () => {
    const { uuid } = await submit('ok.yml', 'version: 1\nkind: experiment\nbuild:\n  image: busybox:1.36\nrun:\n  cmd: echo hello from the pod\n');
    const pod = await podOf(uuid);
    const created = server.get(`core/${NS}/pods`, pod) as Obj & { spec: { containers: Array<{ image: string; command: string[]; env: Array<{ name: string; value?: string }> }> } };
    expect(created.spec.containers[0]?.image).toBe('busybox:1.36');
    expect(created.spec.containers[0]?.command).toEqual(['/bin/sh', '-c', 'echo hello from the pod']);
    expect(created.spec.containers[0]?.env.find((e) => e.name === 'MYELIN_RUN_UUID')?.value).toBe(uuid);
    // The API issued a run token; it sits in the Secret, not in the pod.
    const secret = server.list(`core/${NS}/secrets`).find((s) => s.metadata.labels?.['myelin.dev/run-uuid'] === uuid) as Obj & { data: Record<string, string> };
    expect(secret.data['token']?.length).toBeGreaterThan(10);
    expect(JSON.stringify(created)).not.toContain(Buffer.from(secret.data['token'] as string, 'base64').toString());

    server.setPodStatus(NS, pod, kubelet.containerCreating());
    server.setPodStatus(NS, pod, kubelet.running());
    server.appendLog(NS, pod, 'hello from the pod');
    server.appendLog(NS, pod, 'myelin:metric step=1 loss=0.25');
    server.setPodStatus(NS, pod, kubelet.terminated(0));
    const final = await until('succeeded', async () => {
      const run = await get(uuid);
      return run.status === 'succeeded' ? run : undefined;
    });
    expect(final.exitCode).toBe(0);
    expect(final.statuses.map((s) => s.status)).toEqual(['created', 'queued', 'starting', 'running', 'succeeded']);
    const logs = await myelin(['logs', uuid], env);
    expect(logs.stdout).toContain('hello from the pod');
    const metrics = JSON.parse((await myelin(['metrics', uuid, '--json'], env)).stdout) as Record<string, Array<{ value: number }>>;
    expect(metrics['loss']?.[0]?.value).toBe(0.25);
    await until('objects deleted', () => (server.list(`core/${NS}/pods`).some((p) => p.metadata.name === pod) || server.list(`core/${NS}/secrets`).some((s) => s.metadata.labels?.['myelin.dev/run-uuid'] === uuid) ? undefined : true));
  });

  it('an OOMKilled pod fails the run with exit code 137', async () => {
    const { uuid } = await submit('oom.yml', 'version: 1\nkind: experiment\nbuild:\n  image: busybox:1.36\nenvironment:\n  resources:\n    memory: {limits: 16}\nrun:\n  cmd: tail /dev/zero\n');
    const pod = await podOf(uuid);
    expect((server.get(`core/${NS}/pods`, pod) as Obj & { spec: { containers: Array<{ resources: unknown }> } }).spec.containers[0]?.resources).toEqual({ limits: { memory: '16Mi' } });
    server.setPodStatus(NS, pod, kubelet.running());
    server.setPodStatus(NS, pod, kubelet.terminated(137, 'OOMKilled'));
    const final = await until('failed', async () => {
      const run = await get(uuid);
      return run.status === 'failed' ? run : undefined;
    });
    expect(final.exitCode).toBe(137);
  });

  it('myelin stop deletes the pod and the run ends stopped', async () => {
    const { uuid } = await submit('sleep.yml', 'version: 1\nkind: experiment\nbuild:\n  image: busybox:1.36\nrun:\n  cmd: sleep 600\n');
    const pod = await podOf(uuid);
    server.setPodStatus(NS, pod, kubelet.running());
    server.appendLog(NS, pod, 'sleeping');
    await until('running', async () => ((await get(uuid)).status === 'running' ? true : undefined));
    const stop = await myelin(['stop', uuid], env);
    if (stop.code !== 0) throw new Error(`myelin stop: ${stop.stdout}${stop.stderr}\n${JSON.stringify(await get(uuid))}\n${output.slice(-3000)}`);
    await until('stopped', async () => ((await get(uuid)).status === 'stopped' ? true : undefined));
    expect(server.get(`core/${NS}/pods`, pod)).toBeUndefined();
    expect((await myelin(['logs', uuid], env)).stdout).toContain('sleeping');
  });
});
