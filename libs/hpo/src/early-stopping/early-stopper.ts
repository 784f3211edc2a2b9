/**
 * Early stopping, evaluated continuously on intermediate and final results.
 *
 * - `metric` (Polyaxon's threshold rule): as soon as any trial reports a value of `metric` at or beyond
 *   `value` (>= for maximize, <= for minimize), the whole search stops: a group-scope decision for every
 *   running trial, and the optimizer asks nothing more.
 * - `median` / `average` (median stopping rule): when trial t reports step s (s >= min_steps, on every
 *   `evaluation_interval`-th report of t), t's best value up to s is compared with the median (average)
 *   of the other trials' values at s (their last report at a step <= s, counting only trials that reached
 *   s); with at least `min_trials` such trials, t stops if it is strictly worse.
 * - `truncation`: at the same moments, every trial that reached s (t included) is ranked by its best
 *   value up to s; with at least `min_trials` of them, t stops if it is among the worst
 *   floor(n * percent / 100) (ties rank in t's favour).
 *
 * Decisions are sticky: once a trial should stop, it stays so until it is closed.
 */
import type { EarlyStopping, EarlyStoppingPolicy, MetricEarlyStopping, Optimization } from '@myelin/spec';
import { mean, median } from '../core/stats';
import type { StopDecision } from '../core/types';
import { HpoError } from '../core/errors';

type Series = Array<[step: number, value: number]>;

interface TrialTrack {
  /** metric name -> reports sorted by step */
  series: Record<string, Series>;
  reports: number;
  done: boolean;
  decision?: StopDecision;
}

export interface EarlyStopperState {
  trials: Record<string, TrialTrack>;
  group?: StopDecision;
}

const better = (a: number, b: number, o: Optimization): boolean => (o === 'maximize' ? a > b : a < b);
const fmt = (x: number): string => String(Number(x.toPrecision(6)));

export class EarlyStopper {
  private trials = new Map<number, TrialTrack>();
  private group?: StopDecision;

  constructor(readonly rules: readonly EarlyStopping[]) {}

  static fromJSON(rules: readonly EarlyStopping[], state: EarlyStopperState): EarlyStopper {
    const s = new EarlyStopper(rules);
    for (const [id, t] of Object.entries(state.trials)) s.trials.set(Number(id), structuredClone(t));
    if (state.group) s.group = { ...state.group };
    return s;
  }

  toJSON(): EarlyStopperState {
    const trials: Record<string, TrialTrack> = {};
    for (const [id, t] of this.trials) trials[id] = structuredClone(t);
    return this.group ? { trials, group: { ...this.group } } : { trials };
  }

  /** Registers a running trial (so it receives a group decision even before it reports). */
  start(trialId: number): void {
    if (!this.trials.has(trialId)) this.trials.set(trialId, { series: {}, reports: 0, done: false });
  }

  /**
   * Records an intermediate result (metric name -> value at `step`) and evaluates every rule.
   * Returns the trial's decision, if it should stop.
   */
  report(trialId: number, step: number, values: Readonly<Record<string, number>>): StopDecision | undefined {
    if (!Number.isFinite(step)) throw new HpoError('invalid-result', `step must be a finite number, got ${step}`);
    this.start(trialId);
    const t = this.trials.get(trialId)!;
    if (t.done) throw new HpoError('trial-not-pending', `trial ${trialId} is no longer running`);
    for (const [name, value] of Object.entries(values)) {
      if (!Number.isFinite(value)) continue;
      const s = (t.series[name] ??= []);
      const at = s.findIndex(([st]) => st >= step);
      if (at === -1) s.push([step, value]);
      else if (s[at][0] === step) s[at] = [step, value];
      else s.splice(at, 0, [step, value]);
    }
    t.reports++;
    this.checkThresholds(trialId, values, step);
    if (!t.decision) {
      for (const rule of this.rules) {
        if (rule.kind === 'metric') continue;
        const d = this.evaluatePolicy(rule, trialId, t, step);
        if (d) {
          t.decision = d;
          break;
        }
      }
    }
    return this.decision(trialId);
  }

  /** Records a final result (threshold rules only) and marks the trial done. */
  complete(trialId: number, values: Readonly<Record<string, number>>): void {
    this.start(trialId);
    this.checkThresholds(trialId, values);
    this.close(trialId);
  }

  /** Marks a trial done (completed, failed or stopped): it gets no more decisions; its curve stays as history. */
  close(trialId: number): void {
    this.start(trialId);
    this.trials.get(trialId)!.done = true;
  }

