/**
 * The ask/tell optimizer: trial bookkeeping, the concurrency cap, early stopping and the JSON state,
 * shared by every algorithm. Algorithms only decide what to propose next (`Algorithm`).
 */
import type { EarlyStopping, Optimization, SearchAlgorithm, SearchMetric } from '@myelin/spec';
import type { Algorithm, AlgorithmContext, Proposal } from './algorithm';
import { HpoError } from './errors';
import { Rng } from './rng';
import type { Optimizer, OptimizerProgress, OptimizerState, StopDecision, Trial, TrialRecord, TrialReport } from './types';
import { EarlyStopper, EarlyStopperState } from '../early-stopping/early-stopper';
import { SearchSpace } from '../space/space';

export const STATE_FORMAT = 'myelin.hpo/v1';

export interface OptimizerInit {
  algorithm: SearchAlgorithm;
  impl: Algorithm;
  space: SearchSpace;
  metric: SearchMetric;
  concurrency: number;
  earlyStopping: readonly EarlyStopping[];
  seed: number;
  state?: OptimizerState;
}

function copyTrial(t: TrialRecord): TrialRecord {
  return { ...t, params: structuredClone(t.params), ...(t.resource ? { resource: { ...t.resource } } : {}) };
}

function publicTrial(t: TrialRecord): Trial {
  const { status: _s, value: _v, step: _st, error: _e, ...trial } = copyTrial(t);
  return trial;
}

export class SearchOptimizer implements Optimizer {
  readonly algorithm: SearchAlgorithm;
  readonly metric: SearchMetric;
  private readonly impl: Algorithm;
  private readonly rng: Rng;
  private readonly seed: number;
  private readonly records: TrialRecord[];
  private readonly coords = new Map<number, number[]>();
  private readonly stopper: EarlyStopper;
  private readonly ctx: AlgorithmContext;
  private pending: number;

  constructor(init: OptimizerInit) {
    this.algorithm = init.algorithm;
    this.metric = init.metric;
    this.impl = init.impl;
    this.seed = init.seed;
    const s = init.state;
    this.rng = s ? Rng.fromState(s.rng) : Rng.seeded(init.seed);
    this.records = s ? s.trials.map(copyTrial) : [];
    if (s) for (const [id, c] of Object.entries(s.coords)) this.coords.set(Number(id), [...c]);
    this.stopper = s ? EarlyStopper.fromJSON(init.earlyStopping, s.stopper as EarlyStopperState) : new EarlyStopper(init.earlyStopping);
    this.pending = this.records.filter((t) => t.status === 'pending').length;
    const optimization: Optimization = init.metric.optimization;
    const records = this.records;
    this.ctx = {
      rng: this.rng,
      space: init.space,
      trials: records,
      coords: this.coords,
      concurrency: init.concurrency,
      optimization,
      loss: (t) => (t.status === 'completed' && t.value !== undefined ? (optimization === 'maximize' ? -t.value : t.value) : undefined),
      pendingCount: () => this.pending,
    };
  }

  ask(): Trial | null {
    if (this.stopper.groupDecision()) return null;
    if (this.pending >= this.ctx.concurrency) return null;
    const next = this.impl.next(this.ctx);
    if (next === 'wait' || next === 'done') return null;
    return this.create(next);
  }

  private create(p: Proposal): Trial {
    const id = this.records.length;
    const rec: TrialRecord = { id, params: p.params, status: 'pending' };
    if (p.resource) rec.resource = p.resource;
    if (p.promotedFrom !== undefined) rec.promotedFrom = p.promotedFrom;
    if (p.resumeFrom !== undefined) rec.resumeFrom = p.resumeFrom;
    if (p.bracket !== undefined) rec.bracket = p.bracket;
    if (p.rung !== undefined) rec.rung = p.rung;
    this.records.push(rec);
    if (p.coords) this.coords.set(id, p.coords);
    this.pending++;
    this.stopper.start(id);
    this.impl.onCreated?.(id, p);
    return publicTrial(rec);
  }

