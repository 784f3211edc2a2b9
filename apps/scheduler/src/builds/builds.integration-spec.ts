import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LogLinesAppend, MetricsBatch, RunStart, RunStatusChanged, RunTokenIssue, TokenVerify } from '@myelin/contracts';
import { InProcessBus, MessageHandler, RemoteError } from '@myelin/bus';
import { AppHandle } from '@myelin/runtime';
import { parsePolyaxonfiles } from '@myelin/spec';
import { createTempDir, createTestDatabase, TempDir, TestDatabase, waitFor } from '@myelin/testing';
import { bootstrap } from '../bootstrap';
import { schedulerTestEnv } from '../testing/scheduler-test-env';
import { FakeApiServer, type Obj } from '../executors/kubernetes/testing/fake-api-server';
import { kubelet } from '../executors/kubernetes/testing/kubelet';
import { validateBuildObjects } from '../executors/kubernetes/validate-objects';
import { BUILD_NEEDS_KUBERNETES } from './build-plan';

jest.setTimeout(60_000);

const ADMIN = 'admin-token-00001';
const NS = 'myelin-builds';
const REGISTRY = 'registry.example.com:5000/myelin';

/** The scheduler on its own PostgreSQL database, the API and tracking stood in for on the in-process bus. */
class Harness {
  app!: AppHandle;
  bus = new InProcessBus();
  db!: TestDatabase;
  runsDir!: TempDir;
  base = '';
  readonly events: RunStatusChanged.Payload[] = [];
  readonly lines: LogLinesAppend.Payload[] = [];
  /** How the stand-in API answers run token requests (silent: not within the scheduler's timeout). */
  tokens: 'answer' | 'silent' | 'refuse' = 'answer';
  private number = 0;

  async start(env: Record<string, string>): Promise<void> {
    this.db = await createTestDatabase('myelin_builds');
    this.runsDir = await createTempDir('myelin-builds-runs');
    const verify = ((p: TokenVerify.Payload): TokenVerify.Reply =>
      p.token === ADMIN ? { valid: true, userId: randomUUID(), username: 'admin', isSuperuser: true } : { valid: false }) as MessageHandler;
    await this.bus.consume(
      'api',
      new Map<string, MessageHandler>([
        [TokenVerify.PATTERN, verify],
        [RunStatusChanged.PATTERN, (async (e: RunStatusChanged.Payload) => void this.events.push(e)) as MessageHandler],
        [
          RunTokenIssue.PATTERN,
          (async () => {
            for (let waited = 0; this.tokens === 'silent' && waited < 3000; waited += 50) await new Promise((r) => setTimeout(r, 50));
            if (this.tokens === 'refuse') throw new RemoteError('the run is unknown or already ended');
            return { token: 'run-token-000001' };
          }) as MessageHandler,
        ],
      ]),
    );
    await this.bus.consume(
      'tracking',
      new Map<string, MessageHandler>([
        [MetricsBatch.PATTERN, (async () => undefined) as MessageHandler],
        [LogLinesAppend.PATTERN, (async (b: LogLinesAppend.Payload) => void this.lines.push(b)) as MessageHandler],
      ]),
    );
    this.app = await bootstrap({
      env: schedulerTestEnv(this.db.url, this.runsDir.path, { MYELIN_STOP_GRACE_SECONDS: '1', ...env }),
      bus: this.bus,
      listen: true,
    });
    this.base = `http://127.0.0.1:${this.app.port}`;
  }

  async close(): Promise<void> {
    await this.app?.close();
    await this.bus.close();
    await this.db?.drop();
    await this.runsDir?.remove();
  }

  async submit(polyaxonfile: string, project = 'alice/vision'): Promise<string> {
    const spec = JSON.parse(JSON.stringify(parsePolyaxonfiles([{ path: 'polyaxonfile.yml', content: polyaxonfile }]))) as Record<string, unknown> & { kind: RunStart.Payload['kind']; run?: { cmd: string } };
    const runUuid = randomUUID();
    this.number += 1;
    await this.bus.send(RunStart.PATTERN, {
      runUuid,
      project,
      number: this.number,
      kind: spec.kind,
      cmd: spec.run?.cmd ?? '',
      params: {},
      spec,
      user: 'alice',
      teams: [],
    } satisfies RunStart.Payload);
    return runUuid;
  }

