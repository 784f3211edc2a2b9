import { randomUUID } from 'node:crypto';
import type { ExecutionEntity } from '@myelin/persistence';
import { parsePolyaxonfiles } from '@myelin/spec';
import type { KubernetesObjectsConfig } from '../kubernetes-objects';

/** An execution row as the scheduler holds it at launch, from a real polyaxonfile compiled by libs/spec. */
export function executionFor(polyaxonfile: string, over: Partial<ExecutionEntity> = {}): ExecutionEntity {
  const spec = parsePolyaxonfiles([{ path: 'polyaxonfile.yml', content: polyaxonfile }]);
  return {
    runUuid: randomUUID(),
    project: 'alice/mnist',
    number: 7,
    kind: 'experiment',
    cmd: spec.run?.cmd ?? 'true',
    params: spec.params,
    spec: JSON.parse(JSON.stringify(spec)) as Record<string, unknown>,
    codeDir: null,
    outputsOf: null,
    copyOutputsFrom: null,
    priority: 0,
    status: 'starting',
    attempt: 0,
    maxRestarts: 0,
    executor: 'kubernetes',
    pid: null,
    pidStartTime: null,
    workdir: null,
    stdoutOffset: 0,
    stderrOffset: 0,
    exitCode: null,
    stopRequestedAt: null,
    startedAt: new Date(),
    finishedAt: null,
    createdAt: new Date(),
    updatedAt: new Date(),
    ...over,
  } as ExecutionEntity;
}

export const objectsConfig = (over: Partial<KubernetesObjectsConfig> = {}): KubernetesObjectsConfig => ({
  namespace: 'myelin-test',
  defaultImage: 'busybox:1.36',
  gpuResourceKey: 'nvidia.com/gpu',
  tpuResourceKey: 'cloud-tpus.google.com/v2',
  publicUrl: 'http://myelin.example:8000',
  ...over,
});

/** A single-replica experiment with every pod-level setting a polyaxonfile can give. */
export const FULL_EXPERIMENT = `
version: 1
kind: experiment
params:
  lr: 0.05
build:
  image: python:3.12-slim
environment:
  resources:
    cpu: {requests: 0.5, limits: 2}
    memory: {requests: 256, limits: 1024}
    gpu: {requests: 1, limits: 1}
  node_selector:
    pool: gpu
  tolerations:
    - key: nvidia.com/gpu
      operator: Exists
      effect: NoSchedule
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
          - matchExpressions:
              - key: zone
                operator: In
                values: [a, b]
  labels:
    team: vision
  annotations:
    owner: alice@example.com
  service_account: trainer
  image_pull_secrets: [registry-creds]
  secret_refs: [aws-creds]
  config_map_refs: [training-config]
run:
  cmd: python train.py --lr={{ lr }}
`;

export const distributed = (framework: string, replicas: string, extra = '') => `
version: 1
kind: experiment
framework: ${framework}
${extra}
environment:
  resources:
    cpu: {requests: 0.1, limits: 1}
  replicas:
${replicas}
run:
  cmd: python dist.py
`;
