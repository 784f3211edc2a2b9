import type { ExecutionEntity } from '@myelin/persistence';
import type { RunStatus } from '@myelin/contracts';
import type { BuildPlan } from '../builds/build-plan';

export interface LaunchedProcess {
  pid: number;
  /** Identifies the process beyond its pid (pids are reused). */
  pidStartTime: string | null;
  workdir: string;
  /** What the run's history says about how it was started (limits applied, or not enforced here). */
  notice?: string;
}

/** Why an attempt ended, when the executor knows more than the exit code (OOMKilled), with the detail. */
export interface EndCause {
  reason?: string;
  detail?: string;
}

export type ProcessState =
  | { state: 'running' }
  | ({ state: 'exited'; exitCode: number; signal?: string } & EndCause)
  /** Gone without leaving an exit code: killed together with its wrapper, or the host rebooted. */
  | ({ state: 'vanished' } & EndCause)
  /**
   * The executor cannot tell whether the run lives (no process id was ever recorded; a pod not seen
   * yet after a restart): the scheduler waits for a sign of life (a heartbeat) for up to
   * MYELIN_ZOMBIE_SECONDS before failing the run as a zombie (./queue/liveness.ts).
   */
  | { state: 'unknown'; message: string };

/**
 * What an executor observed beyond the process state, with its reason: a pod the cluster cannot
 * place (`unschedulable`), an image that cannot be pulled (`failed`, ErrImagePull), a container
 * killed for memory (`failed`, OOMKilled). Executors without such knowledge do not provide it.
 */
export interface ExecutorCondition {
  status: RunStatus;
  reason: string;
  message: string;
  exitCode?: number;
}

export interface RunSecrets {
  runToken?: string;
}

export interface LaunchOptions {
  /** An image built for the run (or found in the build cache): used instead of `build.image`; it holds the code. */
  image?: string;
}

/** A build's progress as the executor sees it (builds: decision 0014). */
export type BuildState =
  | { state: 'running' }
  | { state: 'succeeded'; image: string; key: string; message: string }
  | { state: 'failed'; reason: string; message: string };

/** What the scheduler needs from a place that runs jobs (local processes now; Kubernetes later). */
export interface Executor {
  readonly name: string;
  /**
   * `secrets` reach only the job's environment (its run token): never stored, never logged. A
   * promise, so the executor prepares the run (directories, code) while the token is issued.
   */
  launch(execution: ExecutionEntity, secrets?: RunSecrets | Promise<RunSecrets>, options?: LaunchOptions): Promise<LaunchedProcess>;
  /**
   * Optional: start preparing a queued run (working directory, code snapshot, command script) in
   * the background, so its launch only starts the process. Best effort: `launch` prepares whatever
   * was not, and reports a preparation that failed. `waits`: the run is expected to wait behind
   * others (its preparation may take its time, off the event loop).
   */
  prepare?(
    execution: Pick<ExecutionEntity, 'runUuid' | 'cmd' | 'codeDir' | 'parentUuid' | 'codeOf' | 'outputsOf' | 'copyOutputsFrom'>,
    options?: { waits?: boolean },
  ): void;
  /** Optional (with prepare()): a run prepared early will not be launched (stopped while queued). */
  forget?(runUuid: string): void;
  /**
   * Optional: start building the run's image (Kubernetes: a kaniko pod pushing to the registry).
   * Executors without it cannot build: their runs use the host environment, and `kind: build` is refused.
   */
  build?(execution: ExecutionEntity, plan: BuildPlan): Promise<LaunchedProcess & { image: string }>;
  /** Optional (with build()): how the run's build goes; it reads everything it needs from the cluster, so it works after a restart. */
  inspectBuild?(execution: ExecutionEntity): Promise<BuildState>;
  /** Remove everything the executor keeps of a deleted run (working directory, outputs). */
  purge(execution: ExecutionEntity): Promise<void>;
  /**
   * Optional: free what a finished run keeps on this host (code snapshot, log files already shipped,
   * bookkeeping) after MYELIN_RUN_TTL_SECONDS. Never its outputs: they are the user's artifacts.
   */
  cleanWorkdir?(execution: Pick<ExecutionEntity, 'runUuid' | 'workdir'> & Partial<Pick<ExecutionEntity, 'parentUuid' | 'codeOf' | 'finishedAt'>>): Promise<void>;
  inspect(execution: ExecutionEntity): Promise<ProcessState>;
  /** Ask the run to stop (SIGTERM to its process group). */
  terminate(execution: ExecutionEntity): Promise<void>;
  /** Force it (SIGKILL to its process group). */
  kill(execution: ExecutionEntity): Promise<void>;
  /** Files holding the run's stdout and stderr, read by the log shipper. */
  logFiles(execution: ExecutionEntity): { stdout: string; stderr: string };
  /** Resolves when a process this executor started itself exits (faster than polling). */
  onExit(listener: (runUuid: string) => void): void;
  /** Optional: the run's latest condition as the executor sees it (Kubernetes); null when it knows nothing beyond inspect(). */
  condition?(execution: ExecutionEntity): ExecutorCondition | null;
  /** Optional: told when a run's condition changes while it has not ended (unschedulable, image pull back-off, running). */
  onCondition?(listener: (runUuid: string, condition: ExecutorCondition) => void): void;
  /** Optional: release what the executor holds (helper processes, watches) at shutdown; runs keep running. */
  close?(): void | Promise<void>;
}
