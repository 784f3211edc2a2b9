import type { ExecutionEntity } from '@myelin/persistence';
import { buildRunEnvironment } from '../local/run-environment';

/**
 * Pure translation of a run (its execution row and compiled polyaxonfile) into Kubernetes
 * objects: no client, no I/O. The executor creates what this returns; the tests validate every
 * object against the official schemas (kubernetes-models).
 */

export type K8sObject = Record<string, unknown>;
type Json = unknown;

export interface KubernetesObjectsConfig {
  namespace: string;
  /** Image used when the polyaxonfile names none (`build.image`). */
  defaultImage: string;
  /** Extended resource that counts GPUs (`nvidia.com/gpu`, `amd.com/gpu`, ...). */
  gpuResourceKey: string;
  /** Extended resource that counts TPUs. */
  tpuResourceKey: string;
  /** API URL given to jobs (MYELIN_HOST, POLYAXON_API_HOST...). */
  publicUrl: string;
  /** Tracking URL given to jobs when tracking is not behind the public URL. */
  trackingUrl?: string;
  /** PersistentVolumeClaims; an unset one becomes an emptyDir (outputs then die with the pod). */
  outputsClaim?: string;
  dataClaim?: string;
  codeClaim?: string;
  logsClaim?: string;
  /** Service account when the polyaxonfile names none. */
  defaultServiceAccount?: string;
  /** Image pull secrets added to every pod. */
  imagePullSecrets?: string[];
  /** Builds (./build-objects.ts): the kaniko executor image. */
  kanikoImage?: string;
  /** Builds: where images are pushed (`registry.example.com/myelin`); builds fail without it. */
  registry?: string;
  /** Builds: a `kubernetes.io/dockerconfigjson` Secret with the registry's push credentials. */
  registrySecret?: string;
  /** Builds: push over plain HTTP / without verifying TLS (an in-cluster registry). */
  registryInsecure?: boolean;
}

/** Where things are inside a job's container. */
export const MOUNTS = { code: '/myelin/code', outputs: '/myelin/outputs', data: '/data', logs: '/myelin/logs', workdir: '/myelin' } as const;

export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  run: 'myelin.dev/run-uuid',
  attempt: 'myelin.dev/attempt',
  role: 'myelin.dev/role',
  index: 'myelin.dev/replica-index',
} as const;
export const MANAGED_BY = 'myelin';
export const TOKEN_KEY = 'token';
/** The container's name: the Kubeflow operators require these for TFJob and PyTorchJob. */
const CONTAINER = { default: 'myelin', tensorflow: 'tensorflow', pytorch: 'pytorch' } as const;

export type Role = 'master' | 'worker' | 'ps';
export type Framework = 'tensorflow' | 'pytorch' | 'mxnet' | 'horovod';

/** Ports the framework's processes listen on (one per replica, behind the replica's headless Service). */
export const FRAMEWORK_PORTS: Record<Framework, number> = { tensorflow: 2222, pytorch: 23456, mxnet: 9091, horovod: 22 };

export interface Replica {
  role: Role;
  index: number;
  /** Pod and Service name (DNS-1035 label). */
  name: string;
  /** Host name other replicas reach it by. */
  host: string;
  env: PodEnv;
}

export interface KubeflowObject {
  apiVersion: string;
  kind: 'TFJob' | 'PyTorchJob' | 'MPIJob';
  group: string;
  version: string;
  plural: string;
  body: K8sObject;
}

export interface RunObjects {
  /** Object name prefix shared by everything of this run attempt. */
  base: string;
  /** Label selector matching every object of the run (all attempts). */
  selector: string;
  secret: K8sObject;
  pods: K8sObject[];
  services: K8sObject[];
  kubeflow?: KubeflowObject;
  replicas: Replica[];
  /** The pod (or the Kubeflow replica) whose end decides the run's end. */
  masterName: string;
  framework?: Framework;
}

export class KubernetesSpecError extends Error {}

// ------------------------------------------------------------------ reading the polyaxonfile

