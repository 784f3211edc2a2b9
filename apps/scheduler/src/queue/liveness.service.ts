import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ACTIVE_STATUSES, RunHeartbeat, RunStatus } from '@myelin/contracts';
import { ExecutionEntity, ExecutionsRepository, Fence } from '@myelin/persistence';
import { EXECUTOR, SCHEDULER_ENV } from '../tokens';
import { SchedulerEnv } from '../config/env';
import { Executor, ProcessState } from '../executors/executor';
import { LogShipper } from '../logs/log-shipper';
import { decideLiveness, heartbeatDue, heartbeatEverySeconds, LivenessPolicy } from './liveness';

const LIVE: RunStatus[] = [...ACTIVE_STATUSES, 'stopping'];
/** Finished runs cleaned per cleanup pass (the next pass takes the rest). */
const CLEANUP_BATCH = 500;

/**
 * Heartbeats, zombies and the TTL of working directories, for the scheduler's supervision pass:
 * - runs the executor saw alive, and heartbeats relayed from tracking clients, are written in one
 *   UPDATE per pass, at most once per run per throttle period (./liveness.ts);
 * - a run the executor cannot see fails as a zombie once silent for MYELIN_ZOMBIE_SECONDS;
 * - with MYELIN_RUN_TTL_SECONDS, finished runs' working directories are cleaned once a minute,
 *   claimed by one statement (each run once, whichever replica claims it).
 */
@Injectable()
export class LivenessService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Liveness');
  /** Runs to write a heartbeat for at the end of the pass. */
  private readonly due = new Set<string>();
  private cleanupTimer?: NodeJS.Timeout;
  private cleaning?: Promise<number>;

  constructor(
    private readonly executions: ExecutionsRepository,
    private readonly shipper: LogShipper,
    @Inject(EXECUTOR) private readonly executor: Executor,
    @Inject(SCHEDULER_ENV) private readonly env: SchedulerEnv,
  ) {}

  get policy(): LivenessPolicy {
    return { zombieSeconds: this.env.MYELIN_ZOMBIE_SECONDS, heartbeatEverySeconds: heartbeatEverySeconds(this.env.MYELIN_ZOMBIE_SECONDS) };
  }

  onApplicationBootstrap(): void {
    const ttl = this.env.MYELIN_RUN_TTL_SECONDS;
    if (!ttl || !this.executor.cleanWorkdir) return;
    const every = Math.max(1000, Math.min(60_000, ttl * 1000));
    this.cleanupTimer = setInterval(() => void this.cleanupWorkdirs().catch((e: unknown) => this.logger.warn(`workdir cleanup failed: ${String(e)}`)), every);
    this.cleanupTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.cleanupTimer) clearInterval(this.cleanupTimer);
    await this.cleaning?.catch(() => undefined);
  }

  /** The executor saw the run's process or pod alive: its heartbeat is written with the pass when due. */
  observedAlive(execution: Pick<ExecutionEntity, 'runUuid' | 'heartbeatAt'>): void {
    if (heartbeatDue(execution.heartbeatAt ?? null, Date.now(), this.policy.heartbeatEverySeconds)) this.due.add(execution.runUuid);
  }

  /** A heartbeat from the run's tracking client (relayed by tracking): written with the next pass. */
  clientHeartbeat(event: RunHeartbeat.Payload): void {
    this.due.add(event.runUuid);
  }

  /** One statement for every heartbeat of the pass (none when nothing is due). */
  async flush(): Promise<void> {
    if (!this.due.size) return;
    const runUuids = [...this.due];
    this.due.clear();
    const now = Date.now();
    await this.executions.touchHeartbeats(runUuids, LIVE, new Date(now), new Date(now - this.policy.heartbeatEverySeconds * 1000));
  }

  /**
   * The executor cannot tell whether the run lives: wait for a sign of life, or fail it as a zombie
   * (through the state machine, under the run's fencing token; the decision is made again under the
   * row lock, so a heartbeat written meanwhile wins). Returns the settled row, or null.
   */
  async unknown(execution: ExecutionEntity, state: Extract<ProcessState, { state: 'unknown' }>, fence: Fence): Promise<ExecutionEntity | null> {
    const row = (e: ExecutionEntity) => ({ heartbeatAt: e.heartbeatAt ?? null, startedAt: e.startedAt, stopRequested: e.stopRequestedAt !== null });
    if (decideLiveness(state, row(execution), Date.now(), this.policy).verdict !== 'zombie') return null;
    const settled = await this.executions.settle(
      execution.runUuid,
      (current) => {
        const again = decideLiveness(state, row(current), Date.now(), this.policy);
        // A heartbeat landed meanwhile: the same status again, which the state machine refuses (nothing is written).
        return again.verdict === 'zombie' ? again.change : { status: current.status, reason: 'Alive', message: '' };
      },
      { finishedAt: new Date() },
      fence,
    );
    if (!settled) return null;
    this.logger.warn(`run ${execution.runUuid}: ${settled.statusReason}: ${settled.statusMessage ?? ''}`);
    // Whatever may still exist of it (a pod created late) must not run on unsupervised.
    await this.executor.kill(execution).catch(() => undefined);
    await this.shipper.shipSystemLine(execution.runUuid, `myelin: the run is a zombie: ${settled.statusMessage ?? ''}`, `zombie:${execution.attempt}`);
    const offsets = { stdoutOffset: Number(execution.stdoutOffset), stderrOffset: Number(execution.stderrOffset) };
    await this.shipper.ship(execution.runUuid, this.executor.logFiles(execution), offsets, true);
    return settled;
  }

  /** Remove what finished runs older than the TTL keep on this host (never their outputs). Returns the runs cleaned. */
  cleanupWorkdirs(): Promise<number> {
    this.cleaning ??= this.cleanOnce().finally(() => (this.cleaning = undefined));
    return this.cleaning;
  }

  private async cleanOnce(): Promise<number> {
    const clean = this.executor.cleanWorkdir?.bind(this.executor);
    const ttl = this.env.MYELIN_RUN_TTL_SECONDS;
    if (!clean || !ttl) return 0;
    const now = Date.now();
    const rows = await this.executions.claimWorkdirCleanup(this.executor.name, new Date(now - ttl * 1000), new Date(now), CLEANUP_BATCH);
    for (const r of rows) {
      try {
        await clean(r);
      } catch (error) {
        // Claimed already: not retried (a disk problem would make every pass fail on the same runs).
        this.logger.warn(`run ${r.runUuid}: could not clean its working directory: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (rows.length) this.logger.log(`cleaned the working directories of ${rows.length} finished run(s) older than ${ttl} s (outputs kept)`);
    return rows.length;
  }
}
