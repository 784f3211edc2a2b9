import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ACTIVE_STATUSES, isFinal, RunDeleted, RunStart, RunStatus, RunStop, RunTokenIssue } from '@myelin/contracts';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';
import { ExecutionEntity, ExecutionsRepository, Fence, OutboxRelay, QuotasRepository, StatusChange } from '@myelin/persistence';
import { EXECUTOR, RUN_LEASE, SCHEDULER_ENV } from '../tokens';
import { SchedulerEnv } from '../config/env';
import { Executor } from '../executors/executor';
import { LogShipper } from '../logs/log-shipper';
import { decideAdmission, queueOrder } from './admission';
import { admissionFields, toAdmissionRun, toQuota, toWaitingRun } from './admission-input';
import { RunLease } from './run-lease';
import { decideEnd, isOverdue } from './attempts';
import { DeviceLedger, ledgerFor } from './gpu-devices';
import { LivenessService } from './liveness.service';

/** The condition a run is queued with; also what it says while the global limit holds it back (so that costs no event). */
const queuedCondition = (maxParallel: number): StatusChange => ({
  status: 'queued',
  reason: 'Queued',
  message: `waiting for a free slot (global limit: ${maxParallel} runs at once)`,
});
/** Admission passes run at least this often even when nothing changed here (other replicas, quotas). */
const ADMISSION_EVERY_MS = 1000;

const LIVE: RunStatus[] = [...ACTIVE_STATUSES, 'stopping'];

