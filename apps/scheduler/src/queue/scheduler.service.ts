import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ACTIVE_STATUSES, isFinal, RunDeleted, RunStart, RunStatus, RunStop, RunTokenIssue } from '@myelin/contracts';
import { MESSAGE_BUS, MessageBus, RemoteError } from '@myelin/bus';
import { processTurnBudget } from '@myelin/runtime';
import { BuildsRepository, ExecutionEntity, ExecutionsRepository, Fence, OutboxRelay, QuotasRepository, StatusChange } from '@myelin/persistence';
import { EXECUTOR, RUN_LEASE, SCHEDULER_ENV } from '../tokens';
import { SchedulerEnv } from '../config/env';
import { Executor, ExecutorCondition, LaunchOptions, ProcessState } from '../executors/executor';
import { BUILD_NEEDS_KUBERNETES, BuildPlan, describeCodeRef, localBuildNotice, planRunBuild } from '../builds/build-plan';
import { LogShipper } from '../logs/log-shipper';
import { decideAdmission, queueOrder, type Quota } from './admission';
import { admissionFields, launched, toAdmissionRun, toQuota, toWaitingRun } from './admission-input';
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
/** Live runs' new log lines are shipped at most this often (`myelin logs -f` sees them this late at most, plus the relay). */
const LOG_SHIP_EVERY_MS = 200;
/** Admission passes run at least this often even when nothing changed here (other replicas, quotas). */
const ADMISSION_EVERY_MS = 1000;
/** Run tokens asked for ahead of admission at most (the next runs to start, in a burst). */
const MAX_PREFETCHED_TOKENS = 64;
/** How many waiting runs, in queue order, admission asks tokens for ahead. */
const TOKENS_AHEAD = 32;
/** A token asked for ahead and not taken within this time is dropped (its run was started elsewhere, or waits long). */
const PREFETCHED_TOKEN_TTL_MS = 60_000;

/** A run token request's outcome: the token, `later` (the API did not answer) or `refused` (it said no). */
type TokenOutcome = { token: string } | { later: string } | { refused: string };
/**
 * Between those full passes, a pass reads only the head of the queue: the free slots plus this
 * many runs (some may be held by their project's limit or a quota). Reading the whole queue on
 * every pass made each start cost O(queue length): 1,000 queued runs took 5x as long as 300.
 */
const QUEUE_HEAD_MARGIN = 64;
/** Live runs a supervision pass looks after at once (each reads log files and may write its status). */
const SUPERVISE_CONCURRENCY = 16;
/** A run seen ended whose end is not recorded after this long counts as live again (see isEnding). */
const ENDING_FORGOTTEN_MS = 10_000;