interface Requirement {
  requests?: number;
  limits?: number;
}
interface PodEnv {
  resources?: { cpu?: Requirement; memory?: Requirement; gpu?: Requirement; tpu?: Requirement };
  node_selector?: Record<string, string>;
  tolerations?: Json[];
  affinity?: Json;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  service_account?: string;
  image_pull_secrets?: string[];
  secret_refs?: string[];
  config_map_refs?: string[];
}
interface ReplicasSection {
  n_workers?: number;
  n_ps?: number;
  default_worker?: PodEnv;
  default_ps?: PodEnv;
  worker?: Array<PodEnv & { index: number }>;
  ps?: Array<PodEnv & { index: number }>;
}
interface SpecView {
  backend?: string;
  framework?: string;
  environment?: PodEnv & { replicas?: ReplicasSection };
  build?: { image?: string };
}

/** The part of the compiled spec that matters here: the rendered file when there is one (templates filled), else the raw one. */
export function specView(spec: Record<string, unknown>): SpecView {
  const file = (spec['rendered'] ?? spec['raw'] ?? spec) as SpecView;
  return file && typeof file === 'object' ? file : {};
}

const POD_FIELDS = ['resources', 'node_selector', 'tolerations', 'affinity', 'annotations', 'labels', 'service_account', 'image_pull_secrets', 'secret_refs', 'config_map_refs'] as const;

/** A replica's pod settings: its own entry, else the role's default, else the top-level environment (field by field). */
function replicaEnv(top: PodEnv, role: Role, index: number, replicas: ReplicasSection | undefined): PodEnv {
  if (role === 'master' || !replicas) return top;
  const own = (role === 'worker' ? replicas.worker : replicas.ps)?.find((r) => r.index === index);
  const dflt = role === 'worker' ? replicas.default_worker : replicas.default_ps;
  const out: PodEnv = {};
  for (const field of POD_FIELDS) {
    const value = own?.[field] ?? dflt?.[field] ?? top[field];
    if (value !== undefined) (out as Record<string, unknown>)[field] = value;
  }
  return out;
}

function frameworkOf(view: SpecView): Framework | undefined {
  const f = view.framework?.toLowerCase();
  if (view.backend === 'mpi') return 'horovod'; // MPI hosts, whatever library the code uses
  if (f === 'tensorflow' || f === 'pytorch' || f === 'mxnet' || f === 'horovod') return f;
  return undefined;
}

// ------------------------------------------------------------------ quantities

/** Cores as a Kubernetes quantity: whole cores stay whole, fractions become millicores. */
export function cpuQuantity(cores: number): string {
  return Number.isInteger(cores) ? String(cores) : `${Math.round(cores * 1000)}m`;
}
/** Polyaxon's memory unit is the MB, read as MiB as Polyaxon v0.x did. */
export function memoryQuantity(mb: number): string {
  return Number.isInteger(mb) ? `${mb}Mi` : `${Math.round(mb * 1024)}Ki`;
}

export function resourceRequirements(resources: PodEnv['resources'], config: Pick<KubernetesObjectsConfig, 'gpuResourceKey' | 'tpuResourceKey'>): K8sObject | undefined {
  if (!resources) return undefined;
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  const put = (req: Requirement | undefined, key: string, fmt: (n: number) => string) => {
    if (req?.requests !== undefined) requests[key] = fmt(req.requests);
    if (req?.limits !== undefined) limits[key] = fmt(req.limits);
  };
  put(resources.cpu, 'cpu', cpuQuantity);
  put(resources.memory, 'memory', memoryQuantity);
  // Extended resources (GPUs, TPUs) cannot be overcommitted: Kubernetes wants them in limits,
  // and requests equal to limits when both are given. One count serves both.
  for (const [req, key] of [
    [resources.gpu, config.gpuResourceKey],
    [resources.tpu, config.tpuResourceKey],
  ] as const) {
    const count = req?.limits ?? req?.requests;
    if (count === undefined || count === 0) continue;
    limits[key] = String(Math.ceil(count));
    requests[key] = String(Math.ceil(count));
  }
  const out: K8sObject = {};
  if (Object.keys(requests).length) out['requests'] = requests;
  if (Object.keys(limits).length) out['limits'] = limits;
  return Object.keys(out).length ? out : undefined;
}

// ------------------------------------------------------------------ names and labels

/** `myelin-<uuid>-<attempt>`: unique per attempt, so a retry never meets its predecessor's objects. */
export function baseName(execution: Pick<ExecutionEntity, 'runUuid' | 'attempt'>): string {
  return `myelin-${execution.runUuid.toLowerCase()}-${execution.attempt}`;
}

