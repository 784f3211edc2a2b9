import { createLTTB } from 'downsample';

export interface SeriesPoint {
  /** The x of the chart: the step, or the time (epoch ms) for points logged without one. */
  x: number;
  step: number | null;
  value: number;
  timestamp: string;
}

const lttb = createLTTB<SeriesPoint>({ x: (p) => p.x, y: (p) => (Number.isFinite(p.value) ? p.value : 0) });

/**
 * Largest-Triangle-Three-Buckets down to `target` points. The input is the min/max of each bucket
 * the database computed (2 points per bucket at most), so peaks survive both passes.
 */
export function downsampleSeries(points: SeriesPoint[], target: number): SeriesPoint[] {
  if (points.length <= target) return points;
  return Array.from(lttb(points, target) as ArrayLike<SeriesPoint>);
}
