import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionEntity } from '@myelin/persistence';
import type { ExecutorCondition, ProcessState } from '../executor';
import { KubernetesExecutor } from './kubernetes.executor';
import { type KubeConfig, loadKubernetesClient, makeKubeConfig } from './kubernetes-client';
import { baseName } from './kubernetes-objects';
import { FakeApiServer } from './testing/fake-api-server';
import { distributed, executionFor, objectsConfig } from './testing/fixtures';
import { kubelet } from './testing/kubelet';

/**
 * The Kubernetes executor with the real @kubernetes/client-node against the fake API server
 * (testing/fake-api-server.ts), the test playing the kubelet's part. With
 * MYELIN_K8S_TEST_KUBECONFIG=<kubeconfig> the same scenarios run against a real cluster (kind,
 * k3d): the pods then really run their commands and the fake kubelet steps are skipped; the
 * protocol-fault tests (410, dropped connections) and Kubeflow need the fake server and are only
 * defined with it. See deploy/kubernetes/README.md.
 */
const KUBECONFIG = process.env['MYELIN_K8S_TEST_KUBECONFIG'];
const REAL = Boolean(KUBECONFIG);
const NS = process.env['MYELIN_K8S_TEST_NAMESPACE'] ?? 'myelin-test';
const GRACE_MS = REAL ? 20_000 : 400;
const WAIT_MS = REAL ? 120_000 : 5_000;
if (REAL) jest.setTimeout(300_000);

let server: FakeApiServer;
let kc: KubeConfig;
let executor: KubernetesExecutor;
let runsDir: string;
let core: InstanceType<Awaited<ReturnType<typeof loadKubernetesClient>>['CoreV1Api']>;
const conditions: Array<{ runUuid: string; condition: ExecutorCondition }> = [];
const exits: string[] = [];

async function makeExecutor(over: Partial<Parameters<typeof KubernetesExecutor.create>[0]> = {}): Promise<KubernetesExecutor> {
  return KubernetesExecutor.create({
    kubeConfig: kc,
    objects: objectsConfig({ namespace: NS }),
    runsDir,
    imagePullGraceMs: GRACE_MS,
    stopGraceSeconds: REAL ? 5 : 0,
    watch: { initialBackoffMs: 100, maxBackoffMs: 400, unhealthyAfterMs: 300 },
    logDrainMs: REAL ? 5_000 : 300,
    ...over,
  });
}

beforeAll(async () => {
  runsDir = await mkdtemp(join(tmpdir(), 'myelin-k8s-'));
  if (REAL) {
    kc = await makeKubeConfig({ mode: 'kubeconfig', path: KUBECONFIG });
  } else {
    server = new FakeApiServer();
    kc = await makeKubeConfig({ mode: 'url', server: await server.start(), skipTLSVerify: true });
  }
  const k8s = await loadKubernetesClient();
  core = kc.makeApiClient(k8s.CoreV1Api);
  if (REAL) {
    // The test namespace on the real cluster (kept afterwards; every run deletes its own objects).
    await core.createNamespace({ body: { metadata: { name: NS } } }).catch((e: { code?: number }) => {
      if (e.code !== 409) throw e;
    });
  }
  executor = await makeExecutor();
  executor.onCondition((runUuid, condition) => conditions.push({ runUuid, condition }));
  executor.onExit((runUuid) => exits.push(runUuid));
});

afterAll(async () => {
  await executor?.close();
  await server?.close();
  await rm(runsDir, { recursive: true, force: true });
});

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The fake kubelet: moves a pod to the next status (nothing to do on a real cluster). */
function step(pod: string, status: Record<string, unknown>): void {
  if (!REAL) server.setPodStatus(NS, pod, status);
}
function log(pod: string, line: string): void {
  if (!REAL) server.appendLog(NS, pod, line);
}

async function podNames(runUuid: string): Promise<string[]> {
  const list = await core.listNamespacedPod({ namespace: NS, labelSelector: `myelin.dev/run-uuid=${runUuid}` });
  return list.items.map((p) => p.metadata?.name ?? '').sort();
}

async function objectCounts(runUuid: string): Promise<{ pods: number; services: number; secrets: number }> {
  const labelSelector = `myelin.dev/run-uuid=${runUuid}`;
  return {
    pods: (await core.listNamespacedPod({ namespace: NS, labelSelector })).items.length,
    services: (await core.listNamespacedService({ namespace: NS, labelSelector })).items.length,
    secrets: (await core.listNamespacedSecret({ namespace: NS, labelSelector })).items.length,
  };
}

