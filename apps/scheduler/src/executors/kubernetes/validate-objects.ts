import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Pod } from 'kubernetes-models/v1/Pod';
import { PodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import type { K8sObject, RunObjects } from './kubernetes-objects';
import type { BuildObjects } from './build-objects';
import { KubernetesSpecError } from './kubernetes-objects';

/** What the schemas cover: everything but the Kubeflow custom resources themselves. */
export interface ValidationReport {
  validated: string[];
  /** Kubeflow objects: no official schema in kubernetes-models; only their pod templates were validated. */
  partiallyValidated: string[];
}

function check(what: string, validate: () => void): void {
  try {
    validate();
  } catch (error) {
    throw new KubernetesSpecError(`${what} does not validate against the Kubernetes schema: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Validate every generated object against the official Kubernetes OpenAPI schemas (through
 * kubernetes-models) before anything reaches the API server: a bad toleration or label in a
 * polyaxonfile fails the launch with the schema's message instead of a half-created run.
 */
export function validateRunObjects(objects: RunObjects): ValidationReport {
  const report: ValidationReport = { validated: [], partiallyValidated: [] };
  const name = (o: K8sObject) => `${String(o['kind'])}/${String((o['metadata'] as { name?: string } | undefined)?.name)}`;
  check(name(objects.secret), () => new Secret(objects.secret as never).validate());
  report.validated.push(name(objects.secret));
  for (const pod of objects.pods) {
    check(name(pod), () => new Pod(pod as never).validate());
    report.validated.push(name(pod));
  }
  for (const service of objects.services) {
    check(name(service), () => new Service(service as never).validate());
    report.validated.push(name(service));
  }
  if (objects.kubeflow) {
    const body = objects.kubeflow.body;
    const spec = body['spec'] as Record<string, unknown>;
    const key = Object.keys(spec).find((k) => k.endsWith('ReplicaSpecs')) as string;
    for (const [role, replicaSpec] of Object.entries(spec[key] as Record<string, { template: K8sObject }>)) {
      check(`${name(body)} ${role} template`, () => new PodTemplateSpec(replicaSpec.template as never).validate());
    }
    report.partiallyValidated.push(name(body));
  }
  return report;
}

/** The kaniko pod and its Dockerfile ConfigMap, validated like a run's objects. */
export function validateBuildObjects(objects: BuildObjects): string[] {
  const name = (o: K8sObject) => `${String(o['kind'])}/${String((o['metadata'] as { name?: string } | undefined)?.name)}`;
  const validated: string[] = [];
  if (objects.configMap) {
    const configMap = objects.configMap;
    check(name(configMap), () => new ConfigMap(configMap as never).validate());
    validated.push(name(configMap));
  }
  check(name(objects.pod), () => new Pod(objects.pod as never).validate());
  validated.push(name(objects.pod));
  return validated;
}