export function runSelector(runUuid: string): string {
  return `${LABELS.managedBy}=${MANAGED_BY},${LABELS.run}=${runUuid}`;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function userLabels(labels: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) {
    const value = String(v);
    if (value.length > 63 || !LABEL_VALUE.test(value)) throw new KubernetesSpecError(`label ${k}: "${value}" is not a valid Kubernetes label value`);
    out[k] = value;
  }
  return out;
}

// ------------------------------------------------------------------ environment

type EnvVar = { name: string; value?: string; valueFrom?: K8sObject };

/** The framework's variables for one replica (TF_CONFIG, MASTER_ADDR/RANK, DMLC_*, Horovod hosts). */
export function frameworkEnv(framework: Framework | undefined, replica: Replica, all: Replica[], slots: number): Record<string, string> {
  if (!framework) return {};
  const port = FRAMEWORK_PORTS[framework];
  const hosts = (role: Role) => all.filter((r) => r.role === role).map((r) => `${r.host}:${port}`);
  const master = all.find((r) => r.role === 'master') as Replica;
  const workers = all.filter((r) => r.role === 'worker').length;
  const ps = all.filter((r) => r.role === 'ps').length;
  switch (framework) {
    case 'tensorflow': {
      const cluster: Record<string, string[]> = { master: hosts('master') };
      if (workers) cluster['worker'] = hosts('worker');
      if (ps) cluster['ps'] = hosts('ps');
      return { TF_CONFIG: JSON.stringify({ cluster, task: { type: replica.role, index: replica.index }, environment: 'cloud' }) };
    }
    case 'pytorch':
      return {
        MASTER_ADDR: master.host,
        MASTER_PORT: String(port),
        WORLD_SIZE: String(1 + workers),
        RANK: String(replica.role === 'master' ? 0 : replica.index + 1),
      };
    case 'mxnet':
      return {
        DMLC_ROLE: replica.role === 'master' ? 'scheduler' : replica.role === 'ps' ? 'server' : 'worker',
        DMLC_PS_ROOT_URI: master.host,
        DMLC_PS_ROOT_PORT: String(port),
        DMLC_NUM_SERVER: String(ps),
        DMLC_NUM_WORKER: String(workers),
        ...(replica.role === 'worker' || replica.role === 'ps' ? { DMLC_TASK_ID: String(replica.index) } : {}),
      };
    case 'horovod': {
      const list = all.filter((r) => r.role !== 'ps').map((r) => `${r.host}:${slots}`);
      return {
        HOROVOD_HOSTS: list.join(','),
        HOROVOD_NUM_PROC: String(list.length * slots),
        MYELIN_MPI_HOSTS: list.join(','),
        MYELIN_MPI_HOSTFILE_CONTENT: all.filter((r) => r.role !== 'ps').map((r) => `${r.host} slots=${slots}`).join('\n'),
      };
    }
  }
}

function containerEnv(
  execution: ExecutionEntity,
  config: KubernetesObjectsConfig,
  replica: Replica,
  replicas: Replica[],
  framework: Framework | undefined,
  secretName: string,
  slots: number,
  withFrameworkEnv: boolean,
): EnvVar[] {
  // The same variables as a local run, without the host's environment and without the token
  // (which arrives below as a reference to the run's Secret, never in the pod spec).
  const base = buildRunEnvironment({}, execution, { workdir: MOUNTS.workdir, outputs: MOUNTS.outputs, code: MOUNTS.code }, config.publicUrl);
  const cluster: Record<string, string[]> = {};
  for (const r of replicas) (cluster[r.role] ??= []).push(r.host);
  const env: Record<string, string> = {
    ...base,
    POLYAXON_IN_CLUSTER: 'true',
    POLYAXON_TASK_INFO: JSON.stringify({ type: replica.role, index: replica.index }),
    POLYAXON_CLUSTER: JSON.stringify(cluster),
    POLYAXON_RUN_DATA_PATHS: JSON.stringify(config.dataClaim ? { data: MOUNTS.data } : {}),
    MYELIN_LOGS_PATH: MOUNTS.logs,
    MYELIN_REPLICA: `${replica.role}.${replica.index}`,
    // Without an outputs claim the outputs folder is an emptyDir that dies with the pod: the
    // tracking client then uploads what the job logs as outputs (artifacts, outputs.json).
    ...(config.outputsClaim ? {} : { MYELIN_OUTPUTS_EPHEMERAL: 'true' }),
    ...(config.trackingUrl ? { MYELIN_TRACKING_HOST: config.trackingUrl } : {}),
    ...(withFrameworkEnv ? frameworkEnv(framework, replica, replicas, slots) : {}),
  };
  const out: EnvVar[] = Object.entries(env).map(([name, value]) => ({ name, value }));
  for (const name of ['MYELIN_TOKEN', 'POLYAXON_SECRET_USER_TOKEN']) {
    out.push({ name, valueFrom: { secretKeyRef: { name: secretName, key: TOKEN_KEY, optional: true } } });
  }
  return out;
}

