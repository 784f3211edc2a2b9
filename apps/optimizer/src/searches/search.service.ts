import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { isFinal, MetricsSummarized, RunCreated, RunStatus, RunStatusChanged, RunStop, TrialCreate } from '@myelin/contracts';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';
import { createOptimizer, Optimizer, OptimizerState, restoreOptimizer, searchMetricOf, TrialReport } from '@myelin/hpo';
import { enqueueOutbox, OutboxRelay } from '@myelin/persistence';
import type { HPTuning } from '@myelin/spec';
import { OPTIMIZER_ENV } from '../tokens';
import { OptimizerEnv } from '../config/env';
import { GroupRow, SearchesRepository, TrialRow } from './searches.repository';

/**
 * Runs groups: asks the search for trials up to `concurrency`, has the API create them as child
 * runs, tells the search each trial's result (the last value of its metric), and ends the group
 * when the search is finished. The search state is saved after every ask and tell, and a trial is
 * written down before its run is requested, so a killed optimizer resumes without losing or
 * duplicating a trial (the API returns the same run for the same trial key).
 */
@Injectable()
export class SearchService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Optimizer');
  private readonly chains = new Map<string, Promise<void>>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly searches: SearchesRepository,
    private readonly relay: OutboxRelay,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(OPTIMIZER_ENV) private readonly env: OptimizerEnv,
  ) {}

  onApplicationBootstrap(): void {
    this.relay.start();
    // Resume every group still searching, then keep an eye on them (lost messages, late values).
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.env.MYELIN_OPTIMIZER_TICK_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.chains.values()]);
    await this.relay.stop();
  }

  async groupCreated(event: RunCreated.Payload): Promise<void> {
    if (event.kind !== 'group' || !event.hptuning) return;
    await this.searches.insertGroup(event.runUuid, event.project, event.hptuning);
    await this.drive(event.runUuid);
  }

  async runStatusChanged(event: RunStatusChanged.Payload): Promise<void> {
    // Only trials matter here: a run the sender says belongs to nothing, or to a pipeline, is not looked up.
    if (!isFinal(event.status) || event.parentUuid === null || event.parentKind === 'pipeline') return;
    const trial = await this.searches.trialByRun(event.runUuid);
    if (!trial || trial.status === 'final' || trial.status === 'ended') return;
    await this.searches.markEnded(event.runUuid, event.status);
    await this.drive(trial.groupUuid);
  }

  async metricsSummarized(event: MetricsSummarized.Payload): Promise<void> {
    const trial = await this.searches.trialByRun(event.runUuid);
    if (!trial) return;
    const hp = (await this.searches.hptuningOf(trial.groupUuid)) as unknown as HPTuning;
    const metric = searchMetricOf(hp).name;
    const summary = event.metrics.find((m) => m.name === metric);
    const all: Record<string, number> = {};
    for (const m of event.metrics) if (m.last !== null) all[m.name] = m.last;
    await this.searches.recordValues(event.runUuid, summary?.last ?? null, summary?.lastStep ?? null, all);
    // A finished trial waiting for its value, or a running one with a new intermediate value for early stopping.
    if (trial.status === 'ended' || (trial.status === 'created' && hasEarlyStopping(hp))) await this.drive(trial.groupUuid);
  }

  async stop(groupUuid: string): Promise<void> {
    await this.serial(groupUuid, async () => {
      await this.searches.dataSource.transaction(async (m) => {
        const group = await this.searches.lockGroup(m, groupUuid);
        if (!group || group.status !== 'running') return;
        await this.searches.setStatus(m, groupUuid, 'stopped');
        await this.searches.announce(m, groupUuid, 'stopped', 'Stopped', 'stopped by request; no new trials');
      });
      this.relay.poke();
    });
  }

  private async tick(): Promise<void> {
    try {
      for (const uuid of await this.searches.activeGroups()) {
        await this.catchUp(uuid);
        await this.drive(uuid);
      }
    } catch (error) {
      this.logger.warn(`optimizer pass failed: ${String(error)}`);
    }
  }

  /** One decision pass for a group, never two at once for the same group in this process. */
  drive(groupUuid: string): Promise<void> {
    return this.serial(groupUuid, () => this.decide(groupUuid));
  }

  private serial(groupUuid: string, work: () => Promise<void>): Promise<void> {
    const previous = this.chains.get(groupUuid) ?? Promise.resolve();
    const next = previous.then(work, work);
    this.chains.set(groupUuid, next);
    void next.finally(() => {
      if (this.chains.get(groupUuid) === next) this.chains.delete(groupUuid);
    });
    return next;
  }

  private async decide(groupUuid: string): Promise<void> {
    const graceMs = this.env.MYELIN_TRIAL_VALUE_GRACE_SECONDS * 1000;
    await this.searches.dataSource.transaction(async (m) => {
      const group = await this.searches.lockGroup(m, groupUuid);
      if (!group || group.status !== 'running') return;
      const firstPass = group.state === null;
      const opt = this.optimizerOf(group);
      const ranked = declaresMetric(group.hptuning as unknown as HPTuning);
      // Tell the search about trials whose run ended (once their value arrived, or after the grace period).
      for (const trial of await this.searches.trials(m, groupUuid)) {
        if (trial.status !== 'ended') continue;
        const report = reportOf(trial, ranked ? graceMs : 0, ranked);
        if (!report) continue; // its value may still be on its way
        if (await this.searches.markFinal(m, groupUuid, trial.trialId)) opt.tell(trial.trialId, report);
      }
      // Intermediate values of running trials feed early stopping, evaluated continuously.
      const toStop: string[] = [];
      if (hasEarlyStopping(group.hptuning as unknown as HPTuning)) {
        for (const trial of await this.searches.trials(m, groupUuid)) {
          if (trial.status !== 'created' || trial.lastValue === null || trial.lastStep === null) continue;
          if (trial.toldStep !== null && trial.lastStep <= trial.toldStep) continue;
          if (!Number.isFinite(trial.lastValue)) continue;
          opt.tell(trial.trialId, { value: trial.lastValue, step: trial.lastStep, metrics: trial.lastMetrics });
          await this.searches.markTold(m, groupUuid, trial.trialId, trial.lastStep);
        }
        const byId = new Map((await this.searches.trials(m, groupUuid)).map((t) => [t.trialId, t] as const));
        for (const decision of opt.stopDecisions()) {
          const trial = byId.get(decision.trialId);
          if (trial?.runUuid && trial.status === 'created') toStop.push(trial.runUuid);
          if (decision.scope === 'group') {
            // A threshold was reached: the search is over; stop every running trial.
            for (const t of byId.values()) if (t.runUuid && t.status === 'created') toStop.push(t.runUuid);
          }
          this.logger.log(`group ${groupUuid}: stopping trial ${decision.trialId}: ${decision.reason}`);
        }
        for (const runUuid of new Set(toStop)) {
          await enqueueOutbox(m, 'optimizer', 'command', RunStop.PATTERN, { runUuid, reason: 'early stopping' } satisfies RunStop.Payload);
        }
      }
      // Ask for as many new trials as the concurrency allows; each is written down before its run exists.
      for (let t = opt.ask(); t; t = opt.ask()) {
        await this.searches.insertTrial(m, groupUuid, t.id, t.params as Record<string, unknown>, t.resumeFrom);
      }
      const trials = await this.searches.trials(m, groupUuid);
      const live = trials.filter((t) => t.status !== 'final').length;
      let status: GroupRow['status'] | undefined;
      if (firstPass) await this.searches.announce(m, groupUuid, 'running', 'Running', `${opt.algorithm}: searching`);
      if (opt.isFinished() && live === 0) {
        status = 'done';
        const best = opt.best();
        const stoppedBy = opt.progress().stoppedBy;
        const early = stoppedBy ? ` (early stopping: ${stoppedBy.reason})` : '';
        const message = (!ranked
          ? `${trials.length} trials (no search metric declared, so no best trial)`
          : best
            ? `${trials.length} trials; best trial ${best.id} with ${opt.metric.name}=${String(best.value)} (${JSON.stringify(best.params)})`
            : `${trials.length} trials; no trial reported ${opt.metric.name}`) + early;
        await this.searches.announce(m, groupUuid, 'done', 'Done', message);
      }
      await this.searches.saveState(m, groupUuid, opt.toJSON(), status);
    });
    this.relay.poke();
    await this.createRuns(groupUuid);
  }

  /**
   * Confirm long-running trials with the API (the idempotent TrialCreate returns the run as it is):
   * a status or a value missed while the optimizer was down, or before the run was attached, is
   * recovered here, so no trial stays running forever in the optimizer's eyes.
   */
  private async catchUp(groupUuid: string): Promise<void> {
    for (const trial of await this.searches.staleTrials(groupUuid, this.env.MYELIN_TRIAL_CHECK_SECONDS * 1000)) {
      try {
        const reply = await this.requestTrial(groupUuid, trial);
        await this.absorb(groupUuid, trial, reply);
      } catch (error) {
        this.logger.warn(`group ${groupUuid}: could not confirm trial ${trial.trialId} (${String(error)})`);
        return;
      }
    }
  }

  private requestTrial(groupUuid: string, trial: TrialRow): Promise<TrialCreate.Reply> {
    return this.bus.request<TrialCreate.Reply>(
      TrialCreate.PATTERN,
      {
        groupUuid,
        trialKey: `trial-${trial.trialId}`,
        params: trial.params,
        ...(trial.resumeFrom !== null ? { resumeFromTrialKey: `trial-${trial.resumeFrom}` } : {}),
      } satisfies TrialCreate.Payload,
      15_000,
    );
  }

  /** Take in the run's state from a TrialCreate reply: attach it, record its values, note its end. */
  private async absorb(groupUuid: string, trial: TrialRow, reply: TrialCreate.Reply): Promise<void> {
    await this.searches.attachRun(groupUuid, trial.trialId, reply.runUuid);
    const hp = (await this.searches.hptuningOf(groupUuid)) as unknown as HPTuning;
    const search = reply.metrics[searchMetricOf(hp).name];
    const all: Record<string, number> = {};
    for (const [name, m] of Object.entries(reply.metrics)) if (m.last !== null) all[name] = m.last;
    if (Object.keys(all).length) await this.searches.recordValues(reply.runUuid, search?.last ?? null, search?.lastStep ?? null, all);
    if (isFinal(reply.status as RunStatus)) await this.searches.markEnded(reply.runUuid, reply.status);
  }

  /** Ask the API for the runs of trials not yet attached (again after a crash: the trial key makes it idempotent). */
  private async createRuns(groupUuid: string): Promise<void> {
    for (const trial of await this.searches.trials(this.searches.dataSource, groupUuid)) {
      if (trial.status !== 'asked') continue;
      try {
        await this.absorb(groupUuid, trial, await this.requestTrial(groupUuid, trial));
      } catch (error) {
        this.logger.warn(`group ${groupUuid}: trial ${trial.trialId} not created yet (${String(error)}); retrying later`);
        return;
      }
    }
  }

  private optimizerOf(group: GroupRow): Optimizer {
    const hp = group.hptuning as unknown as HPTuning;
    return group.state ? restoreOptimizer(hp, group.state as unknown as OptimizerState) : createOptimizer(hp, {});
  }
}