  tell(trialId: number, report: TrialReport): void {
    const t = this.records[trialId];
    if (!t || !Number.isInteger(trialId)) throw new HpoError('unknown-trial', `no trial ${trialId}`);
    if (t.status !== 'pending') throw new HpoError('trial-not-pending', `trial ${trialId} is already ${t.status}`);
    const values = (v: number | undefined, metrics: Record<string, number> | undefined): Record<string, number> => ({
      ...(metrics ?? {}),
      ...(v !== undefined ? { [this.metric.name]: v } : {}),
    });
    if ('failed' in report && report.failed) {
      this.finish(t, 'failed');
      if (report.error !== undefined) t.error = report.error;
      this.stopper.close(trialId);
    } else if ('stopped' in report && report.stopped) {
      if (report.value !== undefined && Number.isFinite(report.value)) t.value = report.value;
      this.finish(t, 'stopped');
      this.stopper.close(trialId);
    } else if (!('stopped' in report) && 'value' in report && typeof report.value === 'number') {
      const { value, step, metrics } = report;
      if (step !== undefined) {
        if (!Number.isFinite(value)) return; // a NaN intermediate value carries no information
        t.value = value;
        t.step = step;
        this.stopper.report(trialId, step, values(value, metrics));
        return;
      }
      if (!Number.isFinite(value)) {
        t.error = `non-finite value ${value}`;
        delete t.value;
        this.finish(t, 'failed');
        this.stopper.close(trialId);
      } else {
        t.value = value;
        this.finish(t, 'completed');
        this.stopper.complete(trialId, values(value, metrics));
      }
    } else {
      throw new HpoError('invalid-result', `expected {value}, {value, step}, {failed: true} or {stopped: true}, got ${JSON.stringify(report)}`);
    }
    this.impl.onFinal?.(this.ctx, t);
  }

  private finish(t: TrialRecord, status: TrialRecord['status']): void {
    t.status = status;
    this.pending--;
  }

  isFinished(): boolean {
    if (this.pending > 0) return false;
    return this.stopper.groupDecision() !== undefined || this.impl.exhausted(this.ctx);
  }

  best(): TrialRecord | null {
    let best: TrialRecord | undefined;
    let bestLoss = Infinity;
    for (const t of this.records) {
      const l = this.ctx.loss(t);
      if (l !== undefined && l < bestLoss) {
        best = t;
        bestLoss = l;
      }
    }
    return best ? copyTrial(best) : null;
  }

  trial(trialId: number): TrialRecord | undefined {
    const t = this.records[trialId];
    return t ? copyTrial(t) : undefined;
  }

  trials(): TrialRecord[] {
    return this.records.map(copyTrial);
  }

  shouldStop(trialId: number): StopDecision | undefined {
    return this.stopper.decision(trialId);
  }

  stopDecisions(): StopDecision[] {
    return this.stopper.decisions();
  }

  progress(): OptimizerProgress {
    const count = (s: TrialRecord['status']): number => this.records.filter((t) => t.status === s).length;
    const group = this.stopper.groupDecision();
    return {
      algorithm: this.algorithm,
      asked: this.records.length,
      pending: this.pending,
      completed: count('completed'),
      failed: count('failed'),
      stopped: count('stopped'),
      finished: this.isFinished(),
      ...(group ? { stoppedBy: group } : {}),
    };
  }

  toJSON(): OptimizerState {
    const coords: Record<string, number[]> = {};
    for (const [id, c] of this.coords) coords[id] = [...c];
    return {
      format: STATE_FORMAT,
      algorithm: this.algorithm,
      seed: this.seed,
      rng: this.rng.state(),
      metric: { ...this.metric },
      trials: this.records.map(copyTrial),
      coords,
      algo: this.impl.toJSON(),
      stopper: this.stopper.toJSON(),
    };
  }
}
