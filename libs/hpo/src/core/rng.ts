/**
 * Seeded, serialisable random numbers (xoroshiro128+ from pure-rand). The whole generator state is
 * four 32-bit integers, so an optimizer's `toJSON()` can carry it and a restored optimizer continues
 * the exact same stream.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

export class Rng {
  private constructor(private gen: JumpableRandomGenerator) {}

  /** A generator seeded with a 32-bit integer (other numbers are hashed into one). */
  static seeded(seed: number): Rng {
    return new Rng(xoroshiro128plus(toSeed(seed)));
  }

  static fromState(state: readonly number[]): Rng {
    return new Rng(xoroshiro128plusFromState(state));
  }

  state(): number[] {
    return [...this.gen.getState()];
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return uniformFloat64(this.gen);
  }

  /** Uniform in (0, 1): safe for logarithms. */
  open(): number {
    let u = 0;
    while (u === 0) u = this.uniform();
    return u;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.min(n - 1, Math.floor(this.uniform() * n));
  }

  /** Standard normal draw (Box-Muller, one draw per call so the state stays four integers). */
  normal(): number {
    const u = this.open();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Index drawn with probability proportional to `weights` (non-negative, not all zero). */
  weighted(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i];
    let r = this.uniform() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) return i;
    }
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
    return weights.length - 1;
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }

  /** The `() => number` form `sampleMatrixOption` of @myelin/spec takes. */
  readonly fn = (): number => this.uniform();
}

/** Maps any finite number to a 32-bit seed (integers in range map to themselves). */
export function toSeed(seed: number): number {
  if (Number.isInteger(seed) && seed >= -0x80000000 && seed <= 0x7fffffff) return seed;
  // FNV-1a over the decimal form: stable across platforms.
  let h = 0x811c9dc5;
  for (const ch of String(seed)) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}
