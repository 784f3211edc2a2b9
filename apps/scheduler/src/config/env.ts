import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { IsNumber } from 'class-validator';
import { IsIn } from 'class-validator';
import { BaseServiceEnv } from '@myelin/config';
import { Matches } from 'class-validator';
import { DEVICE_LIST } from '../queue/gpu-devices';
import { DEFAULT_STANDBY_PROCESSES } from '../executors/local/process-spawner';

export class SchedulerEnv extends BaseServiceEnv {
  /** Runs executing at once on this scheduler (global concurrency of the local executor). */
  @IsInt() @Min(1) @Max(10_000) MYELIN_MAX_PARALLEL: number = 8;
  /** Seconds between SIGTERM and SIGKILL when a run is stopped. */
  @IsInt() @Min(0) @Max(3600) MYELIN_STOP_GRACE_SECONDS: number = 10;
  /** Where run working directories live (default: $MYELIN_HOME/runs). */
  @IsOptional() @IsString() MYELIN_RUNS_DIR?: string;
  /** API URL given to jobs (POLYAXON_API_HOST, MYELIN_HOST). */
  @IsString() MYELIN_PUBLIC_URL: string = 'http://127.0.0.1:8000';
  /** Tracking URL given to jobs (MYELIN_TRACKING_HOST) when it is not behind MYELIN_PUBLIC_URL (distributed mode without an ingress). */
  @IsOptional() @IsString() MYELIN_PUBLIC_TRACKING_URL?: string;
  /**
   * Prepended to jobs' PYTHONPATH so training code can `from myelin import tracking` without
   * installing anything (default: the Python client shipped in this repository, clients/python;
   * "" turns it off).
   */
  @IsOptional() @IsString() MYELIN_JOB_PYTHONPATH?: string;
  /** Milliseconds between two passes over the queue and the running processes. */
  @IsInt() @Min(10) MYELIN_SCHEDULER_TICK_MS: number = 200;
  /**
   * Seconds a run's token request waits for the API (tried twice). A run is not started without its
   * token: while the API does not answer it stays queued (`WaitingForApi`), and admission pauses as long.
   */
  @IsInt() @Min(1) @Max(300) MYELIN_RUN_TOKEN_TIMEOUT_SECONDS: number = 5;
  /** Where runs execute: local processes (default) or pods on Kubernetes (see deploy/kubernetes/README.md). */
  @IsIn(['local', 'kubernetes']) MYELIN_EXECUTOR: 'local' | 'kubernetes' = 'local';
  /** Kubernetes: namespace of the runs' pods, Services, Secrets and Kubeflow jobs. */
  @IsString() MYELIN_K8S_NAMESPACE: string = 'default';
  /** Kubernetes: `in-cluster` (the scheduler's service account) or `kubeconfig` (MYELIN_K8S_KUBECONFIG, else ~/.kube/config / $KUBECONFIG). */
  @IsIn(['in-cluster', 'kubeconfig']) MYELIN_K8S_AUTH: 'in-cluster' | 'kubeconfig' = 'kubeconfig';
  @IsOptional() @IsString() MYELIN_K8S_KUBECONFIG?: string;
  /** Kubernetes: kubeconfig context (default: its current context). */
  @IsOptional() @IsString() MYELIN_K8S_CONTEXT?: string;
  /** Kubernetes: extended resource that counts GPUs. */
  @IsString() MYELIN_K8S_GPU_RESOURCE_KEY: string = 'nvidia.com/gpu';
  /** Kubernetes: extended resource that counts TPUs. */
  @IsString() MYELIN_K8S_TPU_RESOURCE_KEY: string = 'cloud-tpus.google.com/v2';
  /** Kubernetes: image of runs whose polyaxonfile names none (`build.image`). */
  @IsString() MYELIN_K8S_DEFAULT_IMAGE: string = 'python:3.12-slim';
  /** Kubernetes: seconds ErrImagePull/ImagePullBackOff may last before the run fails. */
  @IsInt() @Min(0) @Max(86_400) MYELIN_K8S_IMAGE_PULL_GRACE_SECONDS: number = 120;
  /** Kubernetes: PersistentVolumeClaims for outputs, data (read-only), code and logs; unset: emptyDir (outputs die with the pod). */
  @IsOptional() @IsString() MYELIN_K8S_OUTPUTS_CLAIM?: string;
  @IsOptional() @IsString() MYELIN_K8S_DATA_CLAIM?: string;
  @IsOptional() @IsString() MYELIN_K8S_CODE_CLAIM?: string;
  @IsOptional() @IsString() MYELIN_K8S_LOGS_CLAIM?: string;
  /** Kubernetes: service account of run pods whose polyaxonfile names none. */
  @IsOptional() @IsString() MYELIN_K8S_SERVICE_ACCOUNT?: string;
  /** Kubernetes: image pull secrets given to every run pod (comma-separated names). */
  @IsOptional() @IsString() MYELIN_K8S_IMAGE_PULL_SECRETS?: string;
  /** Kubernetes builds: the kaniko executor image (pinned). */
  @IsString() MYELIN_K8S_KANIKO_IMAGE: string = 'gcr.io/kaniko-project/executor:v1.23.2';
  /** Kubernetes builds: where built images are pushed (`registry.example.com/myelin`); runs that need a build fail without it. */
  @IsOptional() @IsString() MYELIN_K8S_REGISTRY?: string;
  /** Kubernetes builds: a `kubernetes.io/dockerconfigjson` Secret with the registry's push credentials. */
  @IsOptional() @IsString() MYELIN_K8S_REGISTRY_SECRET?: string;
  /** Kubernetes builds: `true` pushes over plain HTTP without verifying TLS (an in-cluster registry). */
  @IsIn(['true', 'false']) MYELIN_K8S_REGISTRY_INSECURE: 'true' | 'false' = 'false';
  /** Runs at once per project (0: no per-project limit beyond quotas). */
  @IsInt() @Min(0) @Max(10_000) MYELIN_MAX_PARALLEL_PER_PROJECT: number = 0;
  /**
   * Local executor: GPU device ids of this host, comma-separated ("0,1,2,3", or UUIDs). A run asking
   * `gpu: N` gets N of them that no other live run holds (CUDA_VISIBLE_DEVICES); empty: no GPUs, and
   * runs asking for some are unschedulable.
   */
  @IsString() @Matches(DEVICE_LIST, { message: 'MYELIN_GPU_DEVICES must be device ids separated by commas, e.g. 0,1,2,3' })
  MYELIN_GPU_DEVICES: string = '';
  /**
   * Local executor: where runs' cpu and memory limits (`environment.resources.*.limits`) are
   * enforced with cgroups. `auto`: a `myelin` cgroup on this host's cgroup2 mount (or the v1 memory
   * and cpu hierarchies) when this process may make one (root); `off`; or the absolute path of a
   * delegated cgroup2 directory. Without one, limits are not enforced and the run's history says so.
   */
  @IsString() @Matches(/^(auto|off|\/.+)$/, { message: 'MYELIN_CGROUP_PARENT must be auto, off or an absolute path of a cgroup2 directory' })
  MYELIN_CGROUP_PARENT: string = 'auto';
  /**
   * Local executor: bash processes kept started ahead, each waiting for the next run, so that a run's
   * first line does not wait for a program start (0: each run starts a new process).
   */
  @IsInt() @Min(0) @Max(64) MYELIN_STANDBY_PROCESSES: number = DEFAULT_STANDBY_PROCESSES;
  /** Local executor: seconds between two samples of live runs' CPU and memory (sys/cpu_percent, sys/memory_mb); 0: off. */
  @IsInt() @Min(0) @Max(3600) MYELIN_SAMPLE_SECONDS: number = 10;
  /** With MYELIN_REDIS_URL: how long a replica's claim on a run lasts without renewal (another replica adopts the run after it). */
  @IsInt() @Min(1000) @Max(600_000) MYELIN_SCHEDULER_LEASE_MS: number = 15_000;
  /** This replica's name in `owner` of the runs it starts (default: host, pid and a random suffix). */
  @IsOptional() @IsString() MYELIN_SCHEDULER_REPLICA?: string;
  /** Automatic retries of a failed or lost run when its polyaxonfile sets no `environment.max_restarts`. */
  @IsInt() @Min(0) @Max(100) MYELIN_MAX_RESTARTS: number = 0;
  /** Wait before retry n: this many seconds times 2^(n-1), at most MYELIN_RETRY_BACKOFF_MAX_SECONDS. */
  @IsNumber() @Min(0) @Max(3600) MYELIN_RETRY_BACKOFF_SECONDS: number = 2;
  @IsNumber() @Min(0) @Max(86_400) MYELIN_RETRY_BACKOFF_MAX_SECONDS: number = 300;
  /** A run still running after this many seconds fails with reason Timeout (0: no default timeout). */
  @IsInt() @Min(0) MYELIN_RUN_TIMEOUT_SECONDS: number = 0;
  /**
   * A live run whose process or pod the executor cannot see (no pid recorded; a pod never seen,
   * e.g. after a restart) fails with reason Zombie after this many seconds without a heartbeat.
   * Configurable because what is normal differs: autoscaled GPU nodes can take many minutes to come up.
   */
  @IsInt() @Min(10) @Max(604_800) MYELIN_ZOMBIE_SECONDS: number = 300;
  /** A finished run's working directory (code snapshot, shipped logs; never outputs) is removed after this many seconds (0: kept forever). */
  @IsInt() @Min(0) MYELIN_RUN_TTL_SECONDS: number = 0;
}