// ------------------------------------------------------------------ pods and services

/** Options of one run's objects beyond its spec. */
export interface RunObjectsOptions {
  /** An image built for the run (./build-objects.ts): used instead of `build.image`; it carries the code, so no code volume hides it. */
  image?: string;
}

function volumes(config: KubernetesObjectsConfig, execution: ExecutionEntity, withCode = true): { volumes: K8sObject[]; mounts: K8sObject[] } {
  const outputsOwner = execution.outputsOf ?? execution.runUuid;
  const entries: Array<{ name: string; claim?: string; path: string; subPath?: string; readOnly?: boolean }> = [
    ...(withCode ? [{ name: 'code', claim: config.codeClaim, path: MOUNTS.code, subPath: `${execution.runUuid}/code` }] : []),
    { name: 'outputs', claim: config.outputsClaim, path: MOUNTS.outputs, subPath: `${outputsOwner}/outputs` },
    { name: 'logs', claim: config.logsClaim, path: MOUNTS.logs, subPath: `${execution.runUuid}/logs` },
  ];
  if (config.dataClaim) entries.push({ name: 'data', claim: config.dataClaim, path: MOUNTS.data, readOnly: true });
  return {
    volumes: entries.map((e) => (e.claim ? { name: e.name, persistentVolumeClaim: { claimName: e.claim, ...(e.readOnly ? { readOnly: true } : {}) } } : { name: e.name, emptyDir: {} })),
    mounts: entries.map((e) => ({
      name: e.name,
      mountPath: e.path,
      ...(e.claim && e.subPath ? { subPath: e.subPath } : {}),
      ...(e.readOnly ? { readOnly: true } : {}),
    })),
  };
}

function podTemplate(
  execution: ExecutionEntity,
  config: KubernetesObjectsConfig,
  view: SpecView,
  replica: Replica,
  replicas: Replica[],
  framework: Framework | undefined,
  secretName: string,
  opts: { containerName: string; frameworkEnv: boolean; command?: string[] | null; builtImage?: string },
): { metadata: K8sObject; spec: K8sObject } {
  const env = replica.env;
  const labels = {
    ...userLabels(env.labels),
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.run]: execution.runUuid,
    [LABELS.attempt]: String(execution.attempt),
    [LABELS.role]: replica.role,
    [LABELS.index]: String(replica.index),
  };
  const annotations = { ...(env.annotations ?? {}), 'myelin.dev/project': execution.project, 'myelin.dev/run-number': String(execution.number) };
  const gpus = env.resources?.gpu?.limits ?? env.resources?.gpu?.requests ?? 0;
  const { volumes: vols, mounts } = volumes(config, execution, !opts.builtImage);
  const envFrom = [
    ...(env.secret_refs ?? []).map((name) => ({ secretRef: { name } })),
    ...(env.config_map_refs ?? []).map((name) => ({ configMapRef: { name } })),
  ];
  const resources = resourceRequirements(env.resources, config);
  const pullSecrets = [...new Set([...(config.imagePullSecrets ?? []), ...(env.image_pull_secrets ?? [])])];
  const serviceAccount = env.service_account ?? config.defaultServiceAccount;
  const container: K8sObject = {
    name: opts.containerName,
    image: opts.builtImage ?? view.build?.image ?? config.defaultImage,
    imagePullPolicy: 'IfNotPresent',
    ...(opts.command === null ? {} : { command: opts.command ?? ['/bin/sh', '-c', execution.cmd] }),
    workingDir: MOUNTS.code,
    env: containerEnv(execution, config, replica, replicas, framework, secretName, Math.max(1, Math.ceil(gpus)), opts.frameworkEnv),
    ...(envFrom.length ? { envFrom } : {}),
    ...(resources ? { resources } : {}),
    volumeMounts: mounts,
    ...(framework ? { ports: [{ name: 'framework', containerPort: FRAMEWORK_PORTS[framework], protocol: 'TCP' }] } : {}),
  };
  const spec: K8sObject = {
    restartPolicy: 'Never',
    containers: [container],
    volumes: vols,
    ...(env.node_selector ? { nodeSelector: Object.fromEntries(Object.entries(env.node_selector).map(([k, v]) => [k, String(v)])) } : {}),
    ...(env.tolerations?.length ? { tolerations: env.tolerations } : {}),
    ...(env.affinity ? { affinity: env.affinity } : {}),
    ...(serviceAccount ? { serviceAccountName: serviceAccount } : {}),
    ...(pullSecrets.length ? { imagePullSecrets: pullSecrets.map((name) => ({ name })) } : {}),
  };
  return { metadata: { labels, annotations }, spec };
}

