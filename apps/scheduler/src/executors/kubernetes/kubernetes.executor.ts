import { EventEmitter } from 'node:events';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionEntity } from '@myelin/persistence';
import type { BuildState, Executor, ExecutorCondition, LaunchedProcess, LaunchOptions, ProcessState, RunSecrets } from '../executor';
import type { BuildPlan } from '../../builds/build-plan';
import { BUILD_ANNOTATIONS, BUILD_ROLE, buildBuildObjects, buildPodName } from './build-objects';
import { type KubeConfig, type KubernetesClientModule, loadKubernetesClient, statusOf } from './kubernetes-client';
import { buildRunObjects, type KubernetesObjectsConfig, LABELS, MANAGED_BY, type RunObjects } from './kubernetes-objects';
import { observeRun, type PodView, PULL_ERRORS, type RunObservation, waitingReason } from './pod-status';
import { PodWatch, type PodWatchHealth } from './pod-watch';
import { PodLogs } from './pod-logs';
import { validateBuildObjects, validateRunObjects } from './validate-objects';

export interface KubernetesExecutorOptions {
  kubeConfig: KubeConfig;
  objects: KubernetesObjectsConfig;
  /** Local directory holding each run's copied logs (`<uuid>/logs/stdout.log`), read by the log shipper. */
  runsDir: string;
  /** How long ErrImagePull/ImagePullBackOff may last before the run fails. */
  imagePullGraceMs: number;
  /** Seconds given to pods to end after a stop (deleteOptions.gracePeriodSeconds). */
  stopGraceSeconds: number;
  watch?: { initialBackoffMs?: number; maxBackoffMs?: number; unhealthyAfterMs?: number };
  /** How long inspect() waits for a pod's log stream to end before fetching the rest once. */
  logDrainMs?: number;
  logger?: { log(message: string): void; warn(message: string): void };
}

interface RunRecord {
  attempt: number;
  kubeflow?: RunObjects['kubeflow'];
  observation?: RunObservation;
  /** Final observation, remembered once the run's objects are deleted. */
  final?: RunObservation;
  stopping?: boolean;
  /** The run ended but deleting its objects failed: try again at the next inspect(). */
  cleanupPending?: boolean;
  /** Set by launch(): until the watch shows the pods, no pod does not mean a lost run. */
  launchedAt?: number;
  /** The watch has shown a pod of this attempt: from then on, no pod means the run is lost. */
  seen?: boolean;
  /** The attempt is building its image (a kaniko pod): no run pod yet, so no run condition either. */
  building?: boolean;
}

/** Lines of the build's log quoted in the run's message when it fails. */
const BUILD_LOG_TAIL = 15;

const ROLE_PREFIX = (pod: PodView) => {
  const role = pod.metadata?.labels?.[LABELS.role] ?? 'master';
  const index = pod.metadata?.labels?.[LABELS.index] ?? '0';
  return role === 'master' ? '' : `[${role}.${index}] `;
};

/**
 * Runs each run as pods (one per replica, with headless Services for distributed runs) or as a
 * Kubeflow job, watches their pods, copies their logs to local files, and reports the run's
 * status with Kubernetes' reasons (see ExecutorCondition). Object generation is pure
 * (kubernetes-objects.ts) and validated against the official schemas before anything is sent.
 */
export class KubernetesExecutor implements Executor {
  readonly name = 'kubernetes';
  private readonly events = new EventEmitter();
  private readonly runs = new Map<string, RunRecord>();
  private readonly waitingSince = new Map<string, number>();
  private readonly watch: PodWatch;
  private readonly logs: PodLogs;
  private readonly ns: string;
  private timer?: NodeJS.Timeout;

