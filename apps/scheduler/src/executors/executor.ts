import type { ExecutionEntity } from '@myelin/persistence';

export interface LaunchedProcess {
  pid: number;
  /** Identifies the process beyond its pid (pids are reused). */
  pidStartTime: string | null;
  workdir: string;
}

export type ProcessState =
  | { state: 'running' }
  | { state: 'exited'; exitCode: number; signal?: string }
  /** Gone without leaving an exit code: killed together with its wrapper, or the host rebooted. */
  | { state: 'vanished' };

/** What the scheduler needs from a place that runs jobs (local processes now; Kubernetes later). */
export interface Executor {
  readonly name: string;
  /** `secrets` reach only the job's environment (its run token): never stored, never logged. */
  launch(execution: ExecutionEntity, secrets?: { runToken?: string }): Promise<LaunchedProcess>;
  /** Remove everything the executor keeps of a deleted run (working directory, outputs). */
  purge(execution: ExecutionEntity): Promise<void>;
  inspect(execution: ExecutionEntity): Promise<ProcessState>;
  /** Ask the run to stop (SIGTERM to its process group). */
  terminate(execution: ExecutionEntity): Promise<void>;
  /** Force it (SIGKILL to its process group). */
  kill(execution: ExecutionEntity): Promise<void>;
  /** Files holding the run's stdout and stderr, read by the log shipper. */
  logFiles(execution: ExecutionEntity): { stdout: string; stderr: string };
  /** Resolves when a process this executor started itself exits (faster than polling). */
  onExit(listener: (runUuid: string) => void): void;
}