function buildReplicas(execution: ExecutionEntity, view: SpecView, framework: Framework | undefined, namespace: string): Replica[] {
  const base = baseName(execution);
  const top = view.environment ?? {};
  const section = framework ? view.environment?.replicas : undefined;
  const make = (role: Role, index: number): Replica => {
    const name = `${base}-${role}-${index}`;
    if (name.length > 63) throw new KubernetesSpecError(`object name ${name} is longer than 63 characters`);
    return { role, index, name, host: `${name}.${namespace}.svc`, env: replicaEnv(top, role, index, section) };
  };
  const out = [make('master', 0)];
  if (section) {
    for (let i = 0; i < (section.n_workers ?? 0); i++) out.push(make('worker', i));
    if (framework === 'tensorflow' || framework === 'mxnet') for (let i = 0; i < (section.n_ps ?? 0); i++) out.push(make('ps', i));
  }
  return out;
}

// ------------------------------------------------------------------ kubeflow

const KUBEFLOW: Record<'tensorflow' | 'pytorch' | 'horovod', { kind: KubeflowObject['kind']; version: string; plural: string; specKey: string; roles: Record<Role, string> }> = {
  tensorflow: { kind: 'TFJob', version: 'v1', plural: 'tfjobs', specKey: 'tfReplicaSpecs', roles: { master: 'Chief', worker: 'Worker', ps: 'PS' } },
  pytorch: { kind: 'PyTorchJob', version: 'v1', plural: 'pytorchjobs', specKey: 'pytorchReplicaSpecs', roles: { master: 'Master', worker: 'Worker', ps: 'PS' } },
  horovod: { kind: 'MPIJob', version: 'v2beta1', plural: 'mpijobs', specKey: 'mpiReplicaSpecs', roles: { master: 'Launcher', worker: 'Worker', ps: 'PS' } },
};

function kubeflowObject(
  execution: ExecutionEntity,
  config: KubernetesObjectsConfig,
  view: SpecView,
  framework: Framework | undefined,
  replicas: Replica[],
  secretName: string,
  labels: Record<string, string>,
  builtImage?: string,
): KubeflowObject {
  if (!framework || framework === 'mxnet') {
    throw new KubernetesSpecError(`backend: kubeflow supports the tensorflow (TFJob), pytorch (PyTorchJob) and horovod (MPIJob) frameworks, not ${framework ?? 'none'}`);
  }
  const kf = KUBEFLOW[framework];
  const containerName = framework === 'tensorflow' ? CONTAINER.tensorflow : framework === 'pytorch' ? CONTAINER.pytorch : CONTAINER.default;
  const replicaSpecs: Record<string, K8sObject> = {};
  for (const role of ['master', 'worker', 'ps'] as const) {
    const members = replicas.filter((r) => r.role === role);
    if (!members.length) continue;
    // One template per role (the operators' model): the first replica's settings stand for all.
    // MPIJob workers run the image's own entrypoint (sshd); the launcher runs the command.
    const template = podTemplate(execution, config, view, members[0] as Replica, replicas, framework, secretName, {
      containerName,
      frameworkEnv: false, // the operator writes TF_CONFIG / MASTER_ADDR / the MPI hostfile itself
      command: framework === 'horovod' && role === 'worker' ? null : undefined,
      builtImage,
    });
    replicaSpecs[kf.roles[role]] = { replicas: members.length, restartPolicy: 'Never', template };
  }
  const spec: K8sObject = { runPolicy: { cleanPodPolicy: 'None', backoffLimit: 0 }, [kf.specKey]: replicaSpecs };
  if (framework === 'horovod') {
    const gpus = replicas.find((r) => r.role === 'worker')?.env.resources?.gpu;
    spec['slotsPerWorker'] = Math.max(1, Math.ceil(gpus?.limits ?? gpus?.requests ?? 1));
  }
  return {
    apiVersion: `kubeflow.org/${kf.version}`,
    kind: kf.kind,
    group: 'kubeflow.org',
    version: kf.version,
    plural: kf.plural,
    body: {
      apiVersion: `kubeflow.org/${kf.version}`,
      kind: kf.kind,
      metadata: { name: baseName(execution), namespace: config.namespace, labels },
      spec,
    },
  };
}

