import { GroupCommitter } from './group-committer';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('GroupCommitter', () => {
  it('writes an item alone at once, and items that arrive during a write together in the next one, in order', async () => {
    const groups: number[][] = [];
    const committer = new GroupCommitter<number, string>(async (items) => {
      groups.push(items);
      await tick();
      return items.map((i) => `stored ${i}`);
    });
    const first = committer.submit(1);
    const rest = [2, 3, 4].map((i) => committer.submit(i));
    expect(await Promise.all([first, ...rest])).toEqual(['stored 1', 'stored 2', 'stored 3', 'stored 4']);
    expect(groups).toEqual([[1], [2, 3, 4]]);
  });

  it('bounds a group by size; an item larger than the bound still goes, alone', async () => {
    const groups: number[][] = [];
    const committer = new GroupCommitter<number, number>(
      async (items) => {
        groups.push(items);
        await tick();
        return items;
      },
      { sizeOf: (n) => n, maxGroupSize: 10 },
    );
    await Promise.all([1, 4, 5, 3, 20, 2].map((n) => committer.submit(n)));
    expect(groups).toEqual([[1], [4, 5], [3], [20], [2]]);
  });

  it('when a group fails, writes each item alone: only the bad one fails', async () => {
    const committer = new GroupCommitter<number, number>(async (items) => {
      await tick();
      if (items.includes(13)) throw new Error('bad item 13');
      return items.map((i) => i * 2);
    });
    const pending = [1, 13, 3].map((i) => committer.submit(i).then((v) => ({ v }), (e: Error) => ({ e: e.message })));
    expect(await Promise.all(pending)).toEqual([{ v: 2 }, { e: 'bad item 13' }, { v: 6 }]);
  });

  it('keeps several groups in flight when asked', async () => {
    let inFlight = 0;
    let most = 0;
    const committer = new GroupCommitter<number, number>(
      async (items) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await tick();
        inFlight -= 1;
        return items;
      },
      { writers: 3, maxGroupSize: 1 },
    );
    await Promise.all(Array.from({ length: 9 }, (_, i) => committer.submit(i)));
    expect(most).toBe(3);
  });

  it('with gather, items submitted from separate callbacks of one event-loop turn share a group even when the write never yields', async () => {
    // A write that resolves without yielding to the event loop (as on PGlite): without gather each
    // item would be written alone.
    const groups: number[][] = [];
    const write = async (items: number[]) => {
      groups.push(items);
      return items;
    };
    const alone = new GroupCommitter<number, number>(write);
    const together = new GroupCommitter<number, number>(write, { gather: true });
    const submitFromImmediates = (committer: GroupCommitter<number, number>) =>
      Promise.all([1, 2, 3].map((i) => new Promise<number>((resolve) => setImmediate(() => resolve(committer.submit(i))))));
    await submitFromImmediates(alone);
    expect(groups).toEqual([[1], [2], [3]]);
    groups.length = 0;
    expect(await submitFromImmediates(together)).toEqual([1, 2, 3]);
    expect(groups).toEqual([[1, 2, 3]]);
  });

  it("with gather 'microtasks', work started side by side shares a group, written before the event loop goes round", async () => {
    const groups: number[][] = [];
    const committer = new GroupCommitter<number, number>(async (items) => (groups.push(items), items), { gather: 'microtasks' });
    // Side by side, as the starts of one admission pass: each awaits a few steps of its own first.
    const started = [1, 2, 3, 4].map(async (i) => {
      for (let step = 0; step < i; step++) await null;
      return committer.submit(i);
    });
    let turned = false;
    setImmediate(() => (turned = true));
    const written = await Promise.all(started);
    expect(turned).toBe(false); // no turn of the event loop waited for
    expect(written).toEqual([1, 2, 3, 4]);
    expect(groups).toEqual([[1, 2, 3, 4]]);
  });

  it('lingerMs: items that come a few ms apart are written together, after the linger', async () => {
    const groups: Array<{ items: number[]; at: number }> = [];
    const committer = new GroupCommitter<number, number>(
      async (items) => {
        groups.push({ items, at: Date.now() });
        return items;
      },
      { gather: true, lingerMs: 60 },
    );
    const since = Date.now();
    const first = committer.submit(1);
    await tick();
    const second = committer.submit(2);
    await tick();
    const third = committer.submit(3);
    expect(await Promise.all([first, second, third])).toEqual([1, 2, 3]);
    expect(groups.map((g) => g.items)).toEqual([[1, 2, 3]]);
    expect(groups[0].at - since).toBeGreaterThanOrEqual(50);
  });

  it('urgent: an urgent item does not linger, and takes the lingering ones with it', async () => {
    const groups: number[][] = [];
    const committer = new GroupCommitter<number, number>(
      async (items) => {
        groups.push(items);
        return items;
      },
      // A linger no test waits for: only the urgent item can have the group written.
      { gather: true, lingerMs: 600_000, urgent: (n) => n < 0 },
    );
    const lingering = [committer.submit(1), committer.submit(2)];
    await tick();
    expect(groups).toEqual([]);
    expect(await Promise.all([...lingering, committer.submit(-3)])).toEqual([1, 2, -3]);
    expect(groups).toEqual([[1, 2, -3]]);
    // Alone, an urgent item is written at the end of the turn.
    expect(await committer.submit(-4)).toBe(-4);
    expect(groups).toEqual([[1, 2, -3], [-4]]);
  });
});