  /** The decision for a running trial: its own, or the group's. */
  decision(trialId: number): StopDecision | undefined {
    const t = this.trials.get(trialId);
    if (!t || t.done) return undefined;
    if (t.decision) return { ...t.decision };
    if (this.group) return { ...this.group, trialId };
    return undefined;
  }

  /** Decisions for every running trial that should stop. */
  decisions(): StopDecision[] {
    const out: StopDecision[] = [];
    for (const id of this.trials.keys()) {
      const d = this.decision(id);
      if (d) out.push(d);
    }
    return out;
  }

  /** Set once a threshold rule fired: the whole search should stop. */
  groupDecision(): StopDecision | undefined {
    return this.group ? { ...this.group } : undefined;
  }

  private checkThresholds(trialId: number, values: Readonly<Record<string, number>>, step?: number): void {
    if (this.group) return;
    for (const rule of this.rules) {
      if (rule.kind !== 'metric') continue;
      const v = values[rule.metric];
      if (v === undefined || !Number.isFinite(v)) continue;
      if (crosses(rule, v)) {
        this.group = {
          trialId,
          scope: 'group',
          rule: 'metric',
          metric: rule.metric,
          reason: `trial ${trialId} reached ${rule.metric} ${fmt(v)}${step !== undefined ? ` at step ${step}` : ''} (${rule.optimization === 'maximize' ? '>=' : '<='} ${fmt(rule.value)}): the search is done`,
          ...(step !== undefined ? { step } : {}),
        };
        return;
      }
    }
  }

  private evaluatePolicy(rule: EarlyStoppingPolicy, trialId: number, t: TrialTrack, step: number): StopDecision | undefined {
    if (step < rule.min_steps) return undefined;
    if (t.reports % rule.evaluation_interval !== 0) return undefined;
    const own = t.series[rule.metric];
    if (!own || own.length === 0) return undefined;
    const o = rule.optimization;
    const mine = bestUpTo(own, step, o);
    if (mine === undefined) return undefined;
    const others: number[] = [];
    for (const [id, u] of this.trials) {
      if (id === trialId) continue;
      const s = u.series[rule.metric];
      if (!s || s.length === 0 || s[s.length - 1][0] < step) continue;
      const v = rule.kind === 'truncation' ? bestUpTo(s, step, o) : valueAt(s, step);
      if (v !== undefined) others.push(v);
    }
    if (rule.kind === 'median' || rule.kind === 'average') {
      if (others.length < rule.min_trials) return undefined;
      const ref = rule.kind === 'median' ? median(others) : mean(others);
      if (!better(ref, mine, o)) return undefined;
      return {
        trialId,
        scope: 'trial',
        rule: rule.kind,
        metric: rule.metric,
        step,
        reason: `${rule.metric} ${fmt(mine)} (best up to step ${step}) is worse than the ${rule.kind} ${fmt(ref)} of ${others.length} other trials at that step`,
      };
    }
    if (rule.kind !== 'truncation') return undefined;
    const n = others.length + 1;
    if (n < rule.min_trials) return undefined;
    const k = Math.floor((n * rule.percent) / 100);
    if (k === 0) return undefined;
    const strictlyBetter = others.filter((v) => better(v, mine, o)).length;
    // Rank from the best (0); the worst k have ranks n-k .. n-1.
    if (strictlyBetter < n - k) return undefined;
    return {
      trialId,
      scope: 'trial',
      rule: 'truncation',
      metric: rule.metric,
      step,
      reason: `${rule.metric} ${fmt(mine)} at step ${step} ranks ${strictlyBetter + 1} of ${n}: among the worst ${rule.percent}%`,
    };
  }
}

function crosses(rule: MetricEarlyStopping, v: number): boolean {
  return rule.optimization === 'maximize' ? v >= rule.value : v <= rule.value;
}

/** The last value reported at a step <= `step`. */
function valueAt(s: Series, step: number): number | undefined {
  let v: number | undefined;
  for (const [st, x] of s) {
    if (st > step) break;
    v = x;
  }
  return v;
}

/** The best value reported at a step <= `step`. */
function bestUpTo(s: Series, step: number, o: Optimization): number | undefined {
  let v: number | undefined;
  for (const [st, x] of s) {
    if (st > step) break;
    if (v === undefined || better(x, v, o)) v = x;
  }
  return v;
}
