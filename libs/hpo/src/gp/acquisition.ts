/**
 * Acquisition functions on the GP posterior of a quantity to maximise, as Polyaxon defined them:
 * ucb = mean + kappa * sd; ei = (mean - best - eps) Phi(z) + sd phi(z); poi = Phi(z),
 * with z = (mean - best - eps) / sd.
 */
import { normCdf, normPdf } from '../core/stats';

export type AcquisitionKind = 'ucb' | 'ei' | 'poi';

export interface AcquisitionParams {
  kappa: number;
  /** In the units of the modelled quantity. */
  eps: number;
}

export function ucb(mean: number, sd: number, kappa: number): number {
  return mean + kappa * sd;
}

export function expectedImprovement(mean: number, sd: number, best: number, eps: number): number {
  const d = mean - best - eps;
  if (sd <= 0) return Math.max(d, 0);
  const z = d / sd;
  return d * normCdf(z) + sd * normPdf(z);
}

export function probabilityOfImprovement(mean: number, sd: number, best: number, eps: number): number {
  const d = mean - best - eps;
  if (sd <= 0) return d > 0 ? 1 : 0;
  return normCdf(d / sd);
}

export function acquisition(kind: AcquisitionKind, mean: number, sd: number, best: number, p: AcquisitionParams): number {
  switch (kind) {
    case 'ucb':
      return ucb(mean, sd, p.kappa);
    case 'ei':
      return expectedImprovement(mean, sd, best, p.eps);
    case 'poi':
      return probabilityOfImprovement(mean, sd, best, p.eps);
  }
}