  private constructor(
    private readonly k8s: KubernetesClientModule,
    private readonly options: KubernetesExecutorOptions,
  ) {
    this.ns = options.objects.namespace;
    const core = options.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const watcher = new k8s.Watch(options.kubeConfig);
    const log = new k8s.Log(options.kubeConfig);
    const labelSelector = `${LABELS.managedBy}=${MANAGED_BY}`;
    this.watch = new PodWatch(
      {
        list: async () => {
          const list = await core.listNamespacedPod({ namespace: this.ns, labelSelector });
          return { items: list.items as PodView[], resourceVersion: list.metadata?.resourceVersion ?? '' };
        },
        watch: (resourceVersion, onEvent, done) =>
          watcher.watch(
            `/api/v1/namespaces/${this.ns}/pods`,
            { labelSelector, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 },
            (type, object) => onEvent(type, object as Record<string, unknown>),
            done,
          ),
      },
      {
        initialBackoffMs: options.watch?.initialBackoffMs ?? 500,
        maxBackoffMs: options.watch?.maxBackoffMs ?? 30_000,
        unhealthyAfterMs: options.watch?.unhealthyAfterMs ?? 60_000,
        logger: options.logger,
      },
    );
    this.logs = new PodLogs((pod, container, sink, opts) => log.log(this.ns, pod, container, sink, { follow: opts.follow, timestamps: true, ...(opts.sinceTime ? { sinceTime: opts.sinceTime } : {}) }));
    this.watch.onEvent((type, pod) => this.onPod(type, pod));
    this.core = core;
    this.custom = options.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  }

  private readonly core: InstanceType<KubernetesClientModule['CoreV1Api']>;
  private readonly custom: InstanceType<KubernetesClientModule['CustomObjectsApi']>;

  static async create(options: KubernetesExecutorOptions): Promise<KubernetesExecutor> {
    const executor = new KubernetesExecutor(await loadKubernetesClient(), options);
    executor.watch.start();
    // Quiet pods send no events: look at running ones now and then (log streams that dropped).
    executor.timer = setInterval(() => executor.refreshLogs(), 2000);
    executor.timer.unref();
    return executor;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.watch.stop();
    await this.logs.close();
  }

  health(): PodWatchHealth {
    return this.watch.health();
  }

  /** A readiness check for the service's /health/ready (the pod watch is connected or recently was). */
  readinessCheck(): () => Promise<{ name: string; ok: boolean; detail?: string }> {
    return async () => ({ name: 'kubernetes-watch', ...this.watch.health() });
  }

  // ------------------------------------------------------------------ Executor

  async launch(execution: ExecutionEntity, secrets: RunSecrets | Promise<RunSecrets> = {}, options: LaunchOptions = {}): Promise<LaunchedProcess> {
    const objects = buildRunObjects(execution, this.options.objects, (await secrets).runToken, options.image ? { image: options.image } : {});
    validateRunObjects(objects);
    await this.deleteRunObjects(execution.runUuid, 0); // leftovers of an earlier attempt
    this.runs.set(execution.runUuid, { attempt: execution.attempt, kubeflow: objects.kubeflow, launchedAt: Date.now() });
    try {
      await this.ignoreConflict(() => this.core.createNamespacedSecret({ namespace: this.ns, body: objects.secret as never }));
      for (const service of objects.services) await this.ignoreConflict(() => this.core.createNamespacedService({ namespace: this.ns, body: service as never }));
      if (objects.kubeflow) {
        const kf = objects.kubeflow;
        await this.ignoreConflict(() => this.custom.createNamespacedCustomObject({ group: kf.group, version: kf.version, namespace: this.ns, plural: kf.plural, body: kf.body }));
      }
      for (const pod of objects.pods) await this.ignoreConflict(() => this.core.createNamespacedPod({ namespace: this.ns, body: pod as never }));
    } catch (error) {
      // A half-created run (quota exceeded, admission webhook, missing CRD) leaves nothing behind.
      await this.deleteRunObjects(execution.runUuid, 0).catch(() => undefined);
      this.runs.delete(execution.runUuid);
      throw error;
    }
    return { pid: 0, pidStartTime: objects.base, workdir: `kubernetes://${this.ns}/${objects.base}` };
  }