  statuses = (uuid: string) => this.events.filter((e) => e.runUuid === uuid);
  last = (uuid: string) => this.statuses(uuid).at(-1);
  history = (uuid: string) => this.statuses(uuid).map((e) => `${e.status}:${e.reason}`);
  systemLines = (uuid: string) => this.lines.filter((b) => b.runUuid === uuid).flatMap((b) => b.lines.filter((l) => l.stream === 'system').map((l) => l.line));
  until = (uuid: string, status: string, timeoutMs = 15_000) => waitFor(() => this.statuses(uuid).find((e) => e.status === status), { timeoutMs, what: `run ${uuid} to be ${status} (has ${this.history(uuid).join(', ')})` });
}

describe('builds on the local executor (no container engine)', () => {
  const h = new Harness();
  beforeAll(() => h.start({}), 60_000);
  afterAll(() => h.close());

  it('runs a job with a build section in the host environment and says the image and build steps were not applied', async () => {
    const run = await h.submit('version: 1\nkind: job\nbuild:\n  image: python:3.12-slim\n  build_steps: [pip install numpy]\nrun:\n  cmd: echo hello\n');
    await h.until(run, 'succeeded');
    const notice = 'image python:3.12-slim and build steps (1) were not applied: the local executor runs in the host environment';
    const running = h.statuses(run).find((e) => e.status === 'running')!;
    expect(running.message).toMatch(/^process \d+ in .+; image python:3\.12-slim and build steps \(1\) were not applied: the local executor runs in the host environment$/);
    await waitFor(() => h.systemLines(run).includes(`myelin: ${notice}`), { what: 'the notice in the logs' });
    expect(h.history(run)).toEqual(['queued:Queued', 'starting:Starting', 'running:Running', 'succeeded:Succeeded']);
  });

  it('says nothing for a job without a build section', async () => {
    const run = await h.submit('version: 1\nkind: experiment\nrun:\n  cmd: echo plain\n');
    await h.until(run, 'succeeded');
    expect(h.statuses(run).find((e) => e.status === 'running')!.message).not.toContain('not applied');
  });

  it('refuses a kind: build run with a message that it needs the Kubernetes executor', async () => {
    const run = await h.submit('version: 1\nkind: build\nimage: python:3.12-slim\nbuild_steps: [pip install numpy]\n');
    const failed = await h.until(run, 'failed');
    expect(failed).toMatchObject({ reason: 'NeedsKubernetes', message: BUILD_NEEDS_KUBERNETES });
    expect(failed.message).toContain('MYELIN_EXECUTOR=kubernetes');
    expect(h.history(run)).toEqual(['queued:Queued', 'failed:NeedsKubernetes']);
    await waitFor(() => h.systemLines(run).includes(`myelin: ${BUILD_NEEDS_KUBERNETES}`), { what: 'the refusal in the logs' });
  });
});

