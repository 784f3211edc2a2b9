import { parseMetricLine } from './metric-line';

describe('parseMetricLine', () => {
  it('parses several metrics with a step', () => {
    expect(parseMetricLine('myelin:metric step=3 loss=0.25 acc=0.91')).toEqual({
      kind: 'metrics',
      metrics: { step: 3, values: [{ name: 'loss', value: 0.25 }, { name: 'acc', value: 0.91 }] },
    });
  });
  it('accepts a line without step, scientific notation and leading blanks', () => {
    expect(parseMetricLine('   myelin:metric val/loss=1e-3')).toEqual({
      kind: 'metrics',
      metrics: { values: [{ name: 'val/loss', value: 0.001 }] },
    });
  });
  it('keeps nan and infinities', () => {
    const r = parseMetricLine('myelin:metric a=nan b=-inf');
    expect(r.kind).toBe('metrics');
    if (r.kind === 'metrics') {
      expect(Number.isNaN(r.metrics.values[0].value)).toBe(true);
      expect(r.metrics.values[1].value).toBe(-Infinity);
    }
  });
  it('ignores ordinary output', () => {
    expect(parseMetricLine('epoch 3 loss=0.2')).toEqual({ kind: 'none' });
    expect(parseMetricLine('say myelin:metric loss=1')).toEqual({ kind: 'none' });
    expect(parseMetricLine('myelin:metrics loss=1')).toEqual({ kind: 'none' });
  });
  it('reports what is wrong with a malformed report', () => {
    expect(parseMetricLine('myelin:metric loss=abc')).toEqual({ kind: 'invalid', reason: 'loss: "abc" is not a number' });
    expect(parseMetricLine('myelin:metric step=1.5 loss=1').kind).toBe('invalid');
    expect(parseMetricLine('myelin:metric step=2').kind).toBe('invalid');
    expect(parseMetricLine('myelin:metric loss').kind).toBe('invalid');
  });
});