const LIVE: RunStatus[] = [...ACTIVE_STATUSES, 'stopping'];
/** Statuses a launched run takes while its pods wait, from the executor's conditions (Kubernetes); admission's `unschedulable` runs were never launched. */
const HELD: RunStatus[] = ['unschedulable', 'warning', 'unknown'];
/** The run holds resources and is supervised: live, or launched and held by the executor's condition. */
const isSupervised = (e: ExecutionEntity): boolean => LIVE.includes(e.status) || (HELD.includes(e.status) && launched(e));

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
  /** A supervision pass is under way, and how many runs it looks after (see start()). */
  private supervising = false;
  private supervisedCount = 0;
  /** Runs the last admission pass left waiting (a hint: does a run queued now wait behind others?). */
  private waitingAfterAdmission = 0;
  /** Runs this replica is starting now. */
  private readonly launching = new Set<string>();
  /**
   * Runs whose process this replica saw end, while their end is being recorded: their slots are
   * free already (admission does not count them), so the next run starts beside that write
   * instead of after it.
   */
  private readonly ending = new Map<string, number>();
  /** Runs a supervision pass is looking at now, and runs whose end is recorded outside a pass (see recordEndAtNotice). */
  private readonly inPass = new Set<string>();
  private readonly recordingAtNotice = new Set<string>();
  /** Runs whose notice came again while their end was being looked at (see recordEndAtNotice). */
  private readonly noticeAgain = new Set<string>();
  /** The admission pass under way, which callers join rather than run a second one beside it. */
  private admitting?: Promise<void>;
  /** Another admission pass is due once the one under way ends (see admitOnce). */
  private admitAgain = false;
  /** Starts decided by admission passes that did not wait for them (see startsOverlapPasses). */
  private readonly startsInFlight = new Set<Promise<void>>();
  private pokedWhileTicking = false;
  private stopped = false;
  private readonly exited = new Set<string>();
  /** Stopping runs this replica has sent SIGTERM to. */
  private readonly signalled = new Set<string>();
  private lastInspect = 0;
  private lastShip = 0;
  /** Something changed that may let a waiting run start (a new run, an ended one, a quota). */
  private dirty = true;
  /**
   * The last admission pass left a slot free under the global limit (or found nothing waiting):
   * a run queued now may start at once. When every slot is taken, a new run needs no pass of its
   * own (see start()).
   */
  private slotMayBeFree = true;
  /** The quotas as last read, and when (see quotasNow). */
  private quotasRead?: { at: number; quotas: Quota[] };
  private lastAdmission = 0;
  /** When the last pass that read the whole queue ran (conditions of every waiting run, `unschedulable` verdicts). */
  private lastFullAdmission = 0;
  /** When the earliest retry known here is due, and when retrying runs were last read (see requeueRetries). */
  private nextRetryAt = 0;
  private lastRetryCheck = 0;
  /** The last supervision pass found no run to look after (see superviseLive). */
  private nothingLive = false;
  /** Since when the message bus is down (no run starts meanwhile). */
  private busDownSince?: number;
  /** No admission before this time: the API did not answer a token request (see launch). */
  private apiWaitUntil = 0;
  /** Token requests of runs whose image was built, by run: the outcome once the API answered (see builtRunToken). */
  private readonly buildTokens = new Map<string, { outcome: TokenOutcome | null }>();
  /** Tokens asked for ahead, by run (see prefetchRunToken). */
  private readonly prefetched = new Map<string, { outcome: Promise<TokenOutcome>; at: number }>();
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
    private readonly builds: BuildsRepository,
  ) {}
  /** Executor conditions are applied one at a time, in the order they came. */
  private conditions: Promise<void> = Promise.resolve();

  /**
   * The HTTP requests of this process (all the services of `myelin up` share it): held from a
   * run's end or a new run with a free slot until the pass that records it and fills the slot is
   * over, so the steps of that pass do not each wait behind the requests of a flood of
   * submissions (see TurnBudget.hold).
   */
  private readonly requests = processTurnBudget(this.env.MYELIN_HTTP_REQUESTS_PER_TURN);
  private releaseRequests?: () => void;

  private holdRequests(): void {
    this.releaseRequests ??= this.requests.hold();
  }

  private letRequestsGo(): void {
    this.releaseRequests?.();
    this.releaseRequests = undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.executor.onExit((runUuid) => {
      this.exited.add(runUuid);
      this.holdRequests();
      this.lookAtExitNow(runUuid);
      this.poke();
    });
    this.executor.onCondition?.((runUuid, condition) => void this.applyConditionInTurn(runUuid, () => condition).catch(() => undefined));
    this.relay.start();
    await this.resync();
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.ticking) await new Promise((r) => setTimeout(r, 10));
    while (this.admitting || this.startsInFlight.size) await Promise.allSettled([this.admitting, ...this.startsInFlight]);
    this.letRequestsGo();
    await this.relay.stop();
    // Hand this replica's runs over at once (their processes keep running): another replica, or this
    // one restarted, adopts them at its next inspection instead of after the lease time.
    if (this.lease.shared) {
      const mine = (await this.executions.listLean(LIVE).catch(() => [])).filter((e) => e.owner === this.lease.owner);
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
        codeOf: command.codeOf ?? null,
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
    // With every slot taken (alone on its runs), the new run waits for a slot whatever a pass
    // finds: the pass that a freed slot sets off admits it, and the once-a-second full pass writes
    // its condition (until then the one written with it, the global limit's, which is the one that
    // holds it). In a queue that never empties, half the passes were for runs that could not start.
    if (this.lease.shared || this.slotMayBeFree) this.dirty = true;
    if (!inserted) this.logger.debug(`run ${command.runUuid} already known; start command ignored`);
    else if (command.kind === 'build' && !this.executor.build) await this.refuseBuild(command.runUuid);
    // Its directory and code are made ready while it waits: admitted, it only starts the process.
    else {
      this.prefetchRunToken(command.runUuid);
      // Behind others (runs left waiting by the last admission, or every slot taken): it has time.
      const waits = this.waitingAfterAdmission > 0 || this.supervisedCount + this.launching.size >= this.env.MYELIN_MAX_PARALLEL;
      // Else it may start now: the next pass goes before new requests.
      if (!waits) this.holdRequests();
      this.executor.prepare?.({
        runUuid: command.runUuid,
        cmd: command.cmd,
        codeDir: command.codeDir ?? null,
        parentUuid: command.parentUuid ?? null,
        codeOf: command.codeOf ?? null,
        outputsOf: command.outputsOf ?? null,
        copyOutputsFrom: command.copyOutputsFrom ?? null,
      }, { waits });
    }
    this.relay.poke();
    this.poke();
    // A supervision pass can take tens of ms with many runs live (log files read, ends recorded):
    // a run queued meanwhile is admitted beside it instead of after it, when a slot may be free.
    if (inserted && this.supervising && this.supervisedCount < this.env.MYELIN_MAX_PARALLEL) {
      this.admitInBackground();
    }
  }

  /** An admission pass nobody waits for: a failure is logged (the next tick tries again). */
  private admitInBackground(): void {
    this.admitOnce().catch((error: unknown) => this.logger.error(`admission failed: ${error instanceof Error ? error.message : String(error)}`));
  }

  private admitOnce(): Promise<void> {
    if (this.admitting) {
      // The pass under way may have read the runs before what the caller changed (a slot freed):
      // another one follows it at once.
      this.admitAgain = true;
      return this.admitting;
    }
    this.admitting = this.admit().finally(() => {
      this.admitting = undefined;
      if (!this.admitAgain || this.stopped) return;
      this.admitAgain = false;
      if (this.dirty) this.admitInBackground();
    });
    return this.admitting;
  }

  /**
   * Alone on its runs (no replicas) and without GPU devices to hand out, an admission pass does not
   * wait for the starts it decided: the next pass counts them from `launching` instead of their
   * rows. A slot freed while a pass's starts go on (tens of ms in a flood of submissions) is
   * filled at once, not after them. Replicas and GPU assignment keep passes one after the other:
   * other replicas see only rows, and a device is taken in the row with `starting`.
   */
  private get startsOverlapPasses(): boolean {
    return !this.lease.shared && this.env.MYELIN_GPU_DEVICES.trim() === '';
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
    } else if (!launched(execution) && !LIVE.includes(execution.status)) {
      this.executor.forget?.(execution.runUuid);
      this.prefetched.delete(execution.runUuid);
      this.buildTokens.delete(execution.runUuid);
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
        if (launched(row) && (!this.lease.shared || row.owner === this.lease.owner)) {
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
    // A poke during a pass is not lost: the next pass follows it at once (not after the tick interval).
    if (this.ticking) this.pokedWhileTicking = true;
    else this.schedule(0);
  }

  /** After a restart, announce the current status of unfinished runs again (consumers may have missed it). */
  private async resync(): Promise<void> {
    const waiting: RunStatus[] = ['created', 'queued', 'retrying', 'unschedulable', 'warning', 'unknown'];
    const unfinished = await this.executions.listByStatus([...waiting, ...LIVE]);
    if (unfinished.length) {
      await this.executions.reannounce(unfinished);
      this.logger.log(`resuming ${unfinished.length} unfinished run(s) from the database`);
      for (const e of unfinished) if (isSupervised(e)) this.exited.add(e.runUuid); // inspect them now
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
      // Admission first, so a new run does not wait for the supervision of the others; again
      // after supervision when it settled runs (their slots are free now).
      await this.requeueRetries();
      await this.admitOnce();
      this.supervising = true;
      try {
        await this.superviseLive();
      } finally {
        this.supervising = false;
      }
      // (Also joins an admission a new run or an ended one started during supervision: its
      // launches are over before the next pass reads the live runs. That admission may have read
      // the runs before the last ends were recorded: then a pass again, for their slots.)
      await this.admitOnce();
      if (this.dirty) await this.admitOnce();
    } catch (error) {
      this.logger.error(`scheduler pass failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.ticking = false;
      const again = this.pokedWhileTicking;
      this.pokedWhileTicking = false;
      // The work the requests were held for is done, unless another pass follows at once for more.
      if (!again) this.letRequestsGo();
      this.schedule(again ? 0 : this.env.MYELIN_SCHEDULER_TICK_MS);
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
    if (!this.bus.health().connected) {
      // Nothing starts while the bus is down: a job started now would get no run token (issued by
      // the API over the bus) and its status events would wait in the outbox. Waiting runs stay
      // queued; the pass runs again once the bus is back (the timer keeps ticking).
      if (!this.busDownSince) this.logger.warn('message bus down: no run starts until it is back');
      this.busDownSince ??= Date.now();
      return;
    }
    // The API did not issue a token a moment ago: starting others now would only wait on it again.
    if (Date.now() < this.apiWaitUntil) return;
    if (this.busDownSince) {
      this.logger.log(`message bus back after ${Math.round((Date.now() - this.busDownSince) / 1000)} s: starting runs again`);
      this.busDownSince = undefined;
    }
    await this.lease.exclusively(async () => {
      // Cleared only when this replica runs the pass (another replica may hold the admission lock now).
      this.dirty = false;
      this.lastAdmission = Date.now();
      const { rows, taken } = await this.admissionRows();
      // (A run being started by an earlier pass is not waiting: it holds its slot, below.)
      const waitingRows = rows.filter((r) => (r.status === 'queued' || r.status === 'unschedulable') && !launched(r) && !this.launching.has(r.runUuid));
      if (!waitingRows.length) {
        // (With every slot taken only the held runs are read: 0 then, and the slots say the rest.)
        this.waitingAfterAdmission = 0;
        this.slotMayBeFree = taken < this.env.MYELIN_MAX_PARALLEL;
        return;
      }
      const byUuid = new Map(waitingRows.map((r) => [r.runUuid, r]));
      // (Read after the rows: a run seen ended meanwhile is left out, whether its end is recorded
      // in these rows or not. One recorded since the read still counts: a start less, never more.)
      const holding = rows.filter((r) => !this.isEnding(r.runUuid));
      const running = holding.filter((r) => isSupervised(r) || this.launching.has(r.runUuid)).map(toAdmissionRun);
      // GPU devices of this host, from the live runs' rows (the database is the source of truth).
      const devices = ledgerFor(this.executor.name, this.env.MYELIN_GPU_DEVICES, holding.filter((r) => LIVE.includes(r.status)));
      const limits = {
        maxParallel: this.env.MYELIN_MAX_PARALLEL,
        perProject: this.env.MYELIN_MAX_PARALLEL_PER_PROJECT || null,
        quotas: await this.quotasNow(),
        gpuDevices: devices && { total: devices.total, free: devices.free },
      };
      const verdicts = decideAdmission(waitingRows.map(toWaitingRun).sort(queueOrder), running, limits);
      this.waitingAfterAdmission = verdicts.filter((v) => v.decision !== 'start').length;
      this.slotMayBeFree = taken + verdicts.filter((v) => v.decision === 'start').length < limits.maxParallel;
      // The next runs in line get their tokens asked for now: a slot freed later is filled without a
      // round trip to the API on the way (in a burst, most runs are admitted this way).
      let ahead = 0;
      for (const verdict of verdicts) {
        if (verdict.decision !== 'wait' || ahead >= TOKENS_AHEAD) continue;
        ahead++;
        this.prefetchRunToken(verdict.runUuid);
      }
      // The runs admitted in a pass start side by side: their status writes go in the same groups
      // (ExecutionsRepository.settle), and one run's token request or process start does not hold
      // up the next (a wave of 32 started one after the other took longer than the runs themselves).
      const launches: Array<Promise<void>> = [];
      for (const verdict of verdicts) {
        if (this.stopped) break;
        const row = byUuid.get(verdict.runUuid)!;
        if (verdict.decision === 'start') {
          // Its slot is held from the decision on (a pass that does not wait for this start counts it).
          this.launching.add(row.runUuid);
          launches.push(
            (async () => {
              try {
                if (row.status === 'unschedulable') {
                  await this.executions.transition(row.runUuid, { status: 'queued', reason: 'Admitted', message: 'fits its quotas now' });
                }
                await this.launch(row, devices);
              } finally {
                this.launching.delete(row.runUuid);
              }
            })(),
          );
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
      if (!this.startsOverlapPasses) return this.allSettled(launches, 'start');
      for (const launch of launches) {
        const settled: Promise<void> = this.allSettled([launch], 'start').finally(() => this.startsInFlight.delete(settled));
        this.startsInFlight.add(settled);
      }
    });
  }

  /**
   * The quotas admission decides with, read again once a second and at once after a change made
   * through this replica (quotasChanged): every pass read them, several a second in a busy queue.
   * A change made through another replica is seen here within that second.
   */
  private async quotasNow(): Promise<Quota[]> {
    if (!this.quotasRead || Date.now() - this.quotasRead.at >= ADMISSION_EVERY_MS) {
      this.quotasRead = { at: Date.now(), quotas: (await this.quotas.list()).map(toQuota) };
    }
    return this.quotasRead.quotas;
  }

  /** A quota was set or removed through this replica: the next pass reads them again, and may admit or refuse runs. */
  quotasChanged(): void {
    this.quotasRead = undefined;
    this.poke(true);
  }

  /** Wait for work done side by side; a failure is logged per run (the pass goes on, as for one run). */
  private async allSettled(work: Array<Promise<void>>, what: string): Promise<void> {
    for (const outcome of await Promise.allSettled(work)) {
      if (outcome.status === 'rejected') {
        this.logger.error(`${what} failed: ${outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason)}`);
      }
    }
  }

  /**
   * What an admission pass decides on: every held and live run, and the waiting ones. Once a
   * second (and on a replica's first pass) the whole queue, so every waiting run's condition is
   * current and a run that can never fit becomes `unschedulable`; in between only the head of the
   * queue, and nothing of it when no slot is free. Runs beyond the head keep their condition
   * until the next full pass; none of them could start before the ones ahead anyway, except
   * around a project limit or a quota, and then at most a second later. With them, the slots
   * they take (slotsTaken).
   */
  private async admissionRows(): Promise<{ rows: ExecutionEntity[]; taken: number }> {
    if (Date.now() - this.lastFullAdmission >= ADMISSION_EVERY_MS) {
      this.lastFullAdmission = Date.now();
      const rows = await this.executions.listLean(['queued', ...HELD, ...LIVE]);
      return { rows, taken: this.slotsTaken(rows) };
    }
    const held = await this.executions.listLean([...HELD, ...LIVE]);
    const taken = this.slotsTaken(held);
    const free = this.env.MYELIN_MAX_PARALLEL - taken;
    // (Queued rows take no slot: the count of the held ones is the count of all.)
    return { rows: free > 0 ? [...held, ...(await this.executions.listQueueHead(free + QUEUE_HEAD_MARGIN))] : held, taken };
  }

  /** Slots under the global limit taken now: runs being started, and supervised runs whose end is not being recorded. */
  private slotsTaken(rows: ExecutionEntity[]): number {
    return this.launching.size + rows.filter((r) => isSupervised(r) && !this.isEnding(r.runUuid) && !this.launching.has(r.runUuid)).length;
  }

  /**
   * Claim the run (lease + fencing token), move it to `starting` under that token, start the
   * process. The claim makes the start happen once even when replicas race for the same run; the
   * token makes every later status write of a replica that lost the claim fail.
   */
  private async launch(execution: ExecutionEntity, devices: DeviceLedger | null = null): Promise<void> {
    // Supervision leaves a run alone while this replica starts it (an admission can run beside a
    // supervision pass, see start()): its row may say `starting` before its pid is recorded.
    this.launching.add(execution.runUuid);
    try {
      await this.launchRun(execution, devices);
    } finally {
      this.launching.delete(execution.runUuid);
      // Over before its start was recorded (a short job), while a pass is under way: as at its notice.
      if (this.exited.has(execution.runUuid)) this.lookAtExitNow(execution.runUuid);
    }
  }

  private async launchRun(execution: ExecutionEntity, devices: DeviceLedger | null): Promise<void> {
    this.nothingLive = false; // supervision looks again at its next pass
    if (execution.kind === 'build' && !this.executor.build) return this.refuseBuild(execution.runUuid);
    // GPU devices (local executor): taken for this pass, stored on the row with `starting`, freed when the run ends.
    const gpu = devices ? devices.assign(Number(execution.gpu)) : { devices: null };
    if (!gpu) return; // fewer free than admission counted: the next pass looks again
    const token = await this.lease.claim(execution.runUuid);
    if (token === null) return; // another replica holds it
    // An executor that builds images (Kubernetes): a run that needs one is `building` first, unless the build cache has it.
    const build = this.executor.build ? await this.buildFor(execution) : null;
    if (build && 'error' in build) {
      const failed = await this.executions.transition(
        execution.runUuid,
        { status: 'failed', reason: 'BuildFailed', message: build.error },
        { finishedAt: new Date() },
        { token, claim: true, owner: this.lease.owner },
      );
      if (failed) await this.endLogs(failed);
      await this.lease.release(execution.runUuid);
      return;
    }
    if (build && !build.image) return this.startBuild(execution, build.plan, token);
    // The run's own token first: a job started without one could not report through the tracking
    // API (its params, metrics and artifacts would be refused). No token, no start: the run stays
    // queued while the API does not answer, and is not started at all when the API refuses it.
    const issued = await this.takeRunToken(execution);
    if (!('token' in issued)) {
      if ('refused' in issued) {
        const failed = await this.executions.transition(
          execution.runUuid,
          { status: 'failed', reason: 'TokenRefused', message: `not started: the API refused the run's token (${issued.refused})` },
          { finishedAt: new Date() },
          { token, claim: true, owner: this.lease.owner },
        );
        if (failed) await this.endLogs(failed);
      } else {
        this.apiWaitUntil = Date.now() + this.env.MYELIN_RUN_TOKEN_TIMEOUT_SECONDS * 1000;
        await this.executions.updateCondition(execution.runUuid, {
          status: 'queued',
          reason: 'WaitingForApi',
          message: `waiting for the API to issue the run's token (${issued.later}); admission tries again in ${this.env.MYELIN_RUN_TOKEN_TIMEOUT_SECONDS} s`,
        });
      }
      await this.lease.release(execution.runUuid);
      return;
    }
    const runToken = Promise.resolve(issued.token);
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
    if (build?.image && build.plan.buildOnly) {
      // A `kind: build` whose image is in the cache: nothing to do.
      await this.shipper.shipSystemLine(execution.runUuid, `myelin: ${build.note}`, `build-cache:${execution.attempt}`);
      await this.endLogs(starting);
      await this.executions.transition(execution.runUuid, { status: 'succeeded', reason: 'Cached', message: build.note, exitCode: 0 }, { finishedAt: new Date() }, fence);
      await this.lease.release(execution.runUuid);
      this.dirty = true;
      return;
    }
    if (build?.image) await this.shipper.shipSystemLine(execution.runUuid, `myelin: ${build.note}`, `build-cache:${execution.attempt}`);
    await this.startProcess(starting, fence, build?.image ? { image: build.image } : {}, runToken);
  }

  /** Start the run's process or pods on a row that is `starting` under `fence`. */
  private async startProcess(starting: ExecutionEntity, fence: Fence, options: LaunchOptions, runToken: Promise<string>): Promise<void> {
    const execution = starting;
    try {
      // Issued before `starting` was written (see launch and superviseBuild).
      const launched = await this.executor.launch(starting, runToken.then((token) => ({ runToken: token })), options);
      const processFields = { pid: launched.pid, pidStartTime: launched.pidStartTime, workdir: launched.workdir };
      // No container engine (local executor): the polyaxonfile's image and build steps are not applied; the run's history says so.
      const buildNotice = this.executor.condition || this.executor.build ? null : localBuildNotice(starting.spec);
      if (buildNotice) await this.shipper.shipSystemLine(execution.runUuid, `myelin: ${buildNotice}`, `build-notice:${execution.attempt}`);
      // Limits applied (or not enforced on this host), as the executor says.
      if (launched.notice) await this.shipper.shipSystemLine(execution.runUuid, `myelin: ${launched.notice}`, `launch-notice:${execution.attempt}`);
      const notice = [launched.notice, buildNotice].filter(Boolean).join('; ');
      if (!this.executor.condition) {
        // The process recorded and the run running, in one transaction (the common case).
        const running = await this.executions.transition(
          execution.runUuid,
          { status: 'running', reason: 'Running', message: `process ${launched.pid} in ${launched.workdir}${notice ? `; ${notice}` : ''}` },
          processFields,
          fence,
        );
        if (running) return;
        // Refused: a stop landed meanwhile (the process is recorded below and supervision signals it), or the claim was lost.
      }
      const recorded = await this.executions.patch(execution.runUuid, processFields, fence);
      if (!recorded) {
        // Another replica took the run over while this one was starting it: this process must not run.
        this.logger.warn(`run ${execution.runUuid}: claim lost while starting; killing process ${launched.pid}`);
        await this.executor.kill({ ...starting, ...launched });
        return;
      }
      if (this.executor.condition) {
        // The executor says how the pods go (scheduled, unschedulable, image pull back-off, running): its conditions move the run on.
        await this.applyCurrentCondition(execution.runUuid);
        return;
      }
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
    // Passes run on every poke (several a second under load); reading every live run's log files on
    // each of them cost more than anything else in a pass. Lines are shipped at most every
    // LOG_SHIP_EVERY_MS, and a run that ends ships the rest with its final status.
    const shipAll = Date.now() - this.lastShip >= LOG_SHIP_EVERY_MS;
    if (shipAll) this.lastShip = Date.now();
    // Nothing was live at the last look and nothing started or ended here since: nothing to read
    // until the next full inspection (which also finds runs of other replicas to adopt). An idle
    // platform read its executions five times a second for nothing.
    if (this.nothingLive && !inspectAll && !this.exited.size) return this.liveness.flush();
    // Between two shipments and inspections only the runs with an exit notice have anything to be
    // looked at: their rows are read, not every live run's. Passes come on every poke (a new run, a
    // token, an end); reading all live runs at each was half the scheduler's reads of a busy queue.
    const everyRun = shipAll || inspectAll;
    if (!everyRun && !this.exited.size) return this.liveness.flush();
    const rows = everyRun ? await this.executions.listLean([...LIVE, ...HELD]) : await this.executions.listLeanOf([...this.exited], [...LIVE, ...HELD]);
    const live = await this.supervised(rows.filter((e) => isSupervised(e) && !this.launching.has(e.runUuid)), inspectAll);
    if (everyRun) {
      this.nothingLive = !live.length;
      this.supervisedCount = live.length;
    }
    if (inspectAll) {
      // An exit notice can arrive after its run was settled (an inspection read the exit code
      // first): kept, it would have every later pass read the live runs for nothing. A run not
      // supervised yet (its process just started) is looked at by the next inspection anyway.
      const supervisedNow = new Set(live.map((e) => e.runUuid));
      // (A run being started is not supervised yet: its notice is kept for the pass after its launch.)
      for (const runUuid of this.exited) if (!supervisedNow.has(runUuid) && !this.launching.has(runUuid)) this.exited.delete(runUuid);
    }
    // Runs are looked after side by side, SUPERVISE_CONCURRENCY at a time: a wave of runs that end
    // together settles in a few grouped transactions instead of one after the other.
    const work: Array<Promise<void>> = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < live.length) {
        const execution = live[next++];
        // One run's failure is logged and the others go on (the next pass looks at it again).
        await this.superviseOne(execution, shipAll, inspectAll).catch((error: unknown) =>
          this.logger.error(`run ${execution.runUuid}: supervision failed: ${error instanceof Error ? error.message : String(error)}`),
        );
      }
    };
    for (let i = 0; i < Math.min(SUPERVISE_CONCURRENCY, live.length); i++) work.push(worker());
    await this.allSettled(work, 'supervision');
    // The heartbeats of every run seen alive in this pass (and relayed from clients): one statement.
    await this.liveness.flush();
  }

  /** One live run: ship its new log lines, and when it may have ended (or on a full inspection) look at its process. */
  private async superviseOne(execution: ExecutionEntity, shipAll: boolean, inspectAll: boolean): Promise<void> {
    if (this.recordingAtNotice.has(execution.runUuid)) return;
    this.inPass.add(execution.runUuid);
    try {
      await this.superviseRun(execution, shipAll, inspectAll);
    } finally {
      this.inPass.delete(execution.runUuid);
    }
  }

  private async superviseRun(execution: ExecutionEntity, shipAll: boolean, inspectAll: boolean): Promise<void> {
    const fence: Fence = { token: Number(execution.fence) };
    const files = this.executor.logFiles(execution);
    const offsets = { stdoutOffset: Number(execution.stdoutOffset), stderrOffset: Number(execution.stderrOffset) };
    let shipped = offsets;
    if (shipAll) {
      // New lines and the offsets they advance in one transaction (the outbox relays the lines).
      const prepared = await this.shipper.prepare(execution.runUuid, files, offsets, false);
      shipped = prepared.offsets;
      if (shipped.stdoutOffset !== offsets.stdoutOffset || shipped.stderrOffset !== offsets.stderrOffset) {
        await this.executions.patch(execution.runUuid, shipped, fence, prepared.messages);
      }
    }
    if (!inspectAll && !this.exited.has(execution.runUuid)) return;
    this.exited.delete(execution.runUuid);
    if (execution.status === 'building' && this.executor.inspectBuild) {
      await this.superviseBuild(execution, fence, shipped);
      return;
    }
    const state = await this.executor.inspect(execution);
    if (state.state === 'running') {
      this.liveness.observedAlive(execution);
      // Missed or early conditions (reported before the launch was recorded, or before a restart).
      if (this.executor.condition) await this.applyCurrentCondition(execution.runUuid);
      if (execution.status === 'stopping' && launched(execution) && !this.signalled.has(execution.runUuid)) {
        // Stopped through another replica, or while it was still starting: SIGTERM now, SIGKILL after the grace period.
        await this.executor.terminate(execution);
        this.signalled.add(execution.runUuid);
      }
      await this.enforceTimeout(execution, fence);
      await this.enforceGrace(execution);
      return;
    }
    if (state.state === 'unknown') {
      // The executor cannot tell: a zombie once silent for MYELIN_ZOMBIE_SECONDS (./liveness.ts), else wait.
      if (await this.liveness.unknown(execution, state, fence)) {
        this.signalled.delete(execution.runUuid);
        await this.lease.release(execution.runUuid);
        this.dirty = true;
      }
      return;
    }
    // Its process is gone, so its slot (and GPUs) are free now: an admission starts the next run
    // while this end is written, instead of after it (each slot of a busy queue paid for both).
    this.freeSlot(execution.runUuid);
    try {
      await this.recordEnd(execution, state, fence, files, shipped);
    } finally {
      this.ending.delete(execution.runUuid);
    }
  }

  /** A run's process is gone: its slot is free for admission (started now, beside whatever else runs). */
  private freeSlot(runUuid: string): void {
    this.ending.set(runUuid, Date.now());
    this.dirty = true;
    this.admitInBackground();
  }

  /**
   * Does admission leave this run's slot out? While its end is recorded; an entry older than
   * ENDING_FORGOTTEN_MS is not trusted any more (its end was recorded without clearing it, or
   * cannot be written: the run then counts as live again until supervision settles it).
   */
  private isEnding(runUuid: string): boolean {
    const since = this.ending.get(runUuid);
    if (since === undefined) return false;
    if (Date.now() - since < ENDING_FORGOTTEN_MS) return true;
    this.ending.delete(runUuid);
    return false;
  }

  /**
   * An exit notice that arrives while a pass is under way would wait for that pass to end before a
   * pass looks at it (tens of ms while the API takes a flood of submissions, and the run's slot
   * idle all along). Its process is looked at now instead, beside the pass: when it is gone, its
   * slot is filled and its end recorded at once, as a pass would.
   */
  private lookAtExitNow(runUuid: string): void {
    if (!this.ticking || this.stopped) return; // the next pass, at once, looks at it
    this.recordEndAtNotice(runUuid).catch((error: unknown) =>
      this.logger.warn(`run ${runUuid}: end not recorded at its notice, the next pass records it (${error instanceof Error ? error.message : String(error)})`),
    );
  }

  private async recordEndAtNotice(runUuid: string): Promise<void> {
    if (this.inPass.has(runUuid)) return;
    if (this.recordingAtNotice.has(runUuid)) {
      // The look under way may have read the row before its launch was recorded (and then leave
      // it): it looks again once over (the launch's end asks again, see launch()).
      this.noticeAgain.add(runUuid);
      return;
    }
    this.recordingAtNotice.add(runUuid);
    try {
      const row = await this.executions.findLean(runUuid);
      // Recorded meanwhile (a pass took the notice), not this replica's, or not a process of its own yet.
      if (!row || !this.exited.has(runUuid) || this.inPass.has(runUuid) || this.launching.has(runUuid)) return;
      if (!isSupervised(row) || !launched(row) || row.status === 'building' || (this.lease.shared && row.owner !== this.lease.owner)) return;
      const state = await this.executor.inspect(row);
      if (state.state === 'running' || state.state === 'unknown') return;
      this.exited.delete(runUuid);
      this.freeSlot(runUuid);
      try {
        const offsets = { stdoutOffset: Number(row.stdoutOffset), stderrOffset: Number(row.stderrOffset) };
        await this.recordEnd(row, state, { token: Number(row.fence) }, this.executor.logFiles(row), offsets);
      } catch (error) {
        this.exited.add(runUuid); // the next pass looks at it again
        this.poke();
        throw error;
      } finally {
        this.ending.delete(runUuid);
      }
    } finally {
      this.recordingAtNotice.delete(runUuid);
      if (this.noticeAgain.delete(runUuid) && this.exited.has(runUuid)) this.lookAtExitNow(runUuid);
    }
  }

  /** Record the end of a run whose process ended: its last log lines, then its final status or a retry. */
  private async recordEnd(
    execution: ExecutionEntity,
    state: Exclude<ProcessState, { state: 'running' | 'unknown' }>,
    fence: Fence,
    files: { stdout: string; stderr: string },
    shipped: { stdoutOffset: number; stderrOffset: number },
  ): Promise<void> {
    // The log stream ends with the run, not with an attempt that is retried.
    const ending = decideEnd(state, attemptRow(execution), this.retryPolicy);
    // The last lines (and the end of the log stream) go with the final status, in its transaction.
    const last = await this.shipper.prepare(execution.runUuid, files, shipped, ending.status !== 'retrying');
    const offsetsNow = last.offsets;
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
      'lean',
      last.messages,
    );
    this.signalled.delete(execution.runUuid);
    // Not settled here (another replica holds it, or it moved on): the lines go anyway; their
    // batch ids make a second copy from the replica that settles it harmless.
    if (!settled) await this.shipper.handOver(last.messages);
    if (settled) {
      if (settled.status === 'retrying') this.nextRetryAt = Math.min(this.nextRetryAt, settled.retryAt?.getTime() ?? 0);
      // A stop that landed after the retry was decided ends the run here: close its log stream.
      if (settled.status !== 'retrying' && ending.status === 'retrying') await this.shipper.ship(execution.runUuid, files, offsetsNow, true);
      await this.lease.release(execution.runUuid);
      // Alone on its runs, the pass its exit set off (freeSlot) counted its slot free already: a
      // pass now would find the same. Replicas only see rows (and an entry too old is not trusted).
      if (this.lease.shared || !this.isEnding(execution.runUuid)) this.dirty = true;
    }
  }

  private get retryPolicy() {
    return { backoffSeconds: this.env.MYELIN_RETRY_BACKOFF_SECONDS, maxBackoffSeconds: this.env.MYELIN_RETRY_BACKOFF_MAX_SECONDS };
  }

  /** Retrying runs whose backoff is over go back to the queue (and through admission again). */
  private async requeueRetries(): Promise<void> {
    // Looked at once a second (retries of other replicas, or left by a restart), and sooner when a
    // retry this replica decided is due: not on every pass (an idle platform read them 5 times a second).
    const now = Date.now();
    if (now < this.nextRetryAt && now - this.lastRetryCheck < ADMISSION_EVERY_MS) return;
    this.lastRetryCheck = now;
    this.nextRetryAt = Infinity;
    for (const row of await this.executions.listLean(['retrying'])) {
      if (row.retryAt && row.retryAt.getTime() > Date.now()) this.nextRetryAt = Math.min(this.nextRetryAt, row.retryAt.getTime());
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

  /** A `kind: build` run on an executor without a container engine: it fails at once, saying what it needs. */
  private async refuseBuild(runUuid: string): Promise<void> {
    const failed = await this.executions.transition(runUuid, { status: 'failed', reason: 'NeedsKubernetes', message: BUILD_NEEDS_KUBERNETES }, { finishedAt: new Date() });
    if (!failed) return;
    await this.shipper.shipSystemLine(runUuid, `myelin: ${BUILD_NEEDS_KUBERNETES}`, 'build:refused');
    await this.endLogs(failed);
    this.dirty = true;
  }

  /** The build a run needs, with the cached image when there is one (and `nocache` is not set); null when it needs none. */
  private async buildFor(execution: ExecutionEntity): Promise<{ plan: BuildPlan; image: string | null; note: string } | { error: string } | null> {
    const full = await this.executions.find(execution.runUuid);
    let plan: BuildPlan | null;
    try {
      plan = full && planRunBuild(full, this.env);
    } catch (error) {
      return { error: `the build section cannot be built: ${error instanceof Error ? error.message : String(error)}` };
    }
    if (!plan) return null;
    const cached = plan.nocache ? null : await this.builds.find(plan.key);
    const note = cached ? `using image ${cached.image}, built by run ${cached.runUuid} from the same build section and ${describeCodeRef(plan.codeRef)} (build cache)` : '';
    return { plan, image: cached?.image ?? null, note };
  }

  /** Claim the run as `building` and start its image build (a kaniko pod); superviseBuild() follows it. */
  private async startBuild(execution: ExecutionEntity, plan: BuildPlan, token: number): Promise<void> {
    const building = await this.executions.transition(
      execution.runUuid,
      { status: 'building', reason: 'Building', message: `building the image with kaniko${plan.nocache ? ' (nocache)' : ''}` },
      { startedAt: new Date(), attempt: execution.attempt },
      { token, claim: true, owner: this.lease.owner },
      'full',
    );
    if (!building) {
      await this.lease.release(execution.runUuid);
      return;
    }
    const fence: Fence = { token };
    try {
      const started = await this.executor.build!(building, plan);
      if (!(await this.executions.patch(execution.runUuid, { pid: started.pid, pidStartTime: started.pidStartTime, workdir: started.workdir }, fence))) {
        await this.executor.kill({ ...building, ...started });
        return;
      }
      await this.shipper.shipSystemLine(execution.runUuid, `myelin: building image ${started.image} with kaniko (build key ${plan.key.slice(0, 12)}, ${describeCodeRef(plan.codeRef)})`, `build:${execution.attempt}`);
    } catch (error) {
      const message = `could not start the image build: ${error instanceof Error ? error.message : String(error)}`;
      await this.shipper.shipSystemLine(execution.runUuid, `myelin: ${message}`, `build:${execution.attempt}`);
      await this.endLogs(building);
      await this.executions.transition(execution.runUuid, { status: 'failed', reason: 'BuildFailed', message }, { finishedAt: new Date() }, fence);
      await this.executor.kill(building).catch(() => undefined);
      await this.lease.release(execution.runUuid);
      this.dirty = true;
    }
  }

  /**
   * A run in `building`: when its build ends, a failure fails the run (the message quotes the
   * build log's end); a success records the image in the build cache, then ends a `kind: build`
   * run or starts the run's pods on the image.
   */
  private async superviseBuild(execution: ExecutionEntity, fence: Fence, shipped: { stdoutOffset: number; stderrOffset: number }): Promise<void> {
    const state = await this.executor.inspectBuild!(execution);
    if (state.state === 'running') {
      this.liveness.observedAlive(execution);
      return;
    }
    const buildEnded = () => this.shipper.shipSystemLine(execution.runUuid, `myelin: ${state.message}`, `build-end:${execution.attempt}`);
    if (state.state === 'failed' || execution.kind === 'build') {
      await buildEnded();
      if (state.state === 'succeeded') await this.remember(execution, state);
      const change: StatusChange =
        state.state === 'failed' ? { status: 'failed', reason: state.reason, message: state.message } : { status: 'succeeded', reason: 'Built', message: state.message, exitCode: 0 };
      return this.endBuild(execution, fence, shipped, change);
    }
    // The run's own token before its pods, as in launch: no run starts without it. The image is
    // ready, so the run stays `building` while the API does not answer (the build pod, kept, says
    // the same at the next inspection), and fails unstarted when the API refuses it.
    if (Date.now() < this.apiWaitUntil) return;
    if (!this.buildTokens.has(execution.runUuid)) {
      // Once per token request, not at every inspection while the answer is awaited.
      await buildEnded();
      await this.remember(execution, state);
    }
    const issued = this.builtRunToken(execution.runUuid);
    if (issued === null) return; // asked; picked up at a later inspection
    if ('later' in issued) {
      this.apiWaitUntil = Date.now() + this.env.MYELIN_RUN_TOKEN_TIMEOUT_SECONDS * 1000;
      await this.executions.updateCondition(execution.runUuid, {
        status: 'building',
        reason: 'WaitingForApi',
        message: `image ${state.image} built; waiting for the API to issue the run's token (${issued.later}); tried again in ${this.env.MYELIN_RUN_TOKEN_TIMEOUT_SECONDS} s`,
      });
      return;
    }
    if ('refused' in issued) {
      return this.endBuild(execution, fence, shipped, { status: 'failed', reason: 'TokenRefused', message: `not started: the API refused the run's token (${issued.refused})` });
    }
    const starting = await this.executions.transition(
      execution.runUuid,
      { status: 'starting', reason: 'Starting', message: `starting on the ${this.executor.name} executor with image ${state.image}` },
      {},
      fence,
      'full',
    );
    if (starting) await this.startProcess(starting, fence, { image: state.image }, Promise.resolve(issued.token));
  }

  /** A build run ends (built, failed, or refused its token): its last lines, its final status, its build pod and Dockerfile gone. */
  private async endBuild(execution: ExecutionEntity, fence: Fence, shipped: { stdoutOffset: number; stderrOffset: number }, change: StatusChange): Promise<void> {
    const offsets = await this.shipper.ship(execution.runUuid, this.executor.logFiles(execution), shipped, true);
    const ended = await this.executions.transition(execution.runUuid, change, { ...offsets, finishedAt: new Date() }, fence);
    await this.executor.kill(execution).catch(() => undefined); // the build pod and its Dockerfile
    if (ended) {
      await this.lease.release(execution.runUuid);
      this.dirty = true;
    }
  }

  private async remember(execution: ExecutionEntity, built: { image: string; key: string }): Promise<void> {
    const full = await this.executions.find(execution.runUuid);
    const plan = full ? planRunBuild(full, this.env) : null;
    await this.builds.put({ key: built.key, image: built.image, project: execution.project, runUuid: execution.runUuid, codeRef: plan?.codeRef ?? '' });
  }

  /** What the executor sees of a run now (read when applied: see applyConditionInTurn). */
  private applyCurrentCondition(runUuid: string): Promise<void> {
    return this.applyConditionInTurn(runUuid, (row) => this.executor.condition?.(row) ?? null);
  }

  /**
   * Apply a condition of a run this replica supervises, one at a time and in order: the ones the
   * executor reported (Kubernetes pod watch) and the ones read from it at launch and inspection.
   * `read` runs when the condition's turn comes, never earlier: a pod's `Pending` seen at launch
   * must not follow the `Unschedulable` its watch reported meanwhile.
   */
  private applyConditionInTurn(runUuid: string, read: (row: ExecutionEntity) => ExecutorCondition | null): Promise<void> {
    const applied = this.conditions.then(async () => {
      const row = await this.executions.find(runUuid);
      if (!row || (this.lease.shared && row.owner !== this.lease.owner)) return;
      const condition = read(row);
      if (condition) await this.applyCondition(row, condition);
    });
    this.conditions = applied.catch((error: unknown) => this.logger.warn(`run ${runUuid}: condition not applied (${error instanceof Error ? error.message : String(error)})`));
    return applied;
  }

  /**
   * What the executor sees of a launched run (scheduled, unschedulable, an image pull back-off,
   * running again) becomes its status, through the state machine and under the run's fence, so a
   * late condition never moves it backwards; the same status with another reason is recorded as a
   * new condition. Ends are not taken from here: they are settled from inspect() with their logs.
   */
  private async applyCondition(row: ExecutionEntity, condition: ExecutorCondition): Promise<void> {
    if (isFinal(condition.status) || condition.status === 'stopping' || row.status === 'stopping' || row.status === 'building') return;
    if (!isSupervised(row) || !launched(row)) return;
    const change: StatusChange = { status: condition.status, reason: condition.reason, message: condition.message };
    if (row.status === change.status) {
      if (row.statusReason !== change.reason || row.statusMessage !== change.message) await this.executions.updateCondition(row.runUuid, change);
      return;
    }
    await this.executions.transition(row.runUuid, change, {}, { token: Number(row.fence) });
  }

  /**
   * Ask for a run's token ahead of its start: when it is queued, and while it is among the next in
   * line (a few dozen at most). It then finds its token waiting when admitted, and the round trip
   * to the API is off the path from submit to process (a run stopped or deleted meanwhile has its
   * tokens revoked by the API when it ends).
   */
  private prefetchRunToken(runUuid: string): void {
    // Entries of runs another replica started (never taken here) go after a minute.
    const stale = Date.now() - PREFETCHED_TOKEN_TTL_MS;
    for (const [uuid, ahead] of this.prefetched) if (ahead.at < stale) this.prefetched.delete(uuid);
    if (this.prefetched.size >= MAX_PREFETCHED_TOKENS || this.prefetched.has(runUuid)) return;
    const outcome = this.issueRunToken(runUuid);
    this.prefetched.set(runUuid, { outcome, at: Date.now() });
  }

  /**
   * The token of a run whose image was built: asked without holding up the supervision pass (the
   * request takes up to twice MYELIN_RUN_TOKEN_TIMEOUT_SECONDS while the API is down, and stops and
   * log shipping of other runs would wait behind it); null until the answer is in, then the answer,
   * once. The answer brings the run to the next pass's inspection.
   */
  private builtRunToken(runUuid: string): TokenOutcome | null {
    const asked = this.buildTokens.get(runUuid);
    if (asked?.outcome) {
      this.buildTokens.delete(runUuid);
      return asked.outcome;
    }
    if (!asked) {
      const entry: { outcome: TokenOutcome | null } = { outcome: null };
      this.buildTokens.set(runUuid, entry);
      void this.issueRunToken(runUuid)
        .catch((error: unknown): TokenOutcome => ({ later: error instanceof Error ? error.message : String(error) }))
        .then((outcome) => {
          entry.outcome = outcome;
          this.exited.add(runUuid);
          this.poke();
        });
    }
    return null;
  }

  /** The run's token asked for ahead (a first attempt queued less than a minute ago), else asked for now. */
  private takeRunToken(execution: ExecutionEntity): Promise<TokenOutcome> {
    const ahead = this.prefetched.get(execution.runUuid);
    this.prefetched.delete(execution.runUuid);
    return ahead && execution.attempt === 0 && ahead.at >= Date.now() - PREFETCHED_TOKEN_TTL_MS ? ahead.outcome : this.issueRunToken(execution.runUuid);
  }

  /**
   * Ask the API for the run's own token, for a run about to start: `later` when the API did not
   * answer (down or restarting: the run waits), `refused` when it answered that the run is unknown
   * or already ended (its stop or deletion is on its way).
   */
  private async issueRunToken(runUuid: string): Promise<TokenOutcome> {
    // A second try covers a request lost to a broker connection that dropped in flight.
    for (let attempt = 1; ; attempt++) {
      try {
        return { token: (await this.bus.request<RunTokenIssue.Reply>(RunTokenIssue.PATTERN, { runUuid }, this.env.MYELIN_RUN_TOKEN_TIMEOUT_SECONDS * 1000)).token };
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        if (error instanceof RemoteError) return { refused: reason };
        if (attempt < 2) {
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        return { later: reason };
      }
    }
  }

  /** A deleted run: stop its process if any, remove its working directory and outputs, forget it. */
  async deleted(event: RunDeleted.Payload): Promise<void> {
    const execution = await this.executions.find(event.runUuid);
    if (!execution) return;
    this.executor.forget?.(execution.runUuid);
    this.prefetched.delete(execution.runUuid);
    this.buildTokens.delete(execution.runUuid);
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
    codeOf: null,
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
