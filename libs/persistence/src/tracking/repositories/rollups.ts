/**
 * Per-bucket rollups of metric series, kept at ingest so a downsampled read of a long series
 * touches a few thousand rows. Pure functions; the repository stores and reads them.
 */

/** Bucket widths, in steps, finest first. */
export const ROLLUP_WIDTHS = [100, 10_000] as const;

export interface RollupRow {
  nameId: number;
  width: number;
  bucket: number;
  /** Finite values only; null when the bucket holds only NaN or infinities. */
  minValue: number | null;
  minStep: number | null;
  maxValue: number | null;
  maxStep: number | null;
  count: number;
}

/** The rollup rows a batch changes: one per (metric, width, bucket) it touches. */
export function rollupBatch(points: ReadonlyArray<{ nameId: number; step?: number | null; value: number }>): RollupRow[] {
  // Per width, rows by metric id then bucket (numeric keys: this runs for every point ingested).
  const byWidth = ROLLUP_WIDTHS.map(() => new Map<number, Map<number, RollupRow>>());
  const rows: RollupRow[] = [];
  for (const p of points) {
    const step = p.step;
    if (step === undefined || step === null) continue;
    const finite = Number.isFinite(p.value);
    for (let w = 0; w < ROLLUP_WIDTHS.length; w++) {
      const width = ROLLUP_WIDTHS[w];
      const bucket = Math.floor(step / width);
      let buckets = byWidth[w].get(p.nameId);
      if (!buckets) byWidth[w].set(p.nameId, (buckets = new Map()));
      let row = buckets.get(bucket);
      if (!row) {
        row = { nameId: p.nameId, width, bucket, minValue: null, minStep: null, maxValue: null, maxStep: null, count: 0 };
        buckets.set(bucket, row);
        rows.push(row);
      }
      row.count += 1;
      if (!finite) continue;
      if (row.minValue === null || p.value < row.minValue || (p.value === row.minValue && step < (row.minStep as number))) {
        row.minValue = p.value;
        row.minStep = step;
      }
      if (row.maxValue === null || p.value > row.maxValue || (p.value === row.maxValue && step < (row.maxStep as number))) {
        row.maxValue = p.value;
        row.maxStep = step;
      }
    }
  }
  return rows;
}

/**
 * The coarsest width that still gives at least 2 buckets per wanted point over `span` steps
 * (LTTB then has min and max candidates everywhere); null when even the finest is too coarse.
 */
export function chooseRollupWidth(span: number, points: number): number | null {
  for (let i = ROLLUP_WIDTHS.length - 1; i >= 0; i--) {
    if (span / ROLLUP_WIDTHS[i] >= 2 * points) return ROLLUP_WIDTHS[i];
  }
  return null;
}

/**
 * Buckets of `width` lying wholly inside [from, to], and the step ranges at both ends that only
 * partly cover a bucket (read from the raw points instead). `first > last` when there are none.
 */
export function coverRange(from: number, to: number, width: number): { first: number; last: number; edges: Array<[number, number]> } {
  const first = Math.ceil(from / width);
  const last = Math.floor((to + 1) / width) - 1;
  if (first > last) return { first, last, edges: [[from, to]] };
  const edges: Array<[number, number]> = [];
  if (from < first * width) edges.push([from, first * width - 1]);
  if ((last + 1) * width <= to) edges.push([(last + 1) * width, to]);
  return { first, last, edges };
}
