/** A min-heap of timers ordered by (at, seq): the engine's retries, delays and timeouts. */
import type { Millis } from './types';

export type TimerKind = 'retry' | 'delay' | 'timeout' | 'pipeline_start' | 'pipeline_timeout';

export interface Timer {
  at: Millis;
  /** Insertion number: equal times fire in insertion order. */
  seq: number;
  kind: TimerKind;
  /** Op index, -1 for pipeline timers. */
  op: number;
  attempt: number;
}

const before = (a: Timer, b: Timer): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

export class TimerHeap {
  private readonly items: Timer[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.items.length;
  }
  get seq(): number {
    return this.nextSeq;
  }
  set seq(v: number) {
    this.nextSeq = v;
  }

  push(at: Millis, kind: TimerKind, op: number, attempt: number): Timer {
    const t: Timer = { at, seq: this.nextSeq++, kind, op, attempt };
    this.insert(t);
    return t;
  }

  /** Re-inserts a timer with its original seq (restore). */
  insert(t: Timer): void {
    const a = this.items;
    a.push(t);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }

  peek(): Timer | undefined {
    return this.items[0];
  }

  pop(): Timer | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l], a[m])) m = l;
        if (r < a.length && before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }

  /** All timers, in heap order (for snapshots). */
  all(): readonly Timer[] {
    return this.items;
  }
}
