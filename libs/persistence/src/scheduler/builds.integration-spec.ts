import { randomUUID } from 'node:crypto';
import { serverAndEmbedded } from '@myelin/testing';
import { useSchedulerTestDatabase } from '../testing/scheduler-test-database';

/** The build cache, on the PostgreSQL server and on the embedded PGlite (same migrations). */
const backends = serverAndEmbedded('myelin_builds');

describe.each(backends)('scheduler build cache on %s', (_label, provision) => {
  const scheduler = useSchedulerTestDatabase(provision);
  const key = (c: string) => c.repeat(64);

  it('stores an image per key, replaces it on a rebuild, and forgets it on invalidation', async () => {
    const first = randomUUID();
    expect(await scheduler.builds.find(key('a'))).toBeNull();
    const saved = await scheduler.builds.put({ key: key('a'), image: 'reg/alice-mnist:aaa', project: 'alice/mnist', runUuid: first, codeRef: 'commit:1' });
    expect(saved).toMatchObject({ key: key('a'), image: 'reg/alice-mnist:aaa', runUuid: first, codeRef: 'commit:1' });
    expect(saved.createdAt).toBeInstanceOf(Date);
    const second = randomUUID();
    await scheduler.builds.put({ key: key('a'), image: 'reg/alice-mnist:aaa2', project: 'alice/mnist', runUuid: second, codeRef: 'commit:1' });
    expect(await scheduler.builds.find(key('a'))).toMatchObject({ image: 'reg/alice-mnist:aaa2', runUuid: second });
    expect(await scheduler.builds.invalidate(key('a'))).toBe(true);
    expect(await scheduler.builds.invalidate(key('a'))).toBe(false);
    expect(await scheduler.builds.find(key('a'))).toBeNull();
  });

  it('invalidates a whole project, and only that project', async () => {
    for (const c of ['b', 'c']) await scheduler.builds.put({ key: key(c), image: `reg/p:${c}`, project: 'alice/nlp', runUuid: randomUUID(), codeRef: 'commit:2' });
    await scheduler.builds.put({ key: key('d'), image: 'reg/q:d', project: 'bob/nlp', runUuid: randomUUID(), codeRef: 'commit:2' });
    expect((await scheduler.builds.listByProject('alice/nlp')).map((b) => b.key).sort()).toEqual([key('b'), key('c')]);
    expect(await scheduler.builds.invalidateProject('alice/nlp')).toBe(2);
    expect(await scheduler.builds.listByProject('alice/nlp')).toEqual([]);
    expect(await scheduler.builds.find(key('d'))).not.toBeNull();
  });
});