function hasEarlyStopping(hp: HPTuning): boolean {
  return (hp.early_stopping?.length ?? 0) > 0;
}

/** Does the search rank trials by a metric (bo, hyperband, tpe, asha, or an early-stopping rule)? grid/random alone do not. */
function declaresMetric(hp: HPTuning): boolean {
  return Boolean(hp.hyperband?.metric ?? hp.bo?.metric ?? hp.tpe?.metric ?? hp.asha?.metric ?? hp.early_stopping?.[0]);
}

/** What to tell about a trial whose run ended, or undefined to wait for its value a little longer. */
function reportOf(trial: TrialRow, graceMs: number, ranked: boolean): TrialReport | undefined {
  if (trial.finalStatus === 'succeeded') {
    if (trial.lastValue !== null && Number.isFinite(trial.lastValue)) return { value: trial.lastValue };
    // Nothing to rank by: the trial is done, with nothing to compare.
    if (!ranked) return { stopped: true };
    const waited = trial.endedAt ? Date.now() - trial.endedAt.getTime() : Infinity;
    if (waited < graceMs) return undefined;
    return { failed: true, error: 'the run succeeded without reporting the search metric' };
  }
  if (trial.finalStatus === 'stopped') return trial.lastValue !== null ? { stopped: true, value: trial.lastValue } : { stopped: true };
  return { failed: true, error: `run ${trial.finalStatus ?? 'ended'}` };
}
