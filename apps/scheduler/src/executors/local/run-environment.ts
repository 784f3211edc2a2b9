import type { ExecutionEntity } from '@myelin/persistence';

/** Variables of the scheduler's own environment that never reach a job (credentials, internal URLs). */
const PRIVATE = /^(MYELIN_|POLYAXON_)/;

/**
 * The environment of a job: the host's environment minus the platform's own variables, then
 * the run's identity and params under Myelin's names and Polyaxon v0.x's, so existing training
 * code finds what it expects.
 */
export function buildRunEnvironment(
  base: Record<string, string | undefined>,
  execution: ExecutionEntity,
  paths: { workdir: string; outputs: string; code: string },
  publicUrl: string,
  runToken?: string,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !PRIVATE.test(k)) env[k] = v;
  const params = JSON.stringify(execution.params ?? {});
  const [owner, projectName] = execution.project.split('/');
  const uniqueName = `${owner}.${projectName}.${execution.number}`;
  const info = {
    project_name: execution.project,
    project_uuid: null,
    experiment_name: uniqueName,
    experiment_uuid: execution.runUuid,
    job_name: uniqueName,
    job_uuid: execution.runUuid,
  };
  const url = new URL(publicUrl);
  Object.assign(env, {
    PYTHONUNBUFFERED: '1',
    MYELIN_RUN_UUID: execution.runUuid,
    MYELIN_RUN_NUMBER: String(execution.number),
    MYELIN_RUN_KIND: execution.kind,
    MYELIN_PROJECT: execution.project,
    MYELIN_PARAMS: params,
    MYELIN_OUTPUTS_PATH: paths.outputs,
    MYELIN_CODE_PATH: paths.code,
    MYELIN_HOST: publicUrl,
    MYELIN_ATTEMPT: String(execution.attempt),
    // Polyaxon v0.x names.
    POLYAXON_PARAMS: params,
    POLYAXON_DECLARATIONS: params,
    POLYAXON_RUN_OUTPUTS_PATH: paths.outputs,
    POLYAXON_RUN_DATA_PATHS: '{}',
    POLYAXON_REFS_OUTPUTS_PATHS: '{}',
    POLYAXON_LOG_LEVEL: 'INFO',
    POLYAXON_IS_MANAGED: 'true',
    POLYAXON_IN_CLUSTER: 'false',
    POLYAXON_API_HTTP_HOST: `${url.protocol}//${url.host}`,
    POLYAXON_API_HOST: url.hostname,
    POLYAXON_HTTP_PORT: url.port || (url.protocol === 'https:' ? '443' : '80'),
    POLYAXON_USE_HTTPS: String(url.protocol === 'https:'),
    POLYAXON_API_VERSION: 'v1',
    POLYAXON_TASK_INFO: JSON.stringify({ type: 'master', index: 0 }),
    POLYAXON_CLUSTER: JSON.stringify({ master: ['localhost'] }),
    POLYAXON_EXPERIMENT_INFO: JSON.stringify(info),
    POLYAXON_JOB_INFO: JSON.stringify(info),
  });
  Object.assign(env, deviceEnvironment(execution.devices));
  if (runToken) {
    // The run's own token: writes this run's tracking data, reads its project, dies with the run.
    env['MYELIN_TOKEN'] = runToken;
    env['POLYAXON_SECRET_USER_TOKEN'] = runToken;
  }
  return env;
}

/**
 * GPU devices (local executor): a run that holds devices sees only those; on a host with
 * MYELIN_GPU_DEVICES set, a run that asks none gets `[]` and sees none (it cannot grab one by
 * accident); `null` (no devices configured) leaves the host's variables as they are. The NVIDIA
 * container runtime reads NVIDIA_VISIBLE_DEVICES (`void`: no GPU) for jobs that start containers.
 * Polyaxon v0.x set no variable of its own for GPUs (the Kubernetes device plugin did).
 */
export function deviceEnvironment(devices: string[] | null | undefined): Record<string, string> {
  if (!devices) return {};
  const list = devices.join(',');
  return { CUDA_VISIBLE_DEVICES: list, NVIDIA_VISIBLE_DEVICES: devices.length ? list : 'void' };
}