describe('builds on the Kubernetes executor (fake API server, the test plays the kubelet)', () => {
  const h = new Harness();
  const server = new FakeApiServer();
  const pods = `core/${NS}/pods`;
  const base = (uuid: string) => `myelin-${uuid}-0`;
  const pod = (name: string) => server.get(pods, name);
  const podExists = (name: string) => waitFor(() => pod(name), { what: `pod ${name}` });
  const container = (o: Obj) => ((o['spec'] as { containers: Array<Record<string, unknown>> }).containers[0] as { image: string; args?: string[]; volumeMounts?: Array<{ name: string }> });
  const http = (method: string, path: string) => fetch(`${h.base}${path}`, { method, headers: { Authorization: `token ${ADMIN}` } });
  const DIGEST = `sha256:${'ab'.repeat(32)}`;
  const kanikoSucceeds = (name: string) => {
    server.setPodStatus(NS, name, kubelet.running());
    server.appendLog(NS, name, 'INFO Pushing image');
    // kaniko writes the pushed digest to its termination message (--digest-file=/dev/termination-log).
    const done = kubelet.terminated(0) as unknown as { containerStatuses: Array<{ state: { terminated: Record<string, unknown> } }> };
    done.containerStatuses[0]!.state.terminated['message'] = DIGEST;
    server.setPodStatus(NS, name, done);
  };
  const JOB = (steps: string, extra = '') => `version: 1\nkind: job\nbuild:\n  image: python:3.12-slim\n  build_steps: [${steps}]\n  commit: 3f2a9c1${extra}\nrun:\n  cmd: python train.py\n`;

  beforeAll(async () => {
    const url = await server.start();
    const dir = await createTempDir('myelin-builds-kube');
    const kubeconfig = join(dir.path, 'kubeconfig');
    await writeFile(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: ${url}\n    insecure-skip-tls-verify: true\nusers:\n- name: t\n  user:\n    token: not-checked\ncontexts:\n- name: fake\n  context: {cluster: fake, user: t}\ncurrent-context: fake\n`,
    );
    await h.start({
      MYELIN_EXECUTOR: 'kubernetes',
      MYELIN_K8S_KUBECONFIG: kubeconfig,
      MYELIN_K8S_NAMESPACE: NS,
      MYELIN_K8S_REGISTRY: REGISTRY,
      MYELIN_K8S_REGISTRY_SECRET: 'registry-push',
      MYELIN_K8S_KANIKO_IMAGE: 'gcr.io/kaniko-project/executor:v1.23.2',
      MYELIN_K8S_IMAGE_PULL_GRACE_SECONDS: '1',
      MYELIN_RUN_TOKEN_TIMEOUT_SECONDS: '1',
    });
  }, 60_000);
  afterAll(async () => {
    await h.close();
    await server.close();
  });

  it('builds the image with kaniko while the run is building, then runs its pod on it; the pod conditions move the run (unschedulable, then running)', async () => {
    const run = await h.submit(JOB('pip install numpy'));
    await h.until(run, 'building');
    const build = await podExists(`${base(run)}-build`);
    const kaniko = container(build);
    expect(kaniko.image).toBe('gcr.io/kaniko-project/executor:v1.23.2');
    const destination = kaniko.args!.find((a) => a.startsWith('--destination='))!.slice('--destination='.length);
    expect(destination).toMatch(new RegExp(`^${REGISTRY}/alice-vision:[0-9a-f]{40}$`));
    expect(kaniko.args).toEqual(['--dockerfile=/myelin/build/Dockerfile', '--context=dir:///workspace', `--destination=${destination}`, '--digest-file=/dev/termination-log']);
    expect(kaniko.volumeMounts!.map((m) => m.name)).toEqual(['code', 'dockerfile', 'registry']);
    const dockerfile = server.get(`core/${NS}/configmaps`, `${base(run)}-dockerfile`)!;
    expect((dockerfile['data'] as Record<string, string>)['Dockerfile']).toBe('FROM python:3.12-slim\nWORKDIR /myelin/code\nCOPY . /myelin/code\nRUN pip install numpy\n');
    // What was sent validates against the official schemas.
    expect(validateBuildObjects({ image: destination, pod: build, configMap: dockerfile })).toEqual([`ConfigMap/${base(run)}-dockerfile`, `Pod/${base(run)}-build`]);
    expect(pod(`${base(run)}-master-0`)).toBeUndefined();

    kanikoSucceeds(`${base(run)}-build`);
    const runPod = await podExists(`${base(run)}-master-0`);
    expect(container(runPod).image).toBe(destination);
    // The image holds the code: no code volume hides it.
    expect(container(runPod).volumeMounts!.map((m) => m.name)).not.toContain('code');
    await waitFor(() => !pod(`${base(run)}-build`), { what: 'the build pod to be deleted' });

    server.setPodStatus(NS, `${base(run)}-master-0`, kubelet.unschedulable());
    await h.until(run, 'unschedulable');
    // Launched and held by the cluster, not waiting for admission: `myelin queue` counts it as running.
    const queue = (await (await http('GET', '/api/v1/scheduler/queue')).json()) as { running: number; waiting: Array<{ runUuid: string }> };
    expect(queue.waiting.map((w) => w.runUuid)).not.toContain(run);
    expect(queue.running).toBe(1);
    server.setPodStatus(NS, `${base(run)}-master-0`, kubelet.running());
    await h.until(run, 'running');
    server.setPodStatus(NS, `${base(run)}-master-0`, kubelet.terminated(0));
    await h.until(run, 'succeeded');
    expect(h.history(run)).toEqual(['queued:Queued', 'building:Building', 'starting:Starting', 'unschedulable:Unschedulable', 'running:Running', 'succeeded:Succeeded']);
    expect(h.statuses(run).find((e) => e.status === 'starting')!.message).toContain(destination);
    await waitFor(() => h.systemLines(run).some((l) => l === `myelin: image ${destination} built and pushed (${DIGEST})`), { what: 'the build result in the logs' });
    await waitFor(() => h.lines.some((b) => b.runUuid === run && b.lines.some((l) => l.line === '[build.0] INFO Pushing image')), { what: 'the kaniko log in the run log' });

    // A second run with the same build section and commit uses the image: no kaniko pod.
    const again = await h.submit(JOB('pip install numpy'));
    const againPod = await podExists(`${base(again)}-master-0`);
    expect(container(againPod).image).toBe(destination);
    expect(pod(`${base(again)}-build`)).toBeUndefined();
    expect(h.statuses(again).map((e) => e.status)).not.toContain('building');
    await waitFor(() => h.systemLines(again).some((l) => l.startsWith(`myelin: using image ${destination}, built by run ${run}`)), { what: 'the cache note' });
    server.setPodStatus(NS, `${base(again)}-master-0`, kubelet.terminated(0));
    await h.until(again, 'succeeded');

    // nocache builds again, with the same key (same image tag).
    const fresh = await h.submit(JOB('pip install numpy', '\n  nocache: true'));
    await h.until(fresh, 'building');
    expect(container(await podExists(`${base(fresh)}-build`)).args).toContain(`--destination=${destination}`);
    kanikoSucceeds(`${base(fresh)}-build`);
    server.setPodStatus(NS, (await podExists(`${base(fresh)}-master-0`)).metadata.name, kubelet.terminated(0));
    await h.until(fresh, 'succeeded');

    // Invalidation drops the entry: the next identical run builds again.
    const invalidated = (await (await http('DELETE', `/api/v1/scheduler/builds/${again}`)).json()) as { invalidated: boolean; image: string };
    expect(invalidated).toMatchObject({ invalidated: true, image: destination });
    expect(((await (await http('DELETE', `/api/v1/scheduler/builds/${again}`)).json()) as { invalidated: boolean }).invalidated).toBe(false);
    const rebuilt = await h.submit(JOB('pip install numpy'));
    await h.until(rebuilt, 'building');
    await podExists(`${base(rebuilt)}-build`);
    kanikoSucceeds(`${base(rebuilt)}-build`);
    server.setPodStatus(NS, (await podExists(`${base(rebuilt)}-master-0`)).metadata.name, kubelet.terminated(0));
    await h.until(rebuilt, 'succeeded');
    const listed = (await (await http('GET', '/api/v1/scheduler/builds?project=alice/vision')).json()) as { results: Array<{ image: string; runUuid: string }> };
    expect(listed.results).toEqual([expect.objectContaining({ image: destination, runUuid: rebuilt })]);
  });

  it('fails the run when the build fails, with the end of the kaniko log, and starts no run pod', async () => {
    const run = await h.submit(JOB('pip install nonexistent-package'));
    await h.until(run, 'building');
    const name = `${base(run)}-build`;
    await podExists(name);
    server.setPodStatus(NS, name, kubelet.running());
    server.appendLog(NS, name, 'ERROR: No matching distribution found for nonexistent-package');
    server.appendLog(NS, name, 'error building image: error building stage: failed to execute command: waiting for process to exit: exit status 1');
    server.setPodStatus(NS, name, kubelet.terminated(1));
    const failed = await h.until(run, 'failed');
    expect(failed.reason).toBe('BuildFailed');
    expect(failed.message).toBe(
      'the image build failed: exit code 1\nERROR: No matching distribution found for nonexistent-package\nerror building image: error building stage: failed to execute command: waiting for process to exit: exit status 1',
    );
    expect(h.history(run)).toEqual(['queued:Queued', 'building:Building', 'failed:BuildFailed']);
    expect(pod(`${base(run)}-master-0`)).toBeUndefined();
    await waitFor(() => !pod(name), { what: 'the failed build pod to be deleted' });
  });

  it('starts the run pod only with the run token: the run stays building while the API is silent, and fails when the API refuses', async () => {
    h.tokens = 'silent';
    const run = await h.submit(JOB('pip install scipy'));
    await h.until(run, 'building');
    kanikoSucceeds((await podExists(`${base(run)}-build`)).metadata.name);
    await waitFor(() => h.statuses(run).find((e) => e.reason === 'WaitingForApi'), { timeoutMs: 15_000, what: 'the run to wait for the API' });
    const waiting = h.statuses(run).find((e) => e.reason === 'WaitingForApi')!;
    expect(waiting.status).toBe('building');
    expect(waiting.message).toMatch(new RegExp(`^image ${REGISTRY}/alice-vision:[0-9a-f]{40} built; waiting for the API to issue the run's token \\(.+\\); tried again in 1 s$`));
    await new Promise((r) => setTimeout(r, 1500));
    expect(pod(`${base(run)}-master-0`)).toBeUndefined();
    expect(h.statuses(run).map((e) => e.status)).not.toContain('starting');

    h.tokens = 'answer';
    await podExists(`${base(run)}-master-0`);
    const secret = server.get(`core/${NS}/secrets`, `${base(run)}-token`) as { data?: Record<string, string> } | undefined;
    expect(Buffer.from(secret?.data?.['token'] ?? '', 'base64').toString()).toBe('run-token-000001');
    server.setPodStatus(NS, `${base(run)}-master-0`, kubelet.terminated(0));
    await h.until(run, 'succeeded');
    expect(h.history(run)).toEqual(['queued:Queued', 'building:Building', 'building:WaitingForApi', 'starting:Starting', 'succeeded:Succeeded']);

    h.tokens = 'refuse';
    const refused = await h.submit(JOB('pip install pandas'));
    await h.until(refused, 'building');
    kanikoSucceeds((await podExists(`${base(refused)}-build`)).metadata.name);
    const failed = await h.until(refused, 'failed');
    expect(failed).toMatchObject({ reason: 'TokenRefused', message: "not started: the API refused the run's token (the run is unknown or already ended)" });
    expect(h.history(refused)).toEqual(['queued:Queued', 'building:Building', 'failed:TokenRefused']);
    expect(pod(`${base(refused)}-master-0`)).toBeUndefined();
    await waitFor(() => !pod(`${base(refused)}-build`), { what: 'the build pod to be deleted' });
    h.tokens = 'answer';
  });

  it('ends a kind: build run when its image is pushed, without a run pod', async () => {
    const run = await h.submit('version: 1\nkind: build\nimage: python:3.12-slim\nbuild_steps: [pip install torch]\ncommit: 3f2a9c1\n');
    await h.until(run, 'building');
    kanikoSucceeds((await podExists(`${base(run)}-build`)).metadata.name);
    const done = await h.until(run, 'succeeded');
    expect(done).toMatchObject({ reason: 'Built' });
    expect(done.message).toMatch(new RegExp(`^image ${REGISTRY}/alice-vision:[0-9a-f]{40} built and pushed`));
    expect(pod(`${base(run)}-master-0`)).toBeUndefined();
    // The same build again: served from the cache at once.
    const again = await h.submit('version: 1\nkind: build\nimage: python:3.12-slim\nbuild_steps: [pip install torch]\ncommit: 3f2a9c1\n');
    expect(await h.until(again, 'succeeded')).toMatchObject({ reason: 'Cached' });
    expect(pod(`${base(again)}-build`)).toBeUndefined();
  });

  it('shares the image of a build without a commit when the build context holds no code (no code claim)', async () => {
    const spec = 'version: 1\nkind: build\nimage: python:3.12-slim\nbuild_steps: [pip install xgboost]\n';
    const run = await h.submit(spec);
    await h.until(run, 'building');
    kanikoSucceeds((await podExists(`${base(run)}-build`)).metadata.name);
    await h.until(run, 'succeeded');
    await waitFor(() => h.systemLines(run).some((l) => l.includes('(build key') && l.endsWith('no code in the build context)')), { what: 'the build line naming the code reference' });
    // Another run with the same section: the context would be the same empty folder, so the image is reused.
    const again = await h.submit(spec);
    expect(await h.until(again, 'succeeded')).toMatchObject({ reason: 'Cached' });
    expect(pod(`${base(again)}-build`)).toBeUndefined();
  });
});
