import {
  canonicalJson,
  conditionHolds,
  describeTrigger,
  outputEquals,
  retryDelaySeconds,
  triggerVerdict,
} from './policy';

describe('triggerVerdict', () => {
  const c = (considered: number, succeeded: number, failed = 0, stopped = 0) => ({
    considered,
    succeeded,
    failed,
    stopped,
  });
  it('lets ops without upstream run under every policy', () => {
    for (const t of [
      'all_succeeded',
      'all_failed',
      'all_done',
      'one_succeeded',
      'one_failed',
      'one_done',
    ] as const)
      expect(triggerVerdict(t, c(0, 0))).toBe('run');
  });
  it('decides as soon as the outcome is certain', () => {
    expect(triggerVerdict('all_succeeded', c(3, 1, 1))).toBe('upstream_failed');
    expect(triggerVerdict('all_failed', c(3, 1))).toBe('skip');
    expect(triggerVerdict('one_succeeded', c(3, 1))).toBe('run');
    expect(triggerVerdict('one_failed', c(3, 0, 1))).toBe('run');
    expect(triggerVerdict('one_done', c(3, 0, 0, 1))).toBe('run');
    expect(triggerVerdict('all_done', c(3, 1, 1))).toBe('wait');
    expect(triggerVerdict('one_succeeded', c(2, 0, 1, 1))).toBe('upstream_failed');
    expect(triggerVerdict('one_failed', c(2, 1, 0, 1))).toBe('skip');
  });
  it('describes the counts', () => {
    expect(describeTrigger('all_done', c(4, 1, 1, 1), 2)).toBe(
      'all_done: 1 of 4 upstream ops succeeded, 1 failed, 1 stopped, 1 not finished, 2 skipped (ignored)',
    );
  });
});

describe('retryDelaySeconds', () => {
  const op = { retryDelay: 60, retryExpBackoff: true, maxRetryDelay: 3600 };
  it('doubles from retry_delay and stops at max_retry_delay', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((r) => retryDelaySeconds(op, r))).toEqual([
      60, 120, 240, 480, 960, 1920, 3600, 3600,
    ]);
  });
  it('is retry_delay without backoff', () => {
    expect(retryDelaySeconds({ ...op, retryExpBackoff: false }, 5)).toBe(60);
  });
});

describe('conditions and outputs', () => {
  it('compares outputs by value, and strings with the written value of numbers and booleans', () => {
    expect(outputEquals({ b: [1, 2], a: 'x' }, { a: 'x', b: [1, 2] })).toBe(true);
    expect(outputEquals('0.5', 0.5)).toBe(true);
    expect(outputEquals(true, 'true')).toBe(true);
    expect(outputEquals('1', true)).toBe(false);
    expect(outputEquals(undefined, null)).toBe(false);
    expect(canonicalJson({ b: 1, a: { d: [true, null], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[true,null]},"b":1}',
    );
  });
  it('evaluates status and outputs conditions', () => {
    expect(conditionHolds({ kind: 'status', op: 'a', trigger: 'failed' }, 'failed', undefined)).toBe(true);
    expect(conditionHolds({ kind: 'status', op: 'a', trigger: 'succeeded' }, 'failed', undefined)).toBe(
      false,
    );
    expect(conditionHolds({ kind: 'status', op: 'a', trigger: 'done' }, 'skipped', undefined)).toBe(true);
    const eq = {
      kind: 'outputs' as const,
      op: 'a',
      exp: 'eq' as const,
      params: [
        ['acc', 0.9],
        ['ok', true],
      ] as Array<[string, number | boolean]>,
    };
    expect(conditionHolds(eq, 'succeeded', { acc: 0.9, ok: true })).toBe(true);
    expect(conditionHolds(eq, 'succeeded', { acc: 0.9, ok: false })).toBe(false);
    expect(conditionHolds({ ...eq, exp: 'ne' }, 'succeeded', { acc: 0.5, ok: false })).toBe(true);
    expect(conditionHolds({ ...eq, exp: 'ne' }, 'failed', undefined)).toBe(true); // a missing output differs from any value
  });
});