  /** Create the kaniko pod (and its Dockerfile ConfigMap) that builds and pushes the run's image. */
  async build(execution: ExecutionEntity, plan: BuildPlan): Promise<LaunchedProcess & { image: string }> {
    const objects = buildBuildObjects(execution, plan, this.options.objects);
    validateBuildObjects(objects);
    await this.deleteRunObjects(execution.runUuid, 0); // leftovers of an earlier attempt
    this.runs.set(execution.runUuid, { attempt: execution.attempt, launchedAt: Date.now(), building: true });
    try {
      if (objects.configMap) await this.ignoreConflict(() => this.core.createNamespacedConfigMap({ namespace: this.ns, body: objects.configMap as never }));
      await this.ignoreConflict(() => this.core.createNamespacedPod({ namespace: this.ns, body: objects.pod as never }));
    } catch (error) {
      await this.deleteRunObjects(execution.runUuid, 0).catch(() => undefined);
      this.runs.delete(execution.runUuid);
      throw error;
    }
    return { pid: 0, pidStartTime: buildPodName(execution), workdir: `kubernetes://${this.ns}/${buildPodName(execution)}`, image: objects.image };
  }

  /**
   * The build's state from its kaniko pod (found by its labels, so this works after a restart too):
   * pull errors and unschedulable pods are judged as for run pods (./pod-status.ts). When it ends,
   * its log is copied first, and a failure quotes the log's last lines.
   */
  async inspectBuild(execution: ExecutionEntity): Promise<BuildState> {
    const run = this.runs.get(execution.runUuid);
    if (!run || run.attempt !== execution.attempt) this.runs.set(execution.runUuid, { attempt: execution.attempt, building: true, stopping: Boolean(execution.stopRequestedAt) });
    const record = this.runs.get(execution.runUuid) as RunRecord;
    record.building = true;
    if (!(await this.watch.ready(2_000))) return { state: 'running' };
    const pod = this.buildPodOf(execution.runUuid, execution.attempt);
    if (!pod) {
      if (record.launchedAt !== undefined && Date.now() - record.launchedAt < 30_000) return { state: 'running' }; // not shown by the watch yet
      return { state: 'failed', reason: 'BuildLost', message: 'the build pod is gone (deleted outside Myelin, or its node was lost)' };
    }
    // Judged as a single-pod run whose master it is.
    const asMaster: PodView = { ...pod, metadata: { ...pod.metadata, labels: { ...pod.metadata?.labels, [LABELS.role]: 'master' } } };
    const observation = observeRun([asMaster], { now: Date.now(), imagePullGraceMs: this.options.imagePullGraceMs, waitingSince: (name) => this.waitingSince.get(name) ?? Date.now() });
    if (observation.state.state === 'running' || observation.state.state === 'unknown') {
      this.followLogs(pod);
      return { state: 'running' };
    }
    const name = pod.metadata?.name ?? '';
    await this.logs.collect(name, this.options.logDrainMs ?? 3000);
    this.logs.forget(name);
    const annotations = (pod.metadata as { annotations?: Record<string, string> } | undefined)?.annotations ?? {};
    if (observation.state.state === 'exited' && observation.state.exitCode === 0) {
      const image = annotations[BUILD_ANNOTATIONS.image] ?? '';
      const digest = /sha256:[0-9a-f]{64}/.exec(this.terminationMessage(pod))?.[0];
      return { state: 'succeeded', image, key: annotations[BUILD_ANNOTATIONS.key] ?? '', message: `image ${image} built and pushed${digest ? ` (${digest})` : ''}` };
    }
    const tail = await this.logTail(execution, `[${BUILD_ROLE}.0] `);
    return { state: 'failed', reason: 'BuildFailed', message: `the image build failed: ${observation.condition.message}${tail ? `\n${tail}` : ''}` };
  }

  async inspect(execution: ExecutionEntity): Promise<ProcessState> {
    const run = this.record(execution);
    if (run.final) {
      if (run.cleanupPending) await this.cleanup(execution.runUuid, run);
      return run.final.state;
    }
    if (!(await this.watch.ready(2_000))) {
      // No list yet (API server unreachable): knowing nothing is not the same as no pod.
      run.observation = { state: { state: 'running' }, condition: { status: 'unknown', reason: 'ApiUnreachable', message: `pod watch not synced: ${this.watch.health().detail}` } };
      return run.observation.state;
    }
    const pods = this.podsOf(execution.runUuid, execution.attempt);
    const observation = this.observe(pods, run);
    run.observation = observation;
    if (observation.state.state === 'running') {
      for (const pod of pods) this.followLogs(pod); // adopted after a restart: copy from where the last copy stopped
      return observation.state;
    }
    if (observation.state.state === 'unknown') return observation.state; // not ended: the scheduler decides (zombie window)
    // The run ended: its logs first, then its objects.
    await Promise.all(pods.map((pod) => this.logs.collect(pod.metadata?.name ?? '', this.options.logDrainMs ?? 3000)));
    run.final = run.stopping ? { ...observation, condition: { ...observation.condition, status: 'stopped', reason: 'Stopped' } } : observation;
    for (const pod of pods) this.logs.forget(pod.metadata?.name ?? '');
    await this.cleanup(execution.runUuid, run);
    return run.final.state;
  }

