import fc from 'fast-check';
import { chooseRollupWidth, coverRange, rollupBatch } from './rollups';

describe('metric rollups', () => {
  it('keeps min and max with their steps, finite values only, and counts every stepped point', () => {
    const rows = rollupBatch([
      { nameId: 1, step: 5, value: 3 },
      { nameId: 1, step: 7, value: -1 },
      { nameId: 1, step: 9, value: Number.NaN },
      { nameId: 1, step: 150, value: 10 },
      { nameId: 1, value: 99 }, // no step: not in rollups
      { nameId: 2, step: 5, value: 4 },
    ]);
    const w100 = rows.filter((r) => r.width === 100 && r.nameId === 1).sort((a, b) => a.bucket - b.bucket);
    expect(w100).toEqual([
      { nameId: 1, width: 100, bucket: 0, minValue: -1, minStep: 7, maxValue: 3, maxStep: 5, count: 3 },
      { nameId: 1, width: 100, bucket: 1, minValue: 10, minStep: 150, maxValue: 10, maxStep: 150, count: 1 },
    ]);
    expect(rows.filter((r) => r.width === 10_000 && r.nameId === 1)).toEqual([
      { nameId: 1, width: 10_000, bucket: 0, minValue: -1, minStep: 7, maxValue: 10, maxStep: 150, count: 4 },
    ]);
    expect(rollupBatch([{ nameId: 1, step: 1, value: Number.NaN }])[0]).toMatchObject({ minValue: null, maxValue: null, count: 1 });
  });

  it('chooses the coarsest width that leaves two buckets per wanted point', () => {
    expect(chooseRollupWidth(1_000_000, 1000)).toBe(100); // 10,000 buckets at 100; 100 at 10,000
    expect(chooseRollupWidth(100_000_000, 1000)).toBe(10_000);
    expect(chooseRollupWidth(150_000, 1000)).toBeNull(); // 1,500 buckets at 100: too coarse
  });

  it('covers any step range with whole buckets plus raw edges, exactly once', () => {
    fc.assert(
      fc.property(fc.nat(50_000), fc.nat(50_000), fc.constantFrom(100, 10_000), (a, b, width) => {
        const [from, to] = a <= b ? [a, b] : [b, a];
        const { first, last, edges } = coverRange(from, to, width);
        const covered: Array<[number, number]> = [...edges];
        for (let k = first; k <= last; k++) covered.push([k * width, (k + 1) * width - 1]);
        covered.sort((x, y) => x[0] - y[0]);
        expect(covered[0][0]).toBe(from);
        expect(covered[covered.length - 1][1]).toBe(to);
        for (let i = 1; i < covered.length; i++) expect(covered[i][0]).toBe(covered[i - 1][1] + 1);
      }),
    );
  });
});
