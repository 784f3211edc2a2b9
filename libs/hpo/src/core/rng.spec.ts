import { Rng, toSeed } from './rng';
import { ksCritical, ksStatistic, stdNormalCdf } from '../testing/helpers';

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = Rng.seeded(42);
    const b = Rng.seeded(42);
    const c = Rng.seeded(43);
    const xs = Array.from({ length: 5 }, () => a.uniform());
    expect(Array.from({ length: 5 }, () => b.uniform())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.uniform())).not.toEqual(xs);
  });

  it('continues the same stream after a state round trip through JSON', () => {
    const a = Rng.seeded(7);
    for (let i = 0; i < 10; i++) a.normal();
    const b = Rng.fromState(JSON.parse(JSON.stringify(a.state())) as number[]);
    expect(Array.from({ length: 20 }, () => b.uniform())).toEqual(Array.from({ length: 20 }, () => a.uniform()));
  });

  it('draws uniforms in [0, 1) and standard normals with the right distribution', () => {
    const r = Rng.seeded(1);
    const u = Array.from({ length: 5000 }, () => r.uniform());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(ksStatistic(u, (x) => x)).toBeLessThan(ksCritical(u.length));
    const z = Array.from({ length: 5000 }, () => r.normal());
    expect(ksStatistic(z, stdNormalCdf)).toBeLessThan(ksCritical(z.length));
  });

  it('picks indices in proportion to weights and shuffles to permutations', () => {
    const r = Rng.seeded(3);
    const counts = [0, 0, 0];
    for (let i = 0; i < 6000; i++) counts[r.weighted([1, 2, 3])]++;
    expect(counts[0] / 6000).toBeCloseTo(1 / 6, 1);
    expect(counts[2] / 6000).toBeCloseTo(0.5, 1);
    expect(r.weighted([0, 0, 5])).toBe(2);
    expect(r.shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
    for (let i = 0; i < 100; i++) expect(r.int(3)).toBeLessThan(3);
  });

  it('maps any number to a 32-bit seed', () => {
    expect(toSeed(5)).toBe(5);
    expect(toSeed(-5)).toBe(-5);
    expect(toSeed(1.5)).toBe(toSeed(1.5));
    expect(Number.isInteger(toSeed(2 ** 40))).toBe(true);
    expect(toSeed(2 ** 40)).not.toBe(toSeed(2 ** 41));
  });
});