  /** Delete a finished run's objects; an API error is retried at the next inspect() instead of failing it. */
  private async cleanup(runUuid: string, run: RunRecord): Promise<void> {
    try {
      await this.deleteRunObjects(runUuid, 0);
      run.cleanupPending = false;
    } catch (error) {
      run.cleanupPending = true;
      this.options.logger?.warn(`run ${runUuid}: could not delete its Kubernetes objects yet (${error instanceof Error ? error.message : String(error)})`);
    }
  }

  condition(execution: ExecutionEntity): ExecutorCondition | null {
    const run = this.runs.get(execution.runUuid);
    if (run?.building && run.attempt === execution.attempt) return null; // the build's progress is inspectBuild()'s
    if (run?.final) return run.final.condition;
    if (!this.watch.isSynced) return run?.observation?.condition ?? null; // knowing nothing is not "no pod"
    const pods = this.podsOf(execution.runUuid, execution.attempt);
    if (!pods.length && !run) return null;
    return this.observe(pods, run).condition;
  }

  onCondition(listener: (runUuid: string, condition: ExecutorCondition) => void): void {
    this.events.on('condition', listener);
  }

  onExit(listener: (runUuid: string) => void): void {
    this.events.on('exit', listener);
  }

  /** Stop: collect what the pods wrote, then delete the run's objects (pods get the grace period). */
  async terminate(execution: ExecutionEntity): Promise<void> {
    const run = this.record(execution);
    run.stopping = true;
    const build = this.buildPodOf(execution.runUuid, execution.attempt);
    const pods = [...this.podsOf(execution.runUuid, execution.attempt), ...(build ? [build] : [])];
    await Promise.all(pods.map((pod) => this.logs.collect(pod.metadata?.name ?? '', 500)));
    await this.deleteRunObjects(execution.runUuid, this.options.stopGraceSeconds);
  }

  async kill(execution: ExecutionEntity): Promise<void> {
    this.record(execution).stopping = true;
    await this.deleteRunObjects(execution.runUuid, 0);
  }

  async purge(execution: ExecutionEntity): Promise<void> {
    await this.kill(execution);
    for (const pod of this.podsOf(execution.runUuid)) this.logs.forget(pod.metadata?.name ?? '');
    this.runs.delete(execution.runUuid);
    await rm(join(this.options.runsDir, execution.runUuid), { recursive: true, force: true });
  }

  /** After the TTL: the local copy of a finished run's logs (already shipped to tracking). */
  async cleanWorkdir(execution: Pick<ExecutionEntity, 'runUuid' | 'workdir'>): Promise<void> {
    await rm(join(this.options.runsDir, execution.runUuid, 'logs'), { recursive: true, force: true });
  }

  logFiles(execution: ExecutionEntity): { stdout: string; stderr: string } {
    const dir = join(this.options.runsDir, execution.runUuid, 'logs');
    return { stdout: join(dir, 'stdout.log'), stderr: join(dir, 'stderr.log') };
  }

  // ------------------------------------------------------------------ internals

  private record(execution: ExecutionEntity): RunRecord {
    let run = this.runs.get(execution.runUuid);
    if (!run || run.attempt !== execution.attempt) {
      // First sight of the run in this process (a restart): what the execution row tells.
      run = { attempt: execution.attempt, stopping: Boolean(execution.stopRequestedAt), kubeflow: this.kubeflowOf(execution) };
      this.runs.set(execution.runUuid, run);
    }
    return run;
  }

