/**
 * Group commit: items submitted while a write is in flight wait and are written together by the
 * next one. Alone, an item is written at once (no added latency); under load, the cost of the
 * statements and of the commit (a WAL flush on PostgreSQL) is shared by the whole group.
 *
 * `writeGroup` returns one result per item, in order. When a group fails, each of its items is
 * written alone, so one bad item fails only its own submitter.
 */
export class GroupCommitter<TItem, TResult> {
  private readonly pending: Array<{ item: TItem; urgent: boolean; resolve(result: TResult): void; reject(error: unknown): void }> = [];
  /** Urgent items among the pending ones (see options.urgent). */
  private urgentPending = 0;
  private writers = 0;
  private gathering = false;

  constructor(
    private readonly writeGroup: (items: TItem[]) => Promise<TResult[]>,
    private readonly options: {
      /** Groups in flight at once (1 keeps the submission order across groups). */
      writers?: number;
      /** The size of an item (default 1) and the most a group may hold (a larger item still goes alone). */
      sizeOf?: (item: TItem) => number;
      maxGroupSize?: number;
      /**
       * Wait for the current turn of the event loop to end before writing a group, so that items
       * submitted by work running side by side (one message per run of a relay pass, runs ending
       * in one supervision pass) go together. Needed on the embedded database: PGlite answers
       * without yielding to the event loop, so a group is written before the next item can even
       * arrive and every group would hold one item. Costs well under a millisecond of latency.
       */
      gather?: boolean | 'microtasks';
      /**
       * With `gather`, wait this long (ms) before writing a group instead of to the end of the
       * turn: for writes nobody waits on soon (a status the API records for its views), so items
       * that come a few ms apart share a transaction.
       */
      lingerMs?: number;
      /** Items that must not linger: one of them pending writes the group at the end of the turn. */
      urgent?: (item: TItem) => boolean;
    } = {},
  ) {}

  submit(item: TItem): Promise<TResult> {
    return new Promise<TResult>((resolve, reject) => {
      const urgent = this.options.urgent?.(item) ?? false;
      if (urgent) this.urgentPending++;
      this.pending.push({ item, urgent, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    if (!this.pending.length) return;
    if (this.options.gather && this.writers < (this.options.writers ?? 1)) {
      const urgent = this.urgentPending > 0;
      if (this.gathering) {
        // Lingering, and an urgent item came: the group goes at the end of this turn instead.
        if (urgent && this.lingering) {
          clearTimeout(this.lingering);
          this.lingering = undefined;
          setImmediate(this.flushGathered);
        }
        return;
      }
      this.gathering = true;
      if (this.options.gather === 'microtasks') void gatherMicrotasks().then(this.flushGathered);
      else if (this.options.lingerMs && !urgent) this.lingering = setTimeout(this.flushGathered, this.options.lingerMs);
      else setImmediate(this.flushGathered);
      return;
    }
    this.flushGroups();
  }

  private lingering?: ReturnType<typeof setTimeout>;
  private readonly flushGathered = (): void => {
    this.gathering = false;
    this.lingering = undefined;
    this.flushGroups();
  };

  private flushGroups(): void {
    const sizeOf = this.options.sizeOf ?? (() => 1);
    const max = this.options.maxGroupSize ?? 500;
    while (this.writers < (this.options.writers ?? 1) && this.pending.length) {
      const group: typeof this.pending = [];
      let size = 0;
      while (this.pending.length && (group.length === 0 || size + sizeOf(this.pending[0].item) <= max)) {
        const next = this.pending.shift() as (typeof this.pending)[number];
        if (next.urgent) this.urgentPending--;
        group.push(next);
        size += sizeOf(next.item);
      }
      this.writers += 1;
      void this.write(group).finally(() => {
        this.writers -= 1;
        this.drain();
      });
    }
  }

  private async write(group: typeof this.pending): Promise<void> {
    try {
      const results = await this.writeGroup(group.map((g) => g.item));
      group.forEach((g, i) => g.resolve(results[i]));
    } catch (error) {
      if (group.length === 1) return group[0].reject(error);
      for (const g of group) {
        await this.writeGroup([g.item]).then(([result]) => g.resolve(result), g.reject);
      }
    }
  }
}

/**
 * `gather: 'microtasks'`: wait this many turns of the microtask queue, not a turn of the event
 * loop. Work started side by side in one callback (the starts of one admission pass, the ends of
 * one supervision pass) reaches `submit` within a few of them; a turn of the loop can last tens of
 * ms while the API takes a flood of submissions, and a run's start waited for it.
 */
export const GATHER_MICROTASKS = 32;

async function gatherMicrotasks(): Promise<void> {
  for (let i = 0; i < GATHER_MICROTASKS; i++) await null;
}