// ------------------------------------------------------------------ the whole run

/** Every object of one attempt of a run. */
export function buildRunObjects(execution: ExecutionEntity, config: KubernetesObjectsConfig, runToken?: string, options: RunObjectsOptions = {}): RunObjects {
  const view = specView(execution.spec ?? {});
  const hasReplicas = view.environment?.replicas !== undefined;
  const framework = hasReplicas || view.backend === 'kubeflow' || view.backend === 'mpi' ? frameworkOf(view) : undefined;
  if (hasReplicas && !framework) {
    throw new KubernetesSpecError('environment.replicas needs a framework (tensorflow, pytorch, mxnet, horovod) or backend: mpi');
  }
  const base = baseName(execution);
  const replicas = buildReplicas(execution, view, framework, config.namespace);
  const runLabels = { [LABELS.managedBy]: MANAGED_BY, [LABELS.run]: execution.runUuid, [LABELS.attempt]: String(execution.attempt) };
  const secretName = `${base}-token`;
  const secret: K8sObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: secretName, namespace: config.namespace, labels: runLabels },
    type: 'Opaque',
    // stringData keeps the token out of logs of the generated pods; it is the only place it lives.
    stringData: runToken ? { [TOKEN_KEY]: runToken } : {},
  };
  const selector = runSelector(execution.runUuid);
  const kubeflowBackend = view.backend === 'kubeflow' || view.backend === 'mpi';
  if (kubeflowBackend && framework) {
    const kubeflow = kubeflowObject(execution, config, view, framework, replicas, secretName, runLabels, options.image);
    const masterRole = KUBEFLOW[framework as 'tensorflow' | 'pytorch' | 'horovod'].roles.master.toLowerCase();
    return { base, selector, secret, pods: [], services: [], kubeflow, replicas, masterName: `${base}-${masterRole}-0`, framework };
  }
  const pods = replicas.map((replica) => {
    const template = podTemplate(execution, config, view, replica, replicas, framework, secretName, {
      containerName: CONTAINER.default,
      frameworkEnv: true,
      builtImage: options.image,
    });
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: replica.name, namespace: config.namespace, ...template.metadata },
      spec: { ...template.spec, ...(framework ? { hostname: replica.name } : {}) },
    };
  });
  const services = framework
    ? replicas.map((replica) => ({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: replica.name, namespace: config.namespace, labels: { ...runLabels, [LABELS.role]: replica.role, [LABELS.index]: String(replica.index) } },
        spec: {
          clusterIP: 'None',
          // Reachable before the pod is ready: the framework's processes find each other while starting.
          publishNotReadyAddresses: true,
          selector: { [LABELS.run]: execution.runUuid, [LABELS.attempt]: String(execution.attempt), [LABELS.role]: replica.role, [LABELS.index]: String(replica.index) },
          ports: [{ name: 'framework', port: FRAMEWORK_PORTS[framework], targetPort: FRAMEWORK_PORTS[framework], protocol: 'TCP' }],
        },
      }))
    : [];
  return { base, selector, secret, pods, services, replicas, masterName: (replicas[0] as Replica).name, framework };
}