  /** The Kubeflow object a run's spec makes, if any (to find and delete it after a restart). */
  private kubeflowOf(execution: ExecutionEntity): RunObjects['kubeflow'] {
    try {
      return buildRunObjects(execution, this.options.objects).kubeflow;
    } catch {
      return undefined;
    }
  }

  /** The run's pods (not its build pod). */
  private podsOf(runUuid: string, attempt?: number): PodView[] {
    return [...this.watch.pods.values()].filter(
      (pod) =>
        pod.metadata?.labels?.[LABELS.run] === runUuid &&
        pod.metadata?.labels?.[LABELS.role] !== BUILD_ROLE &&
        (attempt === undefined || pod.metadata?.labels?.[LABELS.attempt] === String(attempt)),
    );
  }

  private buildPodOf(runUuid: string, attempt: number): PodView | undefined {
    return [...this.watch.pods.values()].find(
      (pod) => pod.metadata?.labels?.[LABELS.run] === runUuid && pod.metadata?.labels?.[LABELS.role] === BUILD_ROLE && pod.metadata?.labels?.[LABELS.attempt] === String(attempt),
    );
  }

  private terminationMessage(pod: PodView): string {
    return pod.status?.containerStatuses?.find((c) => c.state?.terminated)?.state?.terminated?.message ?? '';
  }

  /** The last lines of the run's copied log that carry `prefix` (the build's lines), without it. */
  private async logTail(execution: ExecutionEntity, prefix: string): Promise<string> {
    const text = await readFile(this.logFiles(execution).stdout, 'utf8').catch(() => '');
    const lines = text.split('\n').filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
    return lines.slice(-BUILD_LOG_TAIL).join('\n');
  }

  private observe(pods: PodView[], run: RunRecord | undefined): RunObservation {
    // Just created (the watch has not shown the pods yet), or a Kubeflow job whose operator has
    // not created them yet: waiting, not lost.
    const fresh = run?.launchedAt !== undefined && !run.seen && Date.now() - run.launchedAt < 30_000;
    if (!pods.length && !run?.stopping && (fresh || (run?.kubeflow && !run.seen))) {
      return { state: { state: 'running' }, condition: { status: 'scheduled', reason: 'Pending', message: run?.kubeflow ? `waiting for the ${run.kubeflow.kind} operator to create the pods` : 'pods created' } };
    }
    // Never seen by this scheduler (adopted after a restart, or the pods never showed): no pod is not
    // proof the run is gone. The scheduler waits for a heartbeat up to MYELIN_ZOMBIE_SECONDS.
    if (!pods.length && run && !run.seen && !run.stopping) {
      const message = 'no pod of the run can be found (never seen by this scheduler: deleted while it was down, or not created yet)';
      return { state: { state: 'unknown', message }, condition: { status: 'unknown', reason: 'PodNotFound', message } };
    }
    return observeRun(pods, {
      now: Date.now(),
      imagePullGraceMs: this.options.imagePullGraceMs,
      waitingSince: (name) => this.waitingSince.get(name) ?? Date.now(),
    });
  }

  private onPod(type: string, pod: PodView): void {
    const name = pod.metadata?.name ?? '';
    const runUuid = pod.metadata?.labels?.[LABELS.run];
    if (!runUuid) return;
    const waiting = waitingReason(pod);
    if (waiting && PULL_ERRORS.has(waiting.reason)) {
      if (!this.waitingSince.has(name)) {
        this.waitingSince.set(name, Date.now());
        // Look again when the grace period is over, even if the pod sends nothing more.
        setTimeout(() => this.recheck(runUuid), this.options.imagePullGraceMs + 10).unref();
      }
    } else {
      this.waitingSince.delete(name);
    }
    if (type === 'DELETED') this.waitingSince.delete(name);
    const run = this.runs.get(runUuid);
    if (run && pod.metadata?.labels?.[LABELS.attempt] === String(run.attempt)) run.seen = true;
    if (type !== 'DELETED') this.followLogs(pod);
    this.recheck(runUuid);
  }

