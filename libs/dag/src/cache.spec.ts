import { createHash } from 'node:crypto';
import { cacheKey, CacheCandidate, decideCache, isMutableImage } from './cache';

const template = { kind: 'job', name: 'train', run: { cmd: 'python train.py --lr={{ lr }}' } };
const input = {
  template,
  params: { lr: 0.01, layers: [64, 32], opts: { b: 1, a: 2 } },
  codeRef: 'a1b2c3d',
  image: 'registry/train@sha256:abc',
};
const candidate = (
  run: number,
  over: Partial<typeof input> = {},
  status: CacheCandidate['status'] = 'succeeded',
  finishedAt?: number,
): CacheCandidate => ({
  key: cacheKey({ ...input, ...over }),
  run,
  status,
  ...(finishedAt !== undefined ? { finishedAt } : {}),
});

describe('cache keys', () => {
  it('is a content hash that ignores key order and changes with any part', () => {
    const k = cacheKey(input);
    expect(k.key).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey({ ...input, params: { opts: { a: 2, b: 1 }, layers: [64, 32], lr: 0.01 } }).key).toBe(
      k.key,
    );
    expect(k.params.lr).toBe(createHash('sha256').update('0.01').digest('hex'));
    for (const over of [
      { params: { ...input.params, lr: 0.02 } },
      { codeRef: 'ffff' },
      { image: 'registry/train@sha256:def' },
      { template: { ...template, name: 'x' } },
    ]) {
      expect(cacheKey({ ...input, ...over }).key).not.toBe(k.key);
    }
  });

  it('knows mutable image references', () => {
    expect(isMutableImage('python')).toBe(true);
    expect(isMutableImage('pytorch/pytorch:latest')).toBe(true);
    expect(isMutableImage('localhost:5000/team/img')).toBe(true);
    expect(isMutableImage('localhost:5000/team/img:1.2')).toBe(false);
    expect(isMutableImage('python:3.11')).toBe(false);
    expect(isMutableImage('img@sha256:0123')).toBe(false);
  });
});

describe('cache decisions', () => {
  it('hits the newest succeeded run with the same key, and says why', () => {
    const d = decideCache(input, [
      candidate(7, {}, 'succeeded', 100),
      candidate(9, {}, 'succeeded', 200),
      candidate(8, { codeRef: 'old' }, 'succeeded', 300),
    ]);
    expect(d).toMatchObject({ hit: true, run: 9 });
    expect(d.reason).toBe(
      `run 9 succeeded with the same 3 params, template, code ref a1b2c3d, image registry/train@sha256:abc (key ${cacheKey(input).key.slice(0, 12)})`,
    );
  });

  it('misses with what changed since the newest earlier run', () => {
    const d = decideCache(input, [
      candidate(3, { params: { lr: 0.1, layers: [64, 32], dropout: 0.5 } as never, codeRef: '0000000' }),
    ]);
    expect(d).toMatchObject({
      hit: false,
      code: 'changed',
      closest: 3,
      changes: [
        'param `lr` changed',
        'param `opts` added',
        'param `dropout` removed',
        'code ref 0000000 -> a1b2c3d',
      ],
    });
    expect(d.reason).toBe(
      'since run 3: param `lr` changed, param `opts` added, param `dropout` removed, code ref 0000000 -> a1b2c3d',
    );
  });

  it('misses when the identical run failed, when nothing ran, when off, unresolved or mutable', () => {
    expect(decideCache(input, [candidate(4, {}, 'failed')])).toMatchObject({
      hit: false,
      code: 'not_succeeded',
      closest: 4,
      reason: 'run 4 had the same inputs but ended failed',
    });
    expect(decideCache(input, [])).toMatchObject({
      hit: false,
      code: 'no_candidates',
      reason: 'no earlier run of this op to reuse',
    });
    expect(decideCache(input, [candidate(1)], { enabled: false })).toMatchObject({
      hit: false,
      code: 'disabled',
    });
    expect(
      decideCache({ ...input, params: { data: '{{ ops.prepare.outputs.dataset }}' } }, []),
    ).toMatchObject({
      hit: false,
      code: 'unresolved_params',
      reason: 'params `data` still hold `{{ }}` references: resolve them before computing the key',
    });
    const latest = { ...input, image: 'pytorch/pytorch:latest' };
    expect(decideCache(latest, [candidate(1, latest)])).toMatchObject({ hit: false, code: 'mutable_image' });
    expect(decideCache(latest, [candidate(1, latest)], { allowMutableImage: true })).toMatchObject({
      hit: true,
      run: 1,
    });
  });
});
