import { buildRunObjects, cpuQuantity, K8sObject, KubernetesSpecError, memoryQuantity, resourceRequirements } from './kubernetes-objects';
import { validateRunObjects } from './validate-objects';
import { distributed, executionFor, FULL_EXPERIMENT, objectsConfig } from './testing/fixtures';

type Env = Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
const container = (pod: K8sObject) => ((pod['spec'] as { containers: K8sObject[] }).containers[0] as K8sObject);
const envOf = (pod: K8sObject): Record<string, string> => Object.fromEntries((container(pod)['env'] as Env).filter((e) => e.value !== undefined).map((e) => [e.name, e.value as string]));

describe('Kubernetes objects of a run', () => {
  it('turns every pod-level setting of a polyaxonfile into the pod, and the result validates against the schemas', () => {
    const execution = executionFor(FULL_EXPERIMENT);
    const objects = buildRunObjects(execution, objectsConfig({ imagePullSecrets: ['platform-pull'] }), 'tok-123');
    const report = validateRunObjects(objects);
    expect(report.validated).toEqual([`Secret/${objects.base}-token`, `Pod/${objects.base}-master-0`]);
    expect(objects.services).toEqual([]);
    const pod = objects.pods[0] as K8sObject;
    const spec = pod['spec'] as Record<string, unknown>;
    const c = container(pod);
    expect(c['image']).toBe('python:3.12-slim');
    expect(c['command']).toEqual(['/bin/sh', '-c', 'python train.py --lr=0.05']);
    expect(c['resources']).toEqual({
      requests: { cpu: '500m', memory: '256Mi', 'nvidia.com/gpu': '1' },
      limits: { cpu: '2', memory: '1024Mi', 'nvidia.com/gpu': '1' },
    });
    expect(spec['nodeSelector']).toEqual({ pool: 'gpu' });
    expect(spec['tolerations']).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(spec['affinity']).toMatchObject({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }] } } });
    expect(spec['serviceAccountName']).toBe('trainer');
    expect(spec['imagePullSecrets']).toEqual([{ name: 'platform-pull' }, { name: 'registry-creds' }]);
    expect(spec['restartPolicy']).toBe('Never');
    expect(c['envFrom']).toEqual([{ secretRef: { name: 'aws-creds' } }, { configMapRef: { name: 'training-config' } }]);
    const meta = pod['metadata'] as { labels: Record<string, string>; annotations: Record<string, string> };
    expect(meta.labels).toMatchObject({ team: 'vision', 'app.kubernetes.io/managed-by': 'myelin', 'myelin.dev/run-uuid': execution.runUuid, 'myelin.dev/role': 'master' });
    expect(meta.annotations).toMatchObject({ owner: 'alice@example.com', 'myelin.dev/project': 'alice/mnist' });
    // Volumes for code, outputs and logs (emptyDir without claims); data only with a claim.
    expect((spec['volumes'] as Array<{ name: string }>).map((v) => v.name)).toEqual(['code', 'outputs', 'logs']);
  });

  it('gives the pod the Myelin and Polyaxon v0.x variables, and the run token only as a Secret reference', () => {
    const execution = executionFor(FULL_EXPERIMENT);
    const objects = buildRunObjects(execution, objectsConfig(), 'tok-secret-value');
    const pod = objects.pods[0] as K8sObject;
    const env = envOf(pod);
    expect(env).toMatchObject({
      MYELIN_RUN_UUID: execution.runUuid,
      MYELIN_PARAMS: '{"lr":0.05}',
      POLYAXON_PARAMS: '{"lr":0.05}',
      MYELIN_OUTPUTS_PATH: '/myelin/outputs',
      POLYAXON_RUN_OUTPUTS_PATH: '/myelin/outputs',
      // No outputs claim: an emptyDir, so the tracking client uploads what is logged as outputs.
      MYELIN_OUTPUTS_EPHEMERAL: 'true',
      POLYAXON_IN_CLUSTER: 'true',
      POLYAXON_API_HOST: 'myelin.example',
      POLYAXON_HTTP_PORT: '8000',
      MYELIN_HOST: 'http://myelin.example:8000',
    });
    expect(JSON.stringify(pod)).not.toContain('tok-secret-value');
    const tokenVars = (container(pod)['env'] as Env).filter((e) => e.valueFrom);
    expect(tokenVars).toEqual([
      { name: 'MYELIN_TOKEN', valueFrom: { secretKeyRef: { name: `${objects.base}-token`, key: 'token', optional: true } } },
      { name: 'POLYAXON_SECRET_USER_TOKEN', valueFrom: { secretKeyRef: { name: `${objects.base}-token`, key: 'token', optional: true } } },
    ]);
    expect(objects.secret['stringData']).toEqual({ token: 'tok-secret-value' });
  });

  it('uses the configured GPU and TPU resource keys and mounts the configured claims (resume writes into the original outputs)', () => {
    const original = '11111111-2222-4333-8444-555555555555';
    const execution = executionFor(
      `
version: 1
kind: job
build:
  image: busybox
environment:
  resources:
    gpu: {limits: 2}
    tpu: {requests: 8, limits: 8}
run:
  cmd: echo hi
`,
      { outputsOf: original },
    );
    const objects = buildRunObjects(execution, objectsConfig({ gpuResourceKey: 'amd.com/gpu', outputsClaim: 'outputs-pvc', dataClaim: 'data-pvc' }));
    validateRunObjects(objects);
    const c = container(objects.pods[0] as K8sObject);
    expect(c['resources']).toEqual({ requests: { 'amd.com/gpu': '2', 'cloud-tpus.google.com/v2': '8' }, limits: { 'amd.com/gpu': '2', 'cloud-tpus.google.com/v2': '8' } });
    const spec = (objects.pods[0] as K8sObject)['spec'] as { volumes: K8sObject[] };
    expect(spec.volumes).toContainEqual({ name: 'outputs', persistentVolumeClaim: { claimName: 'outputs-pvc' } });
    expect(spec.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: 'data-pvc', readOnly: true } });
    expect(c['volumeMounts']).toContainEqual({ name: 'outputs', mountPath: '/myelin/outputs', subPath: `${original}/outputs` });
    expect(c['volumeMounts']).toContainEqual({ name: 'data', mountPath: '/data', readOnly: true });
    expect(envOf(objects.pods[0] as K8sObject)['POLYAXON_RUN_DATA_PATHS']).toBe('{"data":"/data"}');
    // The outputs are kept on the claim: the tracking client copies artifacts there.
    expect(envOf(objects.pods[0] as K8sObject)['MYELIN_OUTPUTS_EPHEMERAL']).toBeUndefined();
  });

  it('converts quantities as Polyaxon did (cores, MB as MiB)', () => {
    expect(cpuQuantity(1)).toBe('1');
    expect(cpuQuantity(0.25)).toBe('250m');
    expect(memoryQuantity(512)).toBe('512Mi');
    expect(memoryQuantity(0.5)).toBe('512Ki');
    expect(resourceRequirements({ gpu: { requests: 1 } }, { gpuResourceKey: 'nvidia.com/gpu', tpuResourceKey: 't' })).toEqual({ requests: { 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '1' } });
    expect(resourceRequirements({}, { gpuResourceKey: 'g', tpuResourceKey: 't' })).toBeUndefined();
  });

  it('refuses what the schemas refuse, with the schema message, before anything is sent', () => {
    const execution = executionFor(FULL_EXPERIMENT.replace('operator: Exists', 'operator: [not, a, string]'));
    expect(() => validateRunObjects(buildRunObjects(execution, objectsConfig()))).toThrow(/Pod\/.*does not validate.*operator/);
    const badLabel = executionFor(FULL_EXPERIMENT.replace('team: vision', 'team: "has spaces"'));
    expect(() => buildRunObjects(badLabel, objectsConfig())).toThrow(KubernetesSpecError);
  });

  describe('distributed runs', () => {
    it('tensorflow: a master, workers and ps, each with a headless Service and its TF_CONFIG', () => {
      const execution = executionFor(distributed('tensorflow', '    n_workers: 2\n    n_ps: 1\n    default_worker:\n      resources:\n        gpu: {limits: 1}'));
      const objects = buildRunObjects(execution, objectsConfig());
      const report = validateRunObjects(objects);
      expect(report.validated).toHaveLength(1 + 4 + 4);
      expect(objects.pods.map((p) => (p['metadata'] as { name: string }).name)).toEqual(['master-0', 'worker-0', 'worker-1', 'ps-0'].map((s) => `${objects.base}-${s}`));
      const host = (s: string) => `${objects.base}-${s}.myelin-test.svc:2222`;
      const tfConfig = objects.pods.map((p) => JSON.parse(envOf(p)['TF_CONFIG'] as string) as { cluster: unknown; task: unknown });
      for (const config of tfConfig) expect(config.cluster).toEqual({ master: [host('master-0')], worker: [host('worker-0'), host('worker-1')], ps: [host('ps-0')] });
      expect(tfConfig.map((c) => c.task)).toEqual([{ type: 'master', index: 0 }, { type: 'worker', index: 0 }, { type: 'worker', index: 1 }, { type: 'ps', index: 0 }]);
      // Workers take default_worker's resources, the master the top-level ones.
      expect(container(objects.pods[1] as K8sObject)['resources']).toEqual({ requests: { 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '1' } });
      expect(container(objects.pods[0] as K8sObject)['resources']).toEqual({ requests: { cpu: '100m' }, limits: { cpu: '1' } });
      const service = objects.services[1] as { spec: Record<string, unknown>; metadata: { name: string } };
      expect(service.metadata.name).toBe(`${objects.base}-worker-0`);
      expect(service.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true, ports: [{ port: 2222 }] });
      expect(service.spec['selector']).toEqual({ 'myelin.dev/run-uuid': execution.runUuid, 'myelin.dev/attempt': '0', 'myelin.dev/role': 'worker', 'myelin.dev/replica-index': '0' });
      expect(JSON.parse(envOf(objects.pods[2] as K8sObject)['POLYAXON_TASK_INFO'] as string)).toEqual({ type: 'worker', index: 1 });
    });

    it('pytorch: MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK', () => {
      const objects = buildRunObjects(executionFor(distributed('pytorch', '    n_workers: 2')), objectsConfig());
      validateRunObjects(objects);
      const envs = objects.pods.map(envOf);
      for (const [i, env] of envs.entries()) {
        expect(env).toMatchObject({ MASTER_ADDR: `${objects.base}-master-0.myelin-test.svc`, MASTER_PORT: '23456', WORLD_SIZE: '3', RANK: String(i) });
      }
    });

    it('mxnet: DMLC_* roles for scheduler, workers and servers', () => {
      const objects = buildRunObjects(executionFor(distributed('mxnet', '    n_workers: 1\n    n_ps: 1')), objectsConfig());
      validateRunObjects(objects);
      const envs = objects.pods.map(envOf);
      expect(envs.map((e) => e['DMLC_ROLE'])).toEqual(['scheduler', 'worker', 'server']);
      for (const env of envs) expect(env).toMatchObject({ DMLC_PS_ROOT_URI: `${objects.base}-master-0.myelin-test.svc`, DMLC_PS_ROOT_PORT: '9091', DMLC_NUM_WORKER: '1', DMLC_NUM_SERVER: '1' });
    });

    it('horovod: every pod knows the MPI hosts with slots per GPU', () => {
      const objects = buildRunObjects(executionFor(distributed('horovod', '    n_workers: 2\n    default_worker:\n      resources:\n        gpu: {limits: 2}')), objectsConfig());
      validateRunObjects(objects);
      const master = envOf(objects.pods[0] as K8sObject);
      const worker = envOf(objects.pods[1] as K8sObject);
      // The master asks no GPU (one slot); each worker two.
      expect(master['HOROVOD_HOSTS']).toBe(['master-0', 'worker-0', 'worker-1'].map((s) => `${objects.base}-${s}.myelin-test.svc:1`).join(','));
      expect(worker['HOROVOD_HOSTS']).toBe(['master-0', 'worker-0', 'worker-1'].map((s) => `${objects.base}-${s}.myelin-test.svc:2`).join(','));
      expect(worker['HOROVOD_NUM_PROC']).toBe('6');
    });

    it('per-index replica entries override the role default', () => {
      const objects = buildRunObjects(
        executionFor(distributed('tensorflow', '    n_workers: 2\n    default_worker:\n      node_selector: {pool: cpu}\n    worker:\n      - index: 1\n        node_selector: {pool: big}')),
        objectsConfig(),
      );
      expect(objects.pods.map((p) => (p['spec'] as { nodeSelector?: unknown }).nodeSelector)).toEqual([undefined, { pool: 'cpu' }, { pool: 'big' }]);
    });
  });

  describe('backend: kubeflow', () => {
    it('tensorflow becomes a TFJob (Chief, Worker, PS) whose pod templates validate', () => {
      const objects = buildRunObjects(executionFor(distributed('tensorflow', '    n_workers: 2\n    n_ps: 1', 'backend: kubeflow')), objectsConfig());
      const report = validateRunObjects(objects);
      expect(report.partiallyValidated).toEqual([`TFJob/${objects.base}`]);
      expect(objects.pods).toEqual([]);
      const body = objects.kubeflow?.body as { apiVersion: string; spec: { tfReplicaSpecs: Record<string, { replicas: number; template: { spec: { containers: Array<{ name: string; env: Env }> } } }> } };
      expect(body.apiVersion).toBe('kubeflow.org/v1');
      expect(Object.fromEntries(Object.entries(body.spec.tfReplicaSpecs).map(([k, v]) => [k, v.replicas]))).toEqual({ Chief: 1, Worker: 2, PS: 1 });
      const c = body.spec.tfReplicaSpecs['Worker']?.template.spec.containers[0];
      expect(c?.name).toBe('tensorflow');
      // The operator writes TF_CONFIG itself.
      expect(c?.env.map((e) => e.name)).not.toContain('TF_CONFIG');
    });

    it('pytorch becomes a PyTorchJob and horovod (or backend: mpi) an MPIJob with slots per worker', () => {
      const pt = buildRunObjects(executionFor(distributed('pytorch', '    n_workers: 3', 'backend: kubeflow')), objectsConfig());
      validateRunObjects(pt);
      expect(pt.kubeflow?.kind).toBe('PyTorchJob');
      expect(Object.keys((pt.kubeflow?.body['spec'] as { pytorchReplicaSpecs: object }).pytorchReplicaSpecs)).toEqual(['Master', 'Worker']);
      const mpi = buildRunObjects(executionFor(distributed('horovod', '    n_workers: 2\n    default_worker:\n      resources:\n        gpu: {limits: 4}', 'backend: kubeflow')), objectsConfig());
      validateRunObjects(mpi);
      expect(mpi.kubeflow).toMatchObject({ kind: 'MPIJob', apiVersion: 'kubeflow.org/v2beta1', plural: 'mpijobs', body: { spec: { slotsPerWorker: 4 } } });
      const specs = (mpi.kubeflow?.body['spec'] as { mpiReplicaSpecs: Record<string, { template: { spec: { containers: Array<{ command?: string[] }> } } }> }).mpiReplicaSpecs;
      expect(specs['Launcher']?.template.spec.containers[0]?.command).toEqual(['/bin/sh', '-c', 'python dist.py']);
      expect(specs['Worker']?.template.spec.containers[0]?.command).toBeUndefined();
    });

    it('mxnet has no Kubeflow operator here: refused with a message', () => {
      expect(() => buildRunObjects(executionFor(distributed('mxnet', '    n_workers: 1', 'backend: kubeflow')), objectsConfig())).toThrow(/kubeflow supports the tensorflow .* not mxnet/);
    });
  });
});
