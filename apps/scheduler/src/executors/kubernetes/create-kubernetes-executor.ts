import { Logger } from '@nestjs/common';
import { join } from 'node:path';
import type { SchedulerEnv } from '../../config/env';
import { KubernetesExecutor } from './kubernetes.executor';
import { makeKubeConfig } from './kubernetes-client';

/** The Kubernetes executor as the scheduler's configuration describes it (MYELIN_EXECUTOR=kubernetes). */
export async function createKubernetesExecutor(config: SchedulerEnv, home: string): Promise<KubernetesExecutor> {
  const kubeConfig = await makeKubeConfig(
    config.MYELIN_K8S_AUTH === 'in-cluster'
      ? { mode: 'in-cluster' }
      : { mode: 'kubeconfig', ...(config.MYELIN_K8S_KUBECONFIG ? { path: config.MYELIN_K8S_KUBECONFIG } : {}), ...(config.MYELIN_K8S_CONTEXT ? { context: config.MYELIN_K8S_CONTEXT } : {}) },
  );
  const pullSecrets = (config.MYELIN_K8S_IMAGE_PULL_SECRETS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return KubernetesExecutor.create({
    kubeConfig,
    objects: {
      namespace: config.MYELIN_K8S_NAMESPACE,
      defaultImage: config.MYELIN_K8S_DEFAULT_IMAGE,
      gpuResourceKey: config.MYELIN_K8S_GPU_RESOURCE_KEY,
      tpuResourceKey: config.MYELIN_K8S_TPU_RESOURCE_KEY,
      publicUrl: config.MYELIN_PUBLIC_URL,
      ...(config.MYELIN_PUBLIC_TRACKING_URL ? { trackingUrl: config.MYELIN_PUBLIC_TRACKING_URL } : {}),
      ...(config.MYELIN_K8S_OUTPUTS_CLAIM ? { outputsClaim: config.MYELIN_K8S_OUTPUTS_CLAIM } : {}),
      ...(config.MYELIN_K8S_DATA_CLAIM ? { dataClaim: config.MYELIN_K8S_DATA_CLAIM } : {}),
      ...(config.MYELIN_K8S_CODE_CLAIM ? { codeClaim: config.MYELIN_K8S_CODE_CLAIM } : {}),
      ...(config.MYELIN_K8S_LOGS_CLAIM ? { logsClaim: config.MYELIN_K8S_LOGS_CLAIM } : {}),
      ...(config.MYELIN_K8S_SERVICE_ACCOUNT ? { defaultServiceAccount: config.MYELIN_K8S_SERVICE_ACCOUNT } : {}),
      ...(pullSecrets.length ? { imagePullSecrets: pullSecrets } : {}),
      kanikoImage: config.MYELIN_K8S_KANIKO_IMAGE,
      ...(config.MYELIN_K8S_REGISTRY ? { registry: config.MYELIN_K8S_REGISTRY } : {}),
      ...(config.MYELIN_K8S_REGISTRY_SECRET ? { registrySecret: config.MYELIN_K8S_REGISTRY_SECRET } : {}),
      registryInsecure: config.MYELIN_K8S_REGISTRY_INSECURE === 'true',
    },
    runsDir: config.MYELIN_RUNS_DIR ?? join(home, 'runs'),
    imagePullGraceMs: config.MYELIN_K8S_IMAGE_PULL_GRACE_SECONDS * 1000,
    stopGraceSeconds: config.MYELIN_STOP_GRACE_SECONDS,
    logger: new Logger('Kubernetes'),
  });
}