/** inspect() until the run ends (as the scheduler does after onExit). */
async function ended(execution: ExecutionEntity): Promise<ProcessState> {
  return until(`run ${execution.runUuid} to end`, async () => {
    const state = await executor.inspect(execution);
    return state.state === 'running' ? undefined : state;
  });
}

const job = (cmd: string, extra = '') => `
version: 1
kind: job
build:
  image: busybox:1.36
${extra}
run:
  cmd: ${cmd}
`;

describe(`Kubernetes executor against ${REAL ? 'a real cluster' : 'the fake API server'}`, () => {
  it('runs a pod through scheduled, starting, running and succeeded, copies its log, then deletes its objects', async () => {
    const t0 = Date.now();
    const execution = executionFor(job(`"echo hello; echo 'myelin:metric step=1 loss=0.5'"`));
    const launched = await executor.launch(execution, { runToken: 'run-token-1' });
    const pod = `${baseName(execution)}-master-0`;
    expect(launched.workdir).toBe(`kubernetes://${NS}/${baseName(execution)}`);
    expect(await podNames(execution.runUuid)).toEqual([pod]);
    // The token lives in the run's Secret only.
    const secret = await core.readNamespacedSecret({ namespace: NS, name: `${baseName(execution)}-token` });
    expect(Buffer.from(secret.data?.['token'] ?? '', 'base64').toString()).toBe('run-token-1');
    expect(JSON.stringify(await core.readNamespacedPod({ namespace: NS, name: pod }))).not.toContain('run-token-1');

    step(pod, kubelet.containerCreating());
    await until('starting', () => executor.condition(execution)?.status === 'starting' || REAL || undefined);
    step(pod, kubelet.running());
    log(pod, 'hello');
    await until('running', () => conditions.some((c) => c.runUuid === execution.runUuid && c.condition.status === 'running') || REAL || undefined);
    log(pod, 'myelin:metric step=1 loss=0.5');
    step(pod, kubelet.terminated(0));

    expect(await ended(execution)).toEqual({ state: 'exited', exitCode: 0 });
    expect(executor.condition(execution)).toEqual({ status: 'succeeded', reason: 'Succeeded', message: 'exit code 0', exitCode: 0 });
    expect(exits).toContain(execution.runUuid);
    expect(await readFile(executor.logFiles(execution).stdout, 'utf8')).toBe('hello\nmyelin:metric step=1 loss=0.5\n');
    expect(await objectCounts(execution.runUuid)).toEqual({ pods: 0, services: 0, secrets: 0 });
    if (!REAL) {
      const statuses = conditions.filter((c) => c.runUuid === execution.runUuid).map((c) => c.condition.status);
      expect(statuses).toEqual(expect.arrayContaining(['scheduled', 'starting', 'running']));
      expect(Date.now() - t0).toBeLessThan(3_000);
    }
  });

  it('a non-zero exit fails the run with the exit code in the message', async () => {
    const execution = executionFor(job('"echo oops; exit 3"'));
    await executor.launch(execution);
    const pod = `${baseName(execution)}-master-0`;
    step(pod, kubelet.running());
    log(pod, 'oops');
    step(pod, kubelet.terminated(3));
    expect(await ended(execution)).toEqual({ state: 'exited', exitCode: 3 });
    expect(executor.condition(execution)).toEqual({ status: 'failed', reason: 'Error', message: 'exit code 3', exitCode: 3 });
    expect(await readFile(executor.logFiles(execution).stdout, 'utf8')).toBe('oops\n');
  });

  it('OOMKilled fails the run with reason OOMKilled', async () => {
    const execution = executionFor(job('"tail /dev/zero"', 'environment:\n  resources:\n    memory: {requests: 16, limits: 16}'));
    await executor.launch(execution);
    const pod = `${baseName(execution)}-master-0`;
    step(pod, kubelet.running());
    step(pod, kubelet.terminated(137, 'OOMKilled'));
    expect(await ended(execution)).toEqual({ state: 'exited', exitCode: 137 });
    expect(executor.condition(execution)).toEqual({ status: 'failed', reason: 'OOMKilled', message: 'exit code 137 (OOMKilled)', exitCode: 137 });
  });

  it('a pod no node can take is unschedulable with the scheduler message, until stopped', async () => {
    const execution = executionFor(job('"sleep 1"', 'environment:\n  node_selector:\n    myelin.dev/no-such-node: "true"'));
    await executor.launch(execution);
    const pod = `${baseName(execution)}-master-0`;
    step(pod, kubelet.unschedulable("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."));
    const condition = await until('unschedulable', () => {
      const c = executor.condition(execution);
      return c?.status === 'unschedulable' ? c : undefined;
    });
    expect(condition.reason).toBe('Unschedulable');
    expect(condition.message).toMatch(/node\(s\) didn't match Pod's node affinity\/selector/);
    expect(await executor.inspect(execution)).toEqual({ state: 'running' });
    expect(conditions).toContainEqual({ runUuid: execution.runUuid, condition });
    await executor.terminate(execution);
    expect((await ended(execution)).state).not.toBe('running');
    expect(executor.condition(execution)).toMatchObject({ status: 'stopped', reason: 'Stopped' });
    expect(await objectCounts(execution.runUuid)).toEqual({ pods: 0, services: 0, secrets: 0 });
  });

  it('an image that cannot be pulled warns, then fails with the reason once the grace period is over', async () => {
    const execution = executionFor(job('"true"').replace('busybox:1.36', 'registry.invalid/nope:1'));
    await executor.launch(execution);
    const pod = `${baseName(execution)}-master-0`;
    const t0 = Date.now();
    step(pod, kubelet.imagePull('ErrImagePull'));
    await until('warning', () => executor.condition(execution)?.status === 'warning' || undefined);
    expect(await executor.inspect(execution)).toEqual({ state: 'running' });
    step(pod, kubelet.imagePull('ImagePullBackOff'));
    // No further pod event is needed: the executor looks again when the grace period ends.
    await until('exit signal', () => exits.includes(execution.runUuid) || undefined, GRACE_MS + WAIT_MS);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(GRACE_MS);
    expect(await ended(execution)).toEqual({ state: 'vanished' });
    expect(executor.condition(execution)).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^(ErrImagePull|ImagePullBackOff)$/) });
    expect(executor.condition(execution)?.message).toContain('registry.invalid/nope:1');
  });

  it('stop collects the logs, then deletes the pod, its Services and its Secret', async () => {
    const execution = executionFor(distributed('pytorch', '    n_workers: 1').replace('python dist.py', '"echo started; sleep 600"').replace('kind: experiment', 'kind: experiment\nbuild:\n  image: busybox:1.36'));
    await executor.launch(execution);
    const base = baseName(execution);
    expect(await objectCounts(execution.runUuid)).toEqual({ pods: 2, services: 2, secrets: 1 });
    for (const role of ['master-0', 'worker-0']) {
      step(`${base}-${role}`, kubelet.running());
      log(`${base}-${role}`, 'started');
    }
    await until('log copied', async () => (await readFile(executor.logFiles(execution).stdout, 'utf8').catch(() => '')).includes('[worker.0] started') || undefined);
    if (!REAL) log(`${base}-master-0`, 'checkpoint saved');
    await executor.terminate(execution);
    const text = await readFile(executor.logFiles(execution).stdout, 'utf8');
    expect(text.split('\n').filter(Boolean).sort()).toEqual(REAL ? ['[worker.0] started', 'started'] : ['[worker.0] started', 'checkpoint saved', 'started'].sort());
    await until('objects deleted', async () => {
      const counts = await objectCounts(execution.runUuid);
      return counts.pods + counts.services + counts.secrets === 0 || undefined;
    });
    if (!REAL) {
      const deletes = server.requests.filter((r) => r.method === 'DELETE' && r.path.includes(base));
      expect(deletes.map((r) => r.path.split('/').slice(-2).join('/')).sort()).toEqual(
        [`pods/${base}-master-0`, `pods/${base}-worker-0`, `secrets/${base}-token`, `services/${base}-master-0`, `services/${base}-worker-0`].sort(),
      );
    }
    expect((await ended(execution)).state).not.toBe('running');
    expect(executor.condition(execution)).toMatchObject({ status: 'stopped' });
  });

  it('distributed tensorflow: one pod and one headless Service per replica, with TF_CONFIG; the master ends the run', async () => {
    const execution = executionFor(distributed('tensorflow', '    n_workers: 2\n    n_ps: 1').replace('kind: experiment', 'kind: experiment\nbuild:\n  image: busybox:1.36').replace('python dist.py', '"echo $TF_CONFIG"'));
    await executor.launch(execution);
    const base = baseName(execution);
    const names = ['master-0', 'ps-0', 'worker-0', 'worker-1'].map((s) => `${base}-${s}`);
    expect(await podNames(execution.runUuid)).toEqual(names);
    const services = await core.listNamespacedService({ namespace: NS, labelSelector: `myelin.dev/run-uuid=${execution.runUuid}` });
    expect(services.items.map((s) => [s.metadata?.name, s.spec?.clusterIP, s.spec?.ports?.[0]?.port]).sort()).toEqual(names.map((n) => [n, 'None', 2222]));
    const worker1 = await core.readNamespacedPod({ namespace: NS, name: `${base}-worker-1` });
    const tfConfig = JSON.parse(worker1.spec?.containers[0]?.env?.find((e) => e.name === 'TF_CONFIG')?.value ?? '{}') as { cluster: Record<string, string[]>; task: unknown };
    expect(tfConfig.task).toEqual({ type: 'worker', index: 1 });
    expect(tfConfig.cluster['worker']).toEqual([`${base}-worker-0.${NS}.svc:2222`, `${base}-worker-1.${NS}.svc:2222`]);
    for (const n of names) step(n, kubelet.running());
    for (const n of names.filter((n) => !n.endsWith('ps-0'))) step(n, kubelet.terminated(0));
    // The parameter server never exits by itself: the master's success ends the run.
    expect(await ended(execution)).toEqual({ state: 'exited', exitCode: 0 });
    expect(await objectCounts(execution.runUuid)).toEqual({ pods: 0, services: 0, secrets: 0 });
  });

  if (!REAL) {
    it('a failing worker fails a distributed run, naming the replica', async () => {
      const execution = executionFor(distributed('mxnet', '    n_workers: 2\n    n_ps: 1').replace('kind: experiment', 'kind: experiment\nbuild:\n  image: busybox:1.36'));
      await executor.launch(execution);
      const base = baseName(execution);
      const dmlc = (await core.readNamespacedPod({ namespace: NS, name: `${base}-ps-0` })).spec?.containers[0]?.env?.find((e) => e.name === 'DMLC_ROLE')?.value;
      expect(dmlc).toBe('server');
      for (const s of ['master-0', 'worker-0', 'worker-1', 'ps-0']) step(`${base}-${s}`, kubelet.running());
      step(`${base}-worker-1`, kubelet.terminated(2));
      expect(await ended(execution)).toEqual({ state: 'exited', exitCode: 2 });
      expect(executor.condition(execution)).toEqual({ status: 'failed', reason: 'Error', message: 'exit code 2 in worker.1', exitCode: 2 });
    });

    it('backend: kubeflow creates a TFJob instead of pods, follows the pods its operator creates, and deletes it', async () => {
      const execution = executionFor(distributed('tensorflow', '    n_workers: 1', 'backend: kubeflow').replace('kind: experiment', 'kind: experiment\nbuild:\n  image: busybox:1.36'));
      await executor.launch(execution);
      const base = baseName(execution);
      const tfjob = server.get(`kubeflow.org/v1/${NS}/tfjobs`, base);
      expect(tfjob).toMatchObject({ kind: 'TFJob', spec: { tfReplicaSpecs: { Chief: { replicas: 1 }, Worker: { replicas: 1 } } } });
      expect(await podNames(execution.runUuid)).toEqual([]);
      // Not lost while the operator has not created the pods yet.
      expect(await executor.inspect(execution)).toEqual({ state: 'running' });
      expect(executor.condition(execution)).toMatchObject({ status: 'scheduled', message: expect.stringContaining('TFJob operator') });
      // The operator creates pods from the templates (our labels included).
      const specs = (tfjob?.['spec'] as { tfReplicaSpecs: Record<string, { template: { metadata: Record<string, unknown>; spec: Record<string, unknown> } }> }).tfReplicaSpecs;
      for (const [role, spec] of Object.entries(specs)) {
        await core.createNamespacedPod({ namespace: NS, body: { apiVersion: 'v1', kind: 'Pod', metadata: { ...spec.template.metadata, name: `${base}-${role.toLowerCase()}-0` }, spec: spec.template.spec } as never });
      }
      step(`${base}-chief-0`, kubelet.running());
      step(`${base}-worker-0`, kubelet.running());
      step(`${base}-chief-0`, kubelet.terminated(0));
      expect(await ended(execution)).toEqual({ state: 'exited', exitCode: 0 });
      expect(server.get(`kubeflow.org/v1/${NS}/tfjobs`, base)).toBeUndefined();
      // A scheduler restarted before the end still finds and deletes the TFJob (from the run's spec).
      const again = executionFor(distributed('pytorch', '    n_workers: 1', 'backend: kubeflow').replace('kind: experiment', 'kind: experiment\nbuild:\n  image: busybox:1.36'));
      await executor.launch(again);
      expect(server.get(`kubeflow.org/v1/${NS}/pytorchjobs`, baseName(again))).toBeDefined();
      const restarted = await makeExecutor();
      try {
        await restarted.kill(again);
        expect(server.get(`kubeflow.org/v1/${NS}/pytorchjobs`, baseName(again))).toBeUndefined();
      } finally {
        await restarted.close();
      }
      expect(server.requests.some((r) => r.method === 'DELETE' && r.path === `/apis/kubeflow.org/v1/namespaces/${NS}/tfjobs/${base}`)).toBe(true);
    });

    it('410 Gone (as a watch ERROR event) lists again, and the transition made meanwhile is seen', async () => {
      const execution = executionFor(job('"sleep 5"'));
      await executor.launch(execution);
      const pod = `${baseName(execution)}-master-0`;
      step(pod, kubelet.running());
      await until('running', () => executor.condition(execution)?.status === 'running' || undefined);
      const before = { ...(executor as unknown as { watch: { stats: Record<string, number> } }).watch.stats };
      // The connection drops, the server compacts its history, the pod ends meanwhile.
      server.dropWatches();
      step(pod, kubelet.terminated(0));
      server.compact();
      await until('exit', () => exits.includes(execution.runUuid) || undefined);
      const stats = (executor as unknown as { watch: { stats: Record<string, number> } }).watch.stats;
      expect(stats['gone']).toBeGreaterThan(before['gone'] as number);
      expect(stats['lists']).toBeGreaterThan(before['lists'] as number);
      expect(await ended(execution)).toEqual({ state: 'exited', exitCode: 0 });
      const watches = server.requests.filter((r) => r.query['watch'] === 'true');
      expect(watches.length).toBeGreaterThanOrEqual(3);
    });

    it('410 Gone as an HTTP status also lists again', async () => {
      const execution = executionFor(job('"sleep 5"'));
      await executor.launch(execution);
      const pod = `${baseName(execution)}-master-0`;
      step(pod, kubelet.running());
      await until('running', () => executor.condition(execution)?.status === 'running' || undefined);
      const lists = (executor as unknown as { watch: { stats: Record<string, number> } }).watch.stats['lists'] as number;
      server.goneAsHttpStatus = true;
      try {
        server.dropWatches();
        step(pod, kubelet.terminated(4));
        server.compact();
        expect(await ended(execution)).toEqual({ state: 'exited', exitCode: 4 });
        expect((executor as unknown as { watch: { stats: Record<string, number> } }).watch.stats['lists']).toBeGreaterThan(lists);
      } finally {
        server.goneAsHttpStatus = false;
      }
    });

    it('a dropped watch connection reconnects from the last resourceVersion without listing again or losing a transition', async () => {
      const execution = executionFor(job('"sleep 5"'));
      await executor.launch(execution);
      const pod = `${baseName(execution)}-master-0`;
      step(pod, kubelet.running());
      await until('running', () => executor.condition(execution)?.status === 'running' || undefined);
      const stats = (executor as unknown as { watch: { stats: Record<string, number> } }).watch.stats;
      const lists = stats['lists'];
      const lastRv = server.get(`core/${NS}/pods`, pod)?.metadata.resourceVersion;
      const watchesBefore = server.requests.filter((r) => r.query['watch'] === 'true').length;
      expect(server.dropWatches()).toBe(1);
      step(pod, kubelet.terminated(0)); // happens while nobody watches
      expect(await ended(execution)).toEqual({ state: 'exited', exitCode: 0 });
      expect(stats['lists']).toBe(lists);
      const resumed = server.requests.filter((r) => r.query['watch'] === 'true')[watchesBefore];
      expect(resumed?.query['resourceVersion']).toBe(lastRv);
      await until('reconnected', () => server.openWatches() === 1 || undefined);
      expect(executor.health().ok).toBe(true);
    });

    it('health turns false while the watch cannot reconnect, and true again after', async () => {
      const other = await makeExecutor({ watch: { initialBackoffMs: 50, maxBackoffMs: 100, unhealthyAfterMs: 200 } });
      try {
        await until('connected', () => other.health().ok || undefined);
        const check = other.readinessCheck();
        expect(await check()).toMatchObject({ name: 'kubernetes-watch', ok: true });
        const realWatch = server['watch'].bind(server);
        (server as unknown as { watch: unknown }).watch = (res: import('node:http').ServerResponse) => {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ kind: 'Status', code: 503, message: 'apiserver restarting' }));
        };
        try {
          server.dropWatches();
          await until('unhealthy', async () => ((await check()).ok ? undefined : true));
          expect((await check()).detail).toMatch(/not connected/);
        } finally {
          (server as unknown as { watch: unknown }).watch = realWatch;
        }
        await until('healthy again', async () => ((await check()).ok ? true : undefined));
      } finally {
        await other.close();
      }
    });

    it('a log stream dropped mid-run resumes after the last line written: no line lost, none repeated', async () => {
      const execution = executionFor(job('"sleep 5"'));
      await executor.launch(execution);
      const pod = `${baseName(execution)}-master-0`;
      step(pod, kubelet.running());
      log(pod, 'line 1');
      log(pod, 'line 2');
      await until('first lines', async () => (await readFile(executor.logFiles(execution).stdout, 'utf8').catch(() => '')) === 'line 1\nline 2\n' || undefined);
      server.dropLogs();
      log(pod, 'line 3'); // written while no one follows
      step(pod, kubelet.terminated(0));
      log(pod, 'line 4');
      expect(await ended(execution)).toEqual({ state: 'exited', exitCode: 0 });
      expect(await readFile(executor.logFiles(execution).stdout, 'utf8')).toBe('line 1\nline 2\nline 3\nline 4\n');
    });

    it('a restarted scheduler adopts a running pod and copies the rest of its log without repeating a line', async () => {
      const ownDir = await mkdtemp(join(tmpdir(), 'myelin-k8s-restart-'));
      const first = await makeExecutor({ runsDir: ownDir });
      const execution = executionFor(job('"sleep 5"'));
      await first.launch(execution);
      const pod = `${baseName(execution)}-master-0`;
      step(pod, kubelet.running());
      log(pod, 'before restart 1');
      log(pod, 'before restart 2');
      await until('copied', async () => (await readFile(first.logFiles(execution).stdout, 'utf8').catch(() => '')) === 'before restart 1\nbefore restart 2\n' || undefined);
      await first.close(); // the scheduler dies
      log(pod, 'while down');
      const second = await makeExecutor({ runsDir: ownDir });
      try {
        expect(await second.inspect(execution)).toEqual({ state: 'running' });
        log(pod, 'after restart');
        step(pod, kubelet.terminated(0));
        const state = await until('end', async () => {
          const s = await second.inspect(execution);
          return s.state === 'running' ? undefined : s;
        });
        expect(state).toEqual({ state: 'exited', exitCode: 0 });
        expect(await readFile(second.logFiles(execution).stdout, 'utf8')).toBe('before restart 1\nbefore restart 2\nwhile down\nafter restart\n');
      } finally {
        await second.close();
        await rm(ownDir, { recursive: true, force: true });
      }
    });

    it('a launch the API server refuses half-way leaves no object behind', async () => {
      const execution = executionFor(distributed('pytorch', '    n_workers: 1').replace('kind: experiment', 'kind: experiment\nbuild:\n  image: busybox:1.36'));
      server.fail = (r) => (r.method === 'POST' && r.path.endsWith('/pods') ? 403 : undefined); // e.g. a ResourceQuota
      try {
        await expect(executor.launch(execution)).rejects.toMatchObject({ code: 403 });
      } finally {
        server.fail = undefined;
      }
      expect(server.requests.some((r) => r.method === 'POST' && r.path.endsWith('/services'))).toBe(true);
      expect(await objectCounts(execution.runUuid)).toEqual({ pods: 0, services: 0, secrets: 0 });
    });

    it('a failed cleanup of a finished run is retried at the next inspect', async () => {
      const execution = executionFor(job('"true"'));
      await executor.launch(execution);
      const pod = `${baseName(execution)}-master-0`;
      step(pod, kubelet.running());
      step(pod, kubelet.terminated(0));
      let failures = 0;
      server.fail = (r) => (r.method === 'DELETE' && r.path.endsWith(`/pods/${pod}`) && failures++ === 0 ? 500 : undefined);
      try {
        expect(await ended(execution)).toEqual({ state: 'exited', exitCode: 0 });
        expect(server.get(`core/${NS}/pods`, pod)).toBeDefined(); // the delete failed
        expect(await executor.inspect(execution)).toEqual({ state: 'exited', exitCode: 0 });
        expect(await objectCounts(execution.runUuid)).toEqual({ pods: 0, services: 0, secrets: 0 });
      } finally {
        server.fail = undefined;
      }
    });

    it('without a reachable API server a run is unknown, never lost', async () => {
      const k8s = await loadKubernetesClient();
      const unreachable = new k8s.KubeConfig();
      unreachable.loadFromOptions({
        clusters: [{ name: 'x', server: 'http://127.0.0.1:9', skipTLSVerify: true }],
        users: [{ name: 'x' }],
        contexts: [{ name: 'x', cluster: 'x', user: 'x' }],
        currentContext: 'x',
      });
      const offline = await makeExecutor({ kubeConfig: unreachable });
      try {
        const execution = executionFor(job('"true"'));
        expect(await offline.inspect(execution)).toEqual({ state: 'running' });
        expect(offline.condition(execution)).toMatchObject({ status: 'unknown', reason: 'ApiUnreachable' });
        expect(offline.health().ok).toBe(false);
      } finally {
        await offline.close();
      }
    });

    it('a pod deleted outside Myelin is a lost run; purge removes the local log copy', async () => {
      const execution = executionFor(job('"sleep 5"'));
      await executor.launch(execution);
      const pod = `${baseName(execution)}-master-0`;
      step(pod, kubelet.running());
      log(pod, 'x');
      await until('log', async () => (await readFile(executor.logFiles(execution).stdout, 'utf8').catch(() => '')) === 'x\n' || undefined);
      await core.deleteNamespacedPod({ namespace: NS, name: pod });
      await until('exit', () => exits.includes(execution.runUuid) || undefined);
      expect(await ended(execution)).toEqual({ state: 'vanished' });
      expect(executor.condition(execution)).toMatchObject({ status: 'failed', reason: 'Lost' });
      await executor.purge(execution);
      await expect(readFile(executor.logFiles(execution).stdout, 'utf8')).rejects.toThrow(/ENOENT/);
    });

    it('a restarted scheduler finding no pod of a run it never saw cannot tell: unknown (the zombie window decides), not lost', async () => {
      const ownDir = await mkdtemp(join(tmpdir(), 'myelin-k8s-unknown-'));
      const first = await makeExecutor({ runsDir: ownDir });
      const execution = executionFor(job('"sleep 5"'));
      await first.launch(execution);
      await first.close(); // the scheduler dies; the pod is deleted while it is down
      await core.deleteNamespacedPod({ namespace: NS, name: `${baseName(execution)}-master-0` });
      const second = await makeExecutor({ runsDir: ownDir });
      try {
        expect(await second.inspect(execution)).toEqual({ state: 'unknown', message: expect.stringMatching(/^no pod of the run can be found/) });
        expect(second.condition(execution)).toMatchObject({ status: 'unknown', reason: 'PodNotFound' });
        // Not final: a pod showing up later is followed as usual.
        expect(await second.inspect(execution)).toMatchObject({ state: 'unknown' });
      } finally {
        await second.kill(execution);
        await second.close();
        await rm(ownDir, { recursive: true, force: true });
      }
    });

    it('the TTL cleanup removes the local copy of a finished run\'s logs', async () => {
      const execution = executionFor(job('"echo bye"'));
      await executor.launch(execution);
      const pod = `${baseName(execution)}-master-0`;
      step(pod, kubelet.running());
      log(pod, 'bye');
      step(pod, kubelet.terminated(0));
      expect(await ended(execution)).toEqual({ state: 'exited', exitCode: 0 });
      expect(await readFile(executor.logFiles(execution).stdout, 'utf8')).toBe('bye\n');
      await executor.cleanWorkdir(execution);
      await expect(readFile(executor.logFiles(execution).stdout, 'utf8')).rejects.toThrow(/ENOENT/);
    });
  }
});
