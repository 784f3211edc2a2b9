import type { ExecutionEntity } from '@myelin/persistence';
import { type BuildPlan, imageReference } from '../../builds/build-plan';
import { baseName, type K8sObject, type KubernetesObjectsConfig, KubernetesSpecError, LABELS, MANAGED_BY } from './kubernetes-objects';

/** The kaniko image used when none is configured (MYELIN_K8S_KANIKO_IMAGE). */
export const DEFAULT_KANIKO_IMAGE = 'gcr.io/kaniko-project/executor:v1.23.2';

/** Where things are in the kaniko container. */
export const BUILD_MOUNTS = { context: '/workspace', dockerfile: '/myelin/build', docker: '/kaniko/.docker' } as const;

export const BUILD_ROLE = 'build';
export const BUILD_ANNOTATIONS = { image: 'myelin.dev/image', key: 'myelin.dev/build-key' } as const;

export interface BuildObjects {
  /** Where the image is pushed (`registry/owner-project:<key>`). */
  image: string;
  pod: K8sObject;
  /** The generated Dockerfile, mounted into the kaniko pod; absent when the user's Dockerfile is used. */
  configMap?: K8sObject;
}

export function buildPodName(execution: Pick<ExecutionEntity, 'runUuid' | 'attempt'>): string {
  return `${baseName(execution)}-build`;
}

/**
 * Pure: the kaniko pod (and the ConfigMap holding the generated Dockerfile) that builds a run's
 * image from its code and pushes it to the configured registry, tagged with the build key. The code
 * is the build context: the run's directory on the code claim, or an empty directory without one
 * (then only the Dockerfile's own steps make the image). kaniko writes the pushed digest to the
 * termination message (`--digest-file=/dev/termination-log`), so the pod's status carries it.
 */
export function buildBuildObjects(execution: ExecutionEntity, plan: BuildPlan, config: KubernetesObjectsConfig): BuildObjects {
  if (!config.registry) {
    throw new KubernetesSpecError('this run needs an image built, and no registry is configured to push it to (set MYELIN_K8S_REGISTRY)');
  }
  const image = imageReference(config.registry, execution.project, plan.key);
  const name = buildPodName(execution);
  const labels = {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.run]: execution.runUuid,
    [LABELS.attempt]: String(execution.attempt),
    [LABELS.role]: BUILD_ROLE,
    [LABELS.index]: '0',
  };
  const contextDir = plan.context ? `${BUILD_MOUNTS.context}/${plan.context}` : BUILD_MOUNTS.context;
  const dockerfile = plan.dockerfile !== null ? `${BUILD_MOUNTS.dockerfile}/Dockerfile` : `${BUILD_MOUNTS.context}/${(plan.dockerfilePath ?? 'Dockerfile').replace(/^\/+/, '')}`;
  const args = [
    `--dockerfile=${dockerfile}`,
    `--context=dir://${contextDir}`,
    `--destination=${image}`,
    '--digest-file=/dev/termination-log',
    ...(config.registryInsecure ? ['--insecure', '--skip-tls-verify'] : []),
  ];
  const volumes: K8sObject[] = [
    config.codeClaim ? { name: 'code', persistentVolumeClaim: { claimName: config.codeClaim, readOnly: true } } : { name: 'code', emptyDir: {} },
  ];
  const mounts: K8sObject[] = [{ name: 'code', mountPath: BUILD_MOUNTS.context, ...(config.codeClaim ? { subPath: `${execution.runUuid}/code`, readOnly: true } : {}) }];
  const configMapName = `${baseName(execution)}-dockerfile`;
  if (plan.dockerfile !== null) {
    volumes.push({ name: 'dockerfile', configMap: { name: configMapName } });
    mounts.push({ name: 'dockerfile', mountPath: BUILD_MOUNTS.dockerfile, readOnly: true });
  }
  if (config.registrySecret) {
    volumes.push({ name: 'registry', secret: { secretName: config.registrySecret, items: [{ key: '.dockerconfigjson', path: 'config.json' }] } });
    mounts.push({ name: 'registry', mountPath: BUILD_MOUNTS.docker, readOnly: true });
  }
  const pod: K8sObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: config.namespace,
      labels,
      annotations: {
        [BUILD_ANNOTATIONS.image]: image,
        [BUILD_ANNOTATIONS.key]: plan.key,
        'myelin.dev/project': execution.project,
        'myelin.dev/run-number': String(execution.number),
      },
    },
    spec: {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'kaniko',
          image: config.kanikoImage ?? DEFAULT_KANIKO_IMAGE,
          imagePullPolicy: 'IfNotPresent',
          args,
          volumeMounts: mounts,
          terminationMessagePolicy: 'File',
        },
      ],
      volumes,
      ...(config.imagePullSecrets?.length ? { imagePullSecrets: config.imagePullSecrets.map((n) => ({ name: n })) } : {}),
    },
  };
  const configMap: K8sObject | undefined =
    plan.dockerfile !== null
      ? { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: configMapName, namespace: config.namespace, labels: { ...labels } }, data: { Dockerfile: plan.dockerfile } }
      : undefined;
  return { image, pod, ...(configMap ? { configMap } : {}) };
}