  private recheck(runUuid: string): void {
    const run = this.runs.get(runUuid);
    if (run?.building) {
      // A build reports no run condition; its end wakes the scheduler, which asks inspectBuild().
      const pod = this.buildPodOf(runUuid, run.attempt);
      if (!pod || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed' || waitingReason(pod)) this.events.emit('exit', runUuid);
      return;
    }
    const attempt = run?.attempt ?? Number(this.podsOf(runUuid)[0]?.metadata?.labels?.[LABELS.attempt] ?? 0);
    if (run?.final) return;
    const observation = this.observe(this.podsOf(runUuid, attempt), run);
    const before = run?.observation?.condition;
    if (run) run.observation = observation;
    if (observation.state.state === 'exited' || observation.state.state === 'vanished') {
      this.events.emit('exit', runUuid);
    } else if (!before || before.status !== observation.condition.status || before.reason !== observation.condition.reason) {
      this.events.emit('condition', runUuid, observation.condition);
    }
  }

  private followLogs(pod: PodView): void {
    const started = (pod.status?.containerStatuses ?? []).some((c) => c.state?.running || c.state?.terminated);
    const runUuid = pod.metadata?.labels?.[LABELS.run];
    const name = pod.metadata?.name;
    // Only runs this scheduler launched or inspected: other installations may share the namespace.
    if (!runUuid || !this.runs.has(runUuid)) return;
    if (!started || !name || pod.metadata?.deletionTimestamp && !pod.status?.containerStatuses?.length) return;
    const container = (pod.status?.containerStatuses ?? [])[0]?.name ?? 'myelin';
    this.logs.follow(name, container, this.logFiles({ runUuid } as ExecutionEntity).stdout, ROLE_PREFIX(pod));
  }

  private refreshLogs(): void {
    for (const pod of this.watch.pods.values()) if (pod.status?.phase === 'Running') this.followLogs(pod);
  }

  private async ignoreConflict(create: () => Promise<unknown>): Promise<void> {
    try {
      await create();
    } catch (error) {
      if (statusOf(error) !== 409) throw error; // 409: created by an earlier try of the same launch
    }
  }

  private async ignoreMissing(remove: () => Promise<unknown>): Promise<void> {
    try {
      await remove();
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  /** Delete every object of a run (all attempts), found by its labels. */
  private async deleteRunObjects(runUuid: string, gracePeriodSeconds: number): Promise<void> {
    const labelSelector = `${LABELS.managedBy}=${MANAGED_BY},${LABELS.run}=${runUuid}`;
    const ns = this.ns;
    const kubeflow = this.runs.get(runUuid)?.kubeflow;
    if (kubeflow) {
      const list = (await this.custom.listNamespacedCustomObject({ group: kubeflow.group, version: kubeflow.version, namespace: ns, plural: kubeflow.plural, labelSelector })) as { items?: Array<{ metadata?: { name?: string } }> };
      for (const item of list.items ?? []) {
        const name = item.metadata?.name ?? '';
        await this.ignoreMissing(() => this.custom.deleteNamespacedCustomObject({ group: kubeflow.group, version: kubeflow.version, namespace: ns, plural: kubeflow.plural, name, propagationPolicy: 'Background' }));
      }
    }
    for (const pod of (await this.core.listNamespacedPod({ namespace: ns, labelSelector })).items) {
      const name = pod.metadata?.name ?? '';
      await this.ignoreMissing(() => this.core.deleteNamespacedPod({ namespace: ns, name, gracePeriodSeconds }));
    }
    for (const service of (await this.core.listNamespacedService({ namespace: ns, labelSelector })).items) {
      await this.ignoreMissing(() => this.core.deleteNamespacedService({ namespace: ns, name: service.metadata?.name ?? '' }));
    }
    for (const secret of (await this.core.listNamespacedSecret({ namespace: ns, labelSelector })).items) {
      await this.ignoreMissing(() => this.core.deleteNamespacedSecret({ namespace: ns, name: secret.metadata?.name ?? '' }));
    }
    for (const configMap of (await this.core.listNamespacedConfigMap({ namespace: ns, labelSelector })).items) {
      await this.ignoreMissing(() => this.core.deleteNamespacedConfigMap({ namespace: ns, name: configMap.metadata?.name ?? '' }));
    }
  }
}
