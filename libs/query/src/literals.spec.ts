import { readBoolean, readNumber, readTimestamp } from './literals';

describe('readNumber', () => {
  it.each<[string, number | undefined]>([
    ['0', 0],
    ['-0.5', -0.5],
    ['+3', 3],
    ['.5', 0.5],
    ['5.', 5],
    ['1e-3', 0.001],
    ['2E+2', 200],
    ['', undefined],
    [' 1', undefined],
    ['0x10', undefined],
    ['Infinity', undefined],
    ['NaN', undefined],
    ['1e999', undefined],
    ['1,5', undefined],
    ['--1', undefined],
    ['.', undefined],
  ])('%j -> %p', (text, n) => {
    expect(readNumber(text)).toBe(n);
  });
});

describe('readBoolean', () => {
  it('reads true and false in any case, nothing else', () => {
    expect([readBoolean('true'), readBoolean('FALSE'), readBoolean('yes'), readBoolean('1')]).toEqual([
      true,
      false,
      undefined,
      undefined,
    ]);
  });
});

describe('readTimestamp: an interval of the literal precision', () => {
  it.each<[string, string, string]>([
    ['2026-01', '2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z'],
    ['2026-12', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['2026-01-31', '2026-01-31T00:00:00.000Z', '2026-02-01T00:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z', '2024-03-01T00:00:00.000Z'],
    ['2026-01-31 10:00', '2026-01-31T10:00:00.000Z', '2026-01-31T10:01:00.000Z'],
    ['2026-01-31T10:00:05', '2026-01-31T10:00:05.000Z', '2026-01-31T10:00:06.000Z'],
    ['2026-01-31t10:00:05.25', '2026-01-31T10:00:05.250Z', '2026-01-31T10:00:05.260Z'],
    ['2026-01-31T10:00:05.123Z', '2026-01-31T10:00:05.123Z', '2026-01-31T10:00:05.124Z'],
    ['2026-01-31T10:00+02:00', '2026-01-31T08:00:00.000Z', '2026-01-31T08:01:00.000Z'],
    ['2026-01-31T00:30-0130', '2026-01-31T02:00:00.000Z', '2026-01-31T02:01:00.000Z'],
    ['0099-01-01', '0099-01-01T00:00:00.000Z', '0099-01-02T00:00:00.000Z'],
    ['9999-12-31', '9999-12-31T00:00:00.000Z', 'infinity'],
  ])('%s', (text, start, end) => {
    expect(readTimestamp(text)).toEqual({ start, end });
  });

  it.each([
    '2026',
    '2026-13',
    '2026-00-01',
    '2026-02-29',
    '2026-04-31',
    '0000-01-01',
    '2026-01-01 24:00',
    '2026-01-01 10:60',
    '2026-01-01 10:00:60',
    '2026-01-01 10',
    '2026-01-01T10:00:00.1234',
    '2026-01-01Z',
    '2026-01-01T10:00+24:00',
    '26-01-01',
    'yesterday',
    '',
  ])('refuses %j', (text) => {
    expect(readTimestamp(text)).toBeUndefined();
  });
});
