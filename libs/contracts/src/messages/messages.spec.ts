import { MESSAGES, findMessage } from './registry';
import { instantiatePayload, validatePayload, describeProblems } from './validate';
import { RunStatusChanged } from './runs/run-status-changed/run-status-changed.message';
import { RunCreated } from './runs/run-created/run-created.message';
import { MetricsBatch } from './tracking/metrics-batch/metrics-batch.message';
import { defineMessage, PATTERN_FORMAT } from './message-kind';

describe('message registry', () => {
  it('names every pattern <owner>.<cmd|evt|req>.<entity>.<verb>.v<n>, uniquely', () => {
    const seen = new Set<string>();
    for (const m of MESSAGES) {
      expect(m.pattern).toMatch(PATTERN_FORMAT);
      expect(seen.has(m.pattern)).toBe(false);
      seen.add(m.pattern);
    }
    expect(findMessage(RunStatusChanged.PATTERN)?.owner).toBe('scheduler');
  });

  it('refuses a pattern whose name disagrees with its kind', () => {
    class P {}
    expect(() => defineMessage('scheduler.evt.run.start.v1', 'command', P)).toThrow(/is a command/);
    expect(() => defineMessage('bad pattern', 'event', P)).toThrow(/does not follow/);
  });

  it('accepts a valid status change and refuses unknown fields and bad values', () => {
    const ok = validatePayload(RunStatusChanged.definition, {
      runUuid: '6f1c2b8e-1f7a-4c1e-9a51-3b0f4ad1c2d3',
      status: 'running',
      reason: 'ProcessStarted',
      message: '',
      at: new Date().toISOString(),
    });
    expect(ok.ok).toBe(true);
    const bad = validatePayload(RunStatusChanged.definition, {
      runUuid: 'nope',
      status: 'flying',
      reason: 'x',
      message: '',
      at: 'yesterday',
      extra: 1,
    });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      const text = describeProblems(bad.problems);
      expect(text).toMatch(/runUuid/);
      expect(text).toMatch(/status/);
      expect(text).toMatch(/at/);
      expect(text).toMatch(/extra/);
    }
  });

  it('validates nested metric points', () => {
    const bad = validatePayload(MetricsBatch.definition, {
      runUuid: '6f1c2b8e-1f7a-4c1e-9a51-3b0f4ad1c2d3',
      batchId: 'b1',
      points: [{ name: 'loss', value: 'high', at: new Date().toISOString() }],
    });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(describeProblems(bad.problems)).toMatch(/points\.0\.value/);
  });

  it('refuses a payload that is not an object', () => {
    expect(validatePayload(MetricsBatch.definition, null).ok).toBe(false);
    expect(validatePayload(MetricsBatch.definition, [1]).ok).toBe(false);
  });

  it('gives run status and run creation events the topics their followers subscribe to, and only events have topics', () => {
    const at = new Date().toISOString();
    const status = (s: string, parent: { parentUuid?: string | null; parentKind?: 'group' | 'pipeline' | null }) =>
      findMessage(RunStatusChanged.PATTERN)?.topic?.({ runUuid: 'r', status: s, reason: '', message: '', at, ...parent });
    expect(status('running', { parentUuid: 'g', parentKind: 'group' })).toBe('live.group');
    expect(status('succeeded', { parentUuid: 'g', parentKind: 'group' })).toBe('final.group');
    expect(status('upstream_failed', { parentUuid: 'p', parentKind: 'pipeline' })).toBe('final.pipeline');
    expect(status('stopped', { parentUuid: null })).toBe('final.none');
    expect(status('failed', { parentUuid: 'x' })).toBe('final.unknown');
    expect(status('failed', {})).toBe('final.unknown');
    expect(RunStatusChanged.finalChildrenOf('group')).toEqual(['final.group', 'final.unknown']);
    expect(findMessage(RunCreated.PATTERN)?.topic?.({ runUuid: 'r', project: 'a/b', number: 1, kind: 'pipeline', at })).toBe('pipeline');
    const events = MESSAGES.filter((m) => m.topic);
    expect(events.every((m) => m.kind === 'event')).toBe(true);
    class P {}
    expect(() => defineMessage('x.cmd.thing.do.v1', 'command', P, { topic: () => 't' })).toThrow(/only events have topics/);
  });

  describe('opaque JSON members (IsPlainObject)', () => {
    const created = (pipeline: unknown) => ({ runUuid: '7d444840-9dc8-41a1-8f9e-6f0b47bd0a3e', project: 'a/b', number: 3, kind: 'pipeline', at: '2026-11-29T06:00:00.000Z', pipeline });

    it('are validated as objects and carried as they are, nested values untouched', () => {
      const pipeline = { raw: { ops: [{ name: 'a', params: { lr: 0.1, when: '2026-11-29T06:00:00Z' } }] }, nested: { deep: [1, { x: null }] } };
      const ok = validatePayload(RunCreated.definition, created(pipeline));
      expect(ok.ok).toBe(true);
      if (!ok.ok) return;
      expect(ok.value).toBeInstanceOf(RunCreated.Payload);
      expect(ok.value.pipeline).toEqual(pipeline);
      for (const bad of [[1, 2], 'spec', 7]) {
        const refused = validatePayload(RunCreated.definition, created(bad));
        expect(refused.ok ? [] : refused.problems).toEqual([{ field: 'pipeline', reason: 'pipeline must be an object' }]);
      }
      // Optional: absent and null are accepted as before.
      expect(validatePayload(RunCreated.definition, { ...created(undefined), pipeline: undefined }).ok).toBe(true);
      expect(validatePayload(RunCreated.definition, created(null)).ok).toBe(true);
      // The other members are still checked, and unknown ones refused.
      const unknown = validatePayload(RunCreated.definition, { ...created({}), extra: 1 });
      expect(unknown.ok ? [] : unknown.problems.map((p) => p.field)).toEqual(['extra']);
    });

    it('give each delivery its own copy', () => {
      const plain = created({ raw: { ops: [{ name: 'a' }] } });
      const first = instantiatePayload(RunCreated.definition, plain);
      const second = instantiatePayload(RunCreated.definition, plain);
      expect(first).toBeInstanceOf(RunCreated.Payload);
      expect(first.pipeline).toEqual(plain.pipeline);
      (first.pipeline as { raw: { ops: Array<{ name: string }> } }).raw.ops[0].name = 'changed by a handler';
      expect((second.pipeline as { raw: { ops: Array<{ name: string }> } }).raw.ops[0].name).toBe('a');
      expect((plain.pipeline as { raw: { ops: Array<{ name: string }> } }).raw.ops[0].name).toBe('a');
    });
  });
});