/**
 * Turns start commands into processes and keeps every run's status true. Everything it decides
 * is in the executions table first; a restarted scheduler picks up queued runs, adopts processes
 * that kept running while it was down, and settles those that ended meanwhile.
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Scheduler');
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private stopped = false;
  private readonly exited = new Set<string>();
  /** Stopping runs this replica has sent SIGTERM to. */
  private readonly signalled = new Set<string>();
  private lastInspect = 0;
  /** Something changed that may let a waiting run start (a new run, an ended one, a quota). */
  private dirty = true;
  private lastAdmission = 0;
  private get queued(): StatusChange {
    return queuedCondition(this.env.MYELIN_MAX_PARALLEL);
  }

  constructor(
    private readonly executions: ExecutionsRepository,
    private readonly relay: OutboxRelay,
    private readonly shipper: LogShipper,
    @Inject(EXECUTOR) private readonly executor: Executor,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(SCHEDULER_ENV) private readonly env: SchedulerEnv,
    private readonly quotas: QuotasRepository,
    @Inject(RUN_LEASE) private readonly lease: RunLease,
    private readonly liveness: LivenessService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.executor.onExit((runUuid) => {
      this.exited.add(runUuid);
      this.poke();
    });
    this.relay.start();
    await this.resync();
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.ticking) await new Promise((r) => setTimeout(r, 10));
    await this.relay.stop();
    // Hand this replica's runs over at once (their processes keep running): another replica, or this
    // one restarted, adopts them at its next inspection instead of after the lease time.
    if (this.lease.shared) {
      const mine = (await this.executions.listForAdmission(LIVE).catch(() => [])).filter((e) => e.owner === this.lease.owner);
      for (const e of mine) await this.lease.release(e.runUuid).catch(() => undefined);
    }
    await this.lease.close();
  }

  /** Start command: queue the run once (a repeated command for a known run is ignored). */
  async start(command: RunStart.Payload): Promise<void> {
    const inserted = await this.executions.enqueue(
      newExecution({
        runUuid: command.runUuid,
        project: command.project,
        number: command.number,
        kind: command.kind,
        cmd: command.cmd,
        params: command.params,
        spec: command.spec,
        codeDir: command.codeDir ?? null,
        outputsOf: command.outputsOf ?? null,
        copyOutputsFrom: command.copyOutputsFrom ?? null,
        priority: command.priority ?? 0,
        maxRestarts: command.maxRestarts ?? this.env.MYELIN_MAX_RESTARTS,
        timeoutSeconds: command.timeoutSeconds ?? (this.env.MYELIN_RUN_TIMEOUT_SECONDS || null),
        executor: this.executor.name,
        ...admissionFields(command),
        statusReason: 'Queued',
        statusMessage: this.queued.message,
      }),
      this.queued,
    );
    this.dirty = true;
    if (!inserted) this.logger.debug(`run ${command.runUuid} already known; start command ignored`);
    this.relay.poke();
    this.poke();
  }

  /** Stop command: a queued run stops at once; a live one gets SIGTERM, then SIGKILL after the grace period. */
  async stop(command: RunStop.Payload): Promise<void> {
    const execution = await this.executions.find(command.runUuid);
    const reason = command.reason ?? 'stop requested';
    if (!execution) {
      // The stop overtook the start: remember the run as stopped so the late start is ignored.
      await this.executions.enqueue(
        newExecution({
          runUuid: command.runUuid,
          status: 'stopped',
          executor: this.executor.name,
          stopRequestedAt: new Date(),
          finishedAt: new Date(),
        }),
        { status: 'stopped', reason: 'Stopped', message: `${reason} (before it started)` },
      );
      await this.shipper.ship(command.runUuid, { stdout: '', stderr: '' }, { stdoutOffset: 0, stderrOffset: 0 }, true);
    } else if (isFinal(execution.status) || execution.status === 'stopping') {
      return;
    } else if (!execution.pid && !LIVE.includes(execution.status)) {
      await this.endLogs(execution);
      await this.executions.transition(
        execution.runUuid,
        { status: 'stopped', reason: 'Stopped', message: `${reason} (before it started)` },
        { stopRequestedAt: new Date(), finishedAt: new Date() },
      );
    } else {
      const row = await this.executions.transition(
        execution.runUuid,
        { status: 'stopping', reason: 'Stopping', message: reason },
        { stopRequestedAt: new Date() },
      );
      if (row) {
        // The replica supervising the run signals it (here when that is this one; else at its next inspection).
        if (row.pid && (!this.lease.shared || row.owner === this.lease.owner)) {
          await this.executor.terminate(row);
          this.signalled.add(row.runUuid);
        }
        // Look again right when the grace period ends (not at the next periodic inspection).
        const timer = setTimeout(() => {
          this.exited.add(row.runUuid);
          this.poke();
        }, this.env.MYELIN_STOP_GRACE_SECONDS * 1000 + 20);
        timer.unref();
      }
    }
    this.relay.poke();
    this.poke();
  }

  /** Run a pass now; `admission` when something changed that admission must look at again. */
  poke(admission = false): void {
    if (admission) this.dirty = true;
    if (!this.ticking) this.schedule(0);
  }

  /** After a restart, announce the current status of unfinished runs again (consumers may have missed it). */
  private async resync(): Promise<void> {
    const waiting: RunStatus[] = ['created', 'queued', 'retrying', 'unschedulable', 'warning', 'unknown'];
    const unfinished = await this.executions.listByStatus([...waiting, ...LIVE]);
    if (unfinished.length) {
      await this.executions.reannounce(unfinished);
      this.logger.log(`resuming ${unfinished.length} unfinished run(s) from the database`);
      for (const e of unfinished) if (LIVE.includes(e.status)) this.exited.add(e.runUuid); // inspect them now
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delayMs);
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      await this.superviseLive();
      await this.requeueRetries();
      await this.admit();
    } catch (error) {
      this.logger.error(`scheduler pass failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.ticking = false;
      this.relay.poke();
      this.schedule(this.env.MYELIN_SCHEDULER_TICK_MS);
    }
  }

  /**
   * One admission pass (one replica at a time): highest priority first, FIFO within a priority,
   * every limit and quota checked (./admission.ts). Runs that fit start; the others keep or get
   * the condition naming what holds them (announced only when it changes); a run that can never
   * fit becomes `unschedulable`, and back to `queued` when a quota grows.
   */
  private async admit(): Promise<void> {
    if (!this.dirty && Date.now() - this.lastAdmission < ADMISSION_EVERY_MS) return;
    await this.lease.exclusively(async () => {
      // Cleared only when this replica runs the pass (another replica may hold the admission lock now).
      this.dirty = false;
      this.lastAdmission = Date.now();
      const rows = await this.executions.listForAdmission(['queued', 'unschedulable', ...LIVE]);
      const waitingRows = rows.filter((r) => r.status === 'queued' || r.status === 'unschedulable');
      if (!waitingRows.length) return;
      const byUuid = new Map(waitingRows.map((r) => [r.runUuid, r]));
      const running = rows.filter((r) => LIVE.includes(r.status)).map(toAdmissionRun);
      // GPU devices of this host, from the live runs' rows (the database is the source of truth).
      const devices = ledgerFor(this.executor.name, this.env.MYELIN_GPU_DEVICES, rows.filter((r) => LIVE.includes(r.status)));
      const limits = {
        maxParallel: this.env.MYELIN_MAX_PARALLEL,
        perProject: this.env.MYELIN_MAX_PARALLEL_PER_PROJECT || null,
        quotas: (await this.quotas.list()).map(toQuota),
        gpuDevices: devices && { total: devices.total, free: devices.free },
      };
      const verdicts = decideAdmission(waitingRows.map(toWaitingRun).sort(queueOrder), running, limits);
      for (const verdict of verdicts) {
        if (this.stopped) return;
        const row = byUuid.get(verdict.runUuid)!;
        if (verdict.decision === 'start') {
          if (row.status === 'unschedulable') {
            await this.executions.transition(row.runUuid, { status: 'queued', reason: 'Admitted', message: 'fits its quotas now' });
          }
          await this.launch(row, devices);
        } else {
          const change: StatusChange =
            verdict.decision === 'never'
              ? { status: 'unschedulable', reason: verdict.reason, message: verdict.message }
              : verdict.reason === 'GlobalLimit'
                ? this.queued
                : { status: 'queued', reason: verdict.reason, message: verdict.message };
          // Unchanged (most waiting runs on most passes): nothing to write, nothing to announce.
          if (row.status === change.status && row.statusReason === change.reason && row.statusMessage === change.message) continue;
          if (row.status !== change.status) await this.executions.transition(row.runUuid, change);
          else await this.executions.updateCondition(row.runUuid, change);
        }
      }
    });
  }

  /**
   * Claim the run (lease + fencing token), move it to `starting` under that token, start the
   * process. The claim makes the start happen once even when replicas race for the same run; the
   * token makes every later status write of a replica that lost the claim fail.
   */
  private async launch(execution: ExecutionEntity, devices: DeviceLedger | null = null): Promise<void> {
    // GPU devices (local executor): taken for this pass, stored on the row with `starting`, freed when the run ends.
    const gpu = devices ? devices.assign(Number(execution.gpu)) : { devices: null };
    if (!gpu) return; // fewer free than admission counted: the next pass looks again
    const token = await this.lease.claim(execution.runUuid);
    if (token === null) return; // another replica holds it
    const starting = await this.executions.transition(
      execution.runUuid,
      { status: 'starting', reason: 'Starting', message: `starting on the ${this.executor.name} executor` },
      { startedAt: new Date(), attempt: execution.attempt, devices: gpu.devices },
      { token, claim: true, owner: this.lease.owner },
      'full',
    );
    if (!starting) {
      await this.lease.release(execution.runUuid); // stopped meanwhile, or already started by a replica
      return;
    }
    const fence: Fence = { token };
    try {
      // The token is issued while the executor prepares the run (they do not depend on each other).
      const launched = await this.executor.launch(starting, this.runToken(starting).then((runToken) => ({ runToken })));
      const recorded = await this.executions.patch(
        execution.runUuid,
        { pid: launched.pid, pidStartTime: launched.pidStartTime, workdir: launched.workdir },
        fence,
      );
      if (!recorded) {
        // Another replica took the run over while this one was starting it: this process must not run.
        this.logger.warn(`run ${execution.runUuid}: claim lost while starting; killing process ${launched.pid}`);
        await this.executor.kill({ ...starting, ...launched });
        return;
      }
      await this.executions.transition(
        execution.runUuid,
        { status: 'running', reason: 'Running', message: `process ${launched.pid} in ${launched.workdir}` },
        {},
        fence,
      );
    } catch (error) {
      const message = `could not start the process: ${error instanceof Error ? error.message : String(error)}`;
      await this.shipper.shipSystemLine(execution.runUuid, `myelin: ${message}`, `launch:${execution.attempt}`);
      await this.endLogs(starting);
      await this.executions.transition(execution.runUuid, { status: 'failed', reason: 'LaunchFailed', message }, { finishedAt: new Date() }, fence);
      await this.lease.release(execution.runUuid);
      this.dirty = true;
    }
  }

  /** Ship output of live runs, settle the ones that ended, force-kill stops past their grace period. */
  private async superviseLive(): Promise<void> {
    const inspectAll = Date.now() - this.lastInspect > 1000;
    if (inspectAll) this.lastInspect = Date.now();
    const live = await this.supervised(await this.executions.listForSupervision(LIVE), inspectAll);
    for (const execution of live) {
      const fence: Fence = { token: Number(execution.fence) };
      const files = this.executor.logFiles(execution);
      const offsets = { stdoutOffset: Number(execution.stdoutOffset), stderrOffset: Number(execution.stderrOffset) };
      const shipped = await this.shipper.ship(execution.runUuid, files, offsets, false);
      if (shipped.stdoutOffset !== offsets.stdoutOffset || shipped.stderrOffset !== offsets.stderrOffset) {
        await this.executions.patch(execution.runUuid, shipped, fence);
      }
      if (!inspectAll && !this.exited.has(execution.runUuid)) continue;
      this.exited.delete(execution.runUuid);
      const state = await this.executor.inspect(execution);
      if (state.state === 'running') {
        this.liveness.observedAlive(execution);
        if (execution.status === 'stopping' && execution.pid && !this.signalled.has(execution.runUuid)) {
          // Stopped through another replica, or while it was still starting: SIGTERM now, SIGKILL after the grace period.
          await this.executor.terminate(execution);
          this.signalled.add(execution.runUuid);
        }
        await this.enforceTimeout(execution, fence);
        await this.enforceGrace(execution);
        continue;
      }
      if (state.state === 'unknown') {
        // The executor cannot tell: a zombie once silent for MYELIN_ZOMBIE_SECONDS (./liveness.ts), else wait.
        if (await this.liveness.unknown(execution, state, fence)) {
          this.signalled.delete(execution.runUuid);
          await this.lease.release(execution.runUuid);
          this.dirty = true;
        }
        continue;
      }
      // The log stream ends with the run, not with an attempt that is retried.
      const ending = decideEnd(state, attemptRow(execution), this.retryPolicy);
      const offsetsNow = await this.shipper.ship(execution.runUuid, files, shipped, ending.status !== 'retrying');
      const settled = await this.executions.settle(
        execution.runUuid,
        (current) => withoutRetryDelay(decideEnd(state, attemptRow(current), this.retryPolicy)),
        (change, current) =>
          change.status === 'retrying'
            ? {
                ...offsetsNow,
                pid: null,
                pidStartTime: null,
                timedOutAt: null,
                attempt: current.attempt + 1,
                retryAt: new Date(Date.now() + (decideEnd(state, attemptRow(current), this.retryPolicy).retryInSeconds ?? 0) * 1000),
              }
            : { ...offsetsNow, finishedAt: new Date() },
        fence,
      );
      this.signalled.delete(execution.runUuid);
      if (settled) {
        // A stop that landed after the retry was decided ends the run here: close its log stream.
        if (settled.status !== 'retrying' && ending.status === 'retrying') await this.shipper.ship(execution.runUuid, files, offsetsNow, true);
        await this.lease.release(execution.runUuid);
        this.dirty = true;
      }
    }
    // The heartbeats of every run seen alive in this pass (and relayed from clients): one statement.
    await this.liveness.flush();
  }

  private get retryPolicy() {
    return { backoffSeconds: this.env.MYELIN_RETRY_BACKOFF_SECONDS, maxBackoffSeconds: this.env.MYELIN_RETRY_BACKOFF_MAX_SECONDS };
  }

  /** Retrying runs whose backoff is over go back to the queue (and through admission again). */
  private async requeueRetries(): Promise<void> {
    for (const row of await this.executions.listForSupervision(['retrying'])) {
      if (!row.retryAt || row.retryAt.getTime() > Date.now()) continue;
      const queued = await this.executions.transition(row.runUuid, {
        status: 'queued',
        reason: 'Retry',
        message: `attempt ${row.attempt + 1} of ${row.maxRestarts + 1} queued`,
      }, { retryAt: null });
      if (queued) this.dirty = true;
    }
  }

  /** A running attempt past its timeout gets SIGTERM (then SIGKILL after the grace period) and fails with reason Timeout. */
  private async enforceTimeout(execution: ExecutionEntity, fence: Fence): Promise<void> {
    if (execution.status !== 'running' || execution.timedOutAt || execution.stopRequestedAt) return;
    if (!isOverdue(execution.startedAt, execution.timeoutSeconds, Date.now())) return;
    const timedOutAt = new Date();
    if (!(await this.executions.patch(execution.runUuid, { timedOutAt }, fence))) return;
    this.logger.log(`run ${execution.runUuid} exceeded its timeout of ${execution.timeoutSeconds} s: SIGTERM`);
    await this.shipper.shipSystemLine(execution.runUuid, `myelin: the run exceeded its timeout of ${execution.timeoutSeconds} s; stopping it`, `timeout:${execution.attempt}`);
    await this.executor.terminate(execution);
    const timer = setTimeout(() => {
      this.exited.add(execution.runUuid);
      this.poke();
    }, this.env.MYELIN_STOP_GRACE_SECONDS * 1000 + 20);
    timer.unref();
  }

  /**
   * The live runs this replica looks after. Alone (no Redis): all of them. With replicas: the ones
   * it started, while its claims on them hold (renewed on each full inspection), plus orphans whose
   * replica's claim expired (it died): those are claimed with a new token and adopted.
   */
  private async supervised(live: ExecutionEntity[], renew: boolean): Promise<ExecutionEntity[]> {
    if (!this.lease.shared) return live;
    const mine = live.filter((e) => e.owner === this.lease.owner);
    if (!renew) return mine;
    const kept = await this.lease.renew(mine.map((e) => e.runUuid));
    for (const e of mine) if (!kept.has(e.runUuid)) this.logger.warn(`run ${e.runUuid}: claim lost; another replica supervises it now`);
    const result = mine.filter((e) => kept.has(e.runUuid));
    const others = live.filter((e) => e.owner !== this.lease.owner);
    const held = await this.lease.held(others.map((e) => e.runUuid));
    for (const orphan of others.filter((e) => !held.has(e.runUuid))) {
      const token = await this.lease.claim(orphan.runUuid);
      if (token === null) continue;
      if (await this.executions.adopt(orphan.runUuid, Number(orphan.fence), token, this.lease.owner)) {
        this.logger.log(`run ${orphan.runUuid}: adopted from ${orphan.owner ?? 'an earlier scheduler'}`);
        this.exited.add(orphan.runUuid);
        result.push({ ...orphan, fence: token, owner: this.lease.owner });
      } else {
        await this.lease.release(orphan.runUuid);
      }
    }
    return result;
  }

  /**
   * Ask the API for the run's own token. Without one the job still runs (and still reports
   * through stdout); only its calls to the tracking API would be refused, which the log says.
   */
  private async runToken(execution: ExecutionEntity): Promise<string | undefined> {
    try {
      return (await this.bus.request<RunTokenIssue.Reply>(RunTokenIssue.PATTERN, { runUuid: execution.runUuid }, 5000)).token;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn(`run ${execution.runUuid}: no run token (${reason})`);
      await this.shipper.shipSystemLine(execution.runUuid, `myelin: started without a run token (${reason}); tracking API calls from the job will be refused`, `token:${execution.attempt}`);
      return undefined;
    }
  }

  /** A deleted run: stop its process if any, remove its working directory and outputs, forget it. */
  async deleted(event: RunDeleted.Payload): Promise<void> {
    const execution = await this.executions.find(event.runUuid);
    if (!execution) return;
    await this.executor.purge(execution);
    await this.executions.remove(event.runUuid);
  }

  /** Tell log followers there is nothing more to come (for runs that end without a process). */
  private async endLogs(execution: ExecutionEntity): Promise<void> {
    const offsets = { stdoutOffset: Number(execution.stdoutOffset), stderrOffset: Number(execution.stderrOffset) };
    await this.shipper.ship(execution.runUuid, this.executor.logFiles(execution), offsets, true);
  }

  private async enforceGrace(execution: ExecutionEntity): Promise<void> {
    const since = execution.status === 'stopping' ? execution.stopRequestedAt : execution.timedOutAt;
    if (!since) return;
    const elapsed = Date.now() - since.getTime();
    if (elapsed >= this.env.MYELIN_STOP_GRACE_SECONDS * 1000) {
      this.logger.warn(`run ${execution.runUuid} ignored SIGTERM for ${Math.round(elapsed / 1000)} s: SIGKILL`);
      await this.executor.kill(execution);
      this.exited.add(execution.runUuid);
    }
  }
}

type NewExecution = Omit<ExecutionEntity, 'createdAt' | 'updatedAt'>;

/** An executions row with every field the scheduler has not learnt yet at its defaults. */
function newExecution(fields: Partial<NewExecution> & Pick<NewExecution, 'runUuid' | 'executor'>): NewExecution {
  return {
    project: '',
    number: 0,
    kind: 'experiment',
    cmd: '',
    params: {},
    spec: {},
    codeDir: null,
    outputsOf: null,
    copyOutputsFrom: null,
    priority: 0,
    status: 'queued',
    attempt: 0,
    maxRestarts: 0,
    pid: null,
    pidStartTime: null,
    workdir: null,
    stdoutOffset: 0,
    stderrOffset: 0,
    exitCode: null,
    stopRequestedAt: null,
    startedAt: null,
    finishedAt: null,
    submitter: null,
    teams: [],
    parentUuid: null,
    parentKind: null,
    parentConcurrency: null,
    cpu: 0,
    memoryMb: 0,
    gpu: 0,
    devices: null,
    statusReason: null,
    statusMessage: null,
    fence: 0,
    owner: null,
    retryAt: null,
    timeoutSeconds: null,
    timedOutAt: null,
    heartbeatAt: null,
    workdirCleanedAt: null,
    ...fields,
  };
}

function attemptRow(e: ExecutionEntity) {
  return {
    attempt: e.attempt,
    maxRestarts: e.maxRestarts,
    stopRequested: e.stopRequestedAt !== null,
    timedOut: e.timedOutAt !== null,
    timeoutSeconds: e.timeoutSeconds,
  };
}

function withoutRetryDelay(change: ReturnType<typeof decideEnd>): StatusChange {
  return { status: change.status, reason: change.reason, message: change.message, ...(change.exitCode !== undefined ? { exitCode: change.exitCode } : {}) };
}
