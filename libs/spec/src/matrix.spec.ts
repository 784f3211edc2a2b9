import fc from 'fast-check';
import {
  enumerateGrid,
  expandMatrixOption,
  formatSpecError,
  gridSize,
  isDistribution,
  MatrixOption,
  optionBounds,
  optionSize,
  parsePolyaxonfiles,
  checkPolyaxonfiles,
  sampleMatrixOption,
} from './index';

function matrixOf(options: Record<string, string>, algorithm = ''): Record<string, MatrixOption> {
  const lines = ['version: 1', 'kind: group', 'hptuning:', algorithm ? `  ${algorithm}` : '', '  matrix:'];
  for (const [k, v] of Object.entries(options)) lines.push(`    ${k}: ${v}`);
  lines.push('run:', `  cmd: echo ${Object.keys(options).map((k) => `{{ ${k} }}`).join(' ')}`);
  const r = checkPolyaxonfiles([{ path: 'm.yml', content: lines.join('\n') }]);
  if (!r.ok) throw new Error(r.errors.map(formatSpecError).join('\n'));
  return r.spec.hptuning!.matrix;
}

/** A seeded uniform generator for reproducible sampling tests. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('matrix option forms', () => {
  it('parses list, dict and "a:b:c" forms into the same canonical option', () => {
    const m = matrixOf(
      {
        a: '{range: [0, 10, 2]}',
        b: '{range: {start: 0, stop: 10, step: 2}}',
        c: "{range: '0:10:2'}",
        d: '{logspace: [0, 3, 4, 2]}',
        e: "{logspace: '0:3:4:2'}",
        f: '{logspace: {start: 0, stop: 3, num: 4, base: 2}}',
        g: '{qnormal: [0, 1, 0.5, 3]}',
        h: '{qnormal: {loc: 0, scale: 1, q: 0.5, size: 3}}',
        i: "{qnormal: '0:1:0.5:3'}",
      },
      'random_search: {n_experiments: 3}',
    );
    expect(m.a).toEqual({ kind: 'range', start: 0, stop: 10, step: 2 });
    expect(m.b).toEqual(m.a);
    expect(m.c).toEqual(m.a);
    expect(m.d).toEqual({ kind: 'logspace', start: 0, stop: 3, num: 4, base: 2 });
    expect(m.e).toEqual(m.d);
    expect(m.f).toEqual(m.d);
    expect(m.g).toEqual({ kind: 'qnormal', loc: 0, scale: 1, q: 0.5, size: 3 });
    expect(m.h).toEqual(m.g);
    expect(m.i).toEqual(m.g);
  });

  it('defaults logspace base to 10 and normalises pvalues', () => {
    const m = matrixOf({ a: "{logspace: '0:2:3'}", b: '{pvalues: [[x, 0.2], [y, 0.6]]}' }, 'random_search: {n_experiments: 3}');
    expect(m.a).toEqual({ kind: 'logspace', start: 0, stop: 2, num: 3, base: 10 });
    expect(m.b).toEqual({ kind: 'pvalues', values: ['x', 'y'], probabilities: [0.25, 0.75] });
  });
});

describe('expandMatrixOption', () => {
  it('follows numpy.arange / linspace / logspace / geomspace', () => {
    expect(expandMatrixOption({ kind: 'range', start: 0, stop: 1, step: 0.1 })).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    expect(expandMatrixOption({ kind: 'range', start: 10, stop: 600, step: 50 })).toHaveLength(12);
    expect(expandMatrixOption({ kind: 'range', start: -5, stop: 0, step: 1 })).toEqual([-5, -4, -3, -2, -1]);
    expect(expandMatrixOption({ kind: 'linspace', start: 0.01, stop: 0.1, num: 5 })).toEqual([0.01, 0.0325, 0.055, 0.0775, 0.1]);
    expect(expandMatrixOption({ kind: 'linspace', start: 3, stop: 4, num: 1 })).toEqual([3]);
    expect(expandMatrixOption({ kind: 'logspace', start: 0, stop: 2, num: 3, base: 10 })).toEqual([1, 10, 100]);
    expect(expandMatrixOption({ kind: 'logspace', start: 0, stop: 10, num: 11, base: 2 })).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
    expect(expandMatrixOption({ kind: 'geomspace', start: 1, stop: 1000, num: 4 })).toEqual([1, 10, 100, 1000]);
    expect(expandMatrixOption({ kind: 'geomspace', start: -1000, stop: -1, num: 4 })).toEqual([-1000, -100, -10, -1]);
    expect(expandMatrixOption({ kind: 'values', values: ['a', 1] })).toEqual(['a', 1]);
    expect(expandMatrixOption({ kind: 'pvalues', values: ['a', 'b'], probabilities: [0.5, 0.5] })).toEqual(['a', 'b']);
  });

  it('throws for continuous distributions', () => {
    expect(() => expandMatrixOption({ kind: 'uniform', low: 0, high: 1 })).toThrow(/continuous/);
    expect(() => optionSize({ kind: 'normal', loc: 0, scale: 1 })).toThrow(/continuous/);
  });

  it('tells distributions apart', () => {
    expect(isDistribution({ kind: 'pvalues', values: [1], probabilities: [1] })).toBe(true);
    expect(isDistribution({ kind: 'qlognormal', loc: 0, scale: 1, q: 1 })).toBe(true);
    expect(isDistribution({ kind: 'geomspace', start: 1, stop: 2, num: 2 })).toBe(false);
    expect(isDistribution({ kind: 'values', values: [1] })).toBe(false);
  });

  it('enumerates the grid with the first key varying slowest', () => {
    const grid = enumerateGrid({ a: { kind: 'values', values: [1, 2] }, b: { kind: 'values', values: ['x', 'y', 'z'] } });
    expect(grid).toEqual([
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 1, b: 'z' },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
      { a: 2, b: 'z' },
    ]);
    expect(enumerateGrid({ a: { kind: 'values', values: [1, 2] } }, 1)).toEqual([{ a: 1 }]);
  });
});

describe('reference sampler (fixes Polyaxon quantisation)', () => {
  const fixed = (...xs: number[]): (() => number) => {
    let i = 0;
    return () => xs[i++ % xs.length];
  };

  it('rounds quantised draws to the nearest multiple of q (Polyaxon floored)', () => {
    // U = 1.9 -> Polyaxon: floor(1.9 / 2) * 2 = 0; rounding gives 2
    expect(sampleMatrixOption({ kind: 'quniform', low: 0, high: 10, q: 2 }, fixed(0.19))).toBe(2);
    expect(sampleMatrixOption({ kind: 'quniform', low: 0, high: 1, q: 0.1 }, fixed(0.26))).toBe(0.3);
  });

  it('quantises qlognormal (Polyaxon exponentiated the draw twice)', () => {
    const v = sampleMatrixOption({ kind: 'qlognormal', loc: 2, scale: 0.5, q: 5 }, mulberry32(1)) as number;
    expect(v % 5).toBe(0);
    expect(v).toBeGreaterThanOrEqual(0);
  });

  it('returns `size` draws as a list and follows pvalues weights', () => {
    expect(sampleMatrixOption({ kind: 'uniform', low: 0, high: 1, size: 3 }, fixed(0.5))).toEqual([0.5, 0.5, 0.5]);
    const pv: MatrixOption = { kind: 'pvalues', values: ['a', 'b', 'c'], probabilities: [0.2, 0.3, 0.5] };
    expect(sampleMatrixOption(pv, fixed(0.1))).toBe('a');
    expect(sampleMatrixOption(pv, fixed(0.45))).toBe('b');
    expect(sampleMatrixOption(pv, fixed(0.99))).toBe('c');
  });
});

// ---------------------------------------------------------------- property tests

type Form = 'list' | 'dict' | 'str';
const form = fc.constantFrom<Form>('list', 'dict', 'str');

/** A discrete option written in YAML, with its expected size and value bounds computed independently. */
interface DiscreteCase {
  yaml: string;
  size: number;
  check: (v: unknown) => boolean;
}

function write(kind: string, keys: string[], vals: number[], f: Form): string {
  if (f === 'list') return `{${kind}: [${vals.join(', ')}]}`;
  if (f === 'dict') return `{${kind}: {${keys.map((k, i) => `${k}: ${vals[i]}`).join(', ')}}}`;
  return `{${kind}: '${vals.join(':')}'}`;
}

const decimal = (min: number, max: number): fc.Arbitrary<number> => fc.integer({ min: min * 4, max: max * 4 }).map((n) => n / 4);
const EPS = 1e-9;

const discreteCase: fc.Arbitrary<DiscreteCase> = fc.oneof(
  fc.tuple(fc.uniqueArray(fc.oneof(fc.integer({ min: -50, max: 50 }), fc.constantFrom('a', 'b', 'relu')), { minLength: 1, maxLength: 4 })).map(([vals]) => ({
    yaml: `{values: [${vals.join(', ')}]}`,
    size: vals.length,
    check: (v: unknown) => (vals as unknown[]).includes(v),
  })),
  fc.tuple(decimal(-20, 20), fc.integer({ min: 1, max: 12 }), decimal(0.25, 5), form).map(([start, n, step, f]) => {
    const stop = start + n * step;
    return {
      yaml: write('range', ['start', 'stop', 'step'], [start, stop, step], f),
      size: n,
      check: (v: unknown) => typeof v === 'number' && v >= start - EPS && v < stop - EPS,
    };
  }),
  fc.tuple(decimal(-20, 20), decimal(0.25, 20), fc.integer({ min: 1, max: 6 }), form).map(([start, span, num, f]) => ({
    yaml: write('linspace', ['start', 'stop', 'num'], [start, start + span, num], f),
    size: num,
    check: (v: unknown) => typeof v === 'number' && v >= start - EPS && v <= start + span + EPS,
  })),
  fc.tuple(fc.integer({ min: -4, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }), fc.constantFrom(2, 10), form).map(([start, span, num, base, f]) => {
    const vals = base === 10 && f !== 'dict' ? [start, start + span, num] : [start, start + span, num, base];
    const keys = base === 10 && f !== 'dict' ? ['start', 'stop', 'num'] : ['start', 'stop', 'num', 'base'];
    const lo = Math.pow(base, start);
    const hi = Math.pow(base, start + span);
    return {
      yaml: write('logspace', keys, vals, f),
      size: num,
      check: (v: unknown) => typeof v === 'number' && v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9),
    };
  }),
  fc.tuple(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 2, max: 1000 }), fc.integer({ min: 1, max: 6 }), fc.boolean(), form).map(([a, factor, num, negative, f]) => {
    const s = negative ? -1 : 1;
    const [start, stop] = negative ? [-a * factor, -a] : [a, a * factor];
    return {
      yaml: write('geomspace', ['start', 'stop', 'num'], [start, stop, num], f),
      size: num,
      check: (v: unknown) =>
        typeof v === 'number' && Math.sign(v) === s && v >= start - Math.abs(start) * 1e-9 - EPS && v <= stop + Math.abs(stop) * 1e-9 + EPS,
    };
  }),
);

describe('property: random valid matrices', () => {
  it('parse, and the grid has the product of the option sizes with every value in range', () => {
    fc.assert(
      fc.property(fc.array(discreteCase, { minLength: 1, maxLength: 4 }), fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }), (cases, cap) => {
        const opts: Record<string, string> = {};
        cases.forEach((c, i) => (opts[`p${i}`] = c.yaml));
        const matrix = matrixOf(opts, cap === undefined ? '' : `grid_search: {n_experiments: ${cap}}`);
        const product = cases.reduce((acc, c) => acc * c.size, 1);
        expect(gridSize(matrix)).toBe(product);
        const rows = enumerateGrid(matrix);
        expect(rows).toHaveLength(product);
        for (const row of rows) {
          cases.forEach((c, i) => expect(c.check(row[`p${i}`])).toBe(true));
        }
        // distinct combinations
        expect(new Set(rows.map((r) => JSON.stringify(r))).size).toBe(product);
        const spec = parsePolyaxonfiles([
          {
            path: 'g.yml',
            content: `version: 1\nkind: group\nhptuning:\n  ${cap === undefined ? '' : `grid_search: {n_experiments: ${cap}}`}\n  matrix:\n${Object.entries(opts).map(([k, v]) => `    ${k}: ${v}`).join('\n')}\nrun: {cmd: echo}\n`,
          },
        ]);
        expect(spec.numExperiments).toBe(cap === undefined ? product : Math.min(cap, product));
      }),
      { numRuns: 150 },
    );
  });

  const continuousCase = fc.oneof(
    fc.tuple(fc.constantFrom('uniform', 'loguniform'), decimal(-5, 5), decimal(0.25, 5), form).map(([kind, low, span, f]) => ({
      kind,
      yaml: write(kind, ['low', 'high'], [low, low + span], f),
      low,
      high: low + span,
    })),
    fc.tuple(fc.constantFrom('quniform', 'qloguniform'), decimal(-3, 3), decimal(0.25, 3), fc.constantFrom(0.25, 0.5, 1), form).map(([kind, low, span, q, f]) => ({
      kind,
      yaml: write(kind, ['low', 'high', 'q'], [low, low + span, q], f),
      low,
      high: low + span,
      q,
    })),
    fc.tuple(fc.constantFrom('normal', 'lognormal'), decimal(-3, 3), decimal(0.25, 2), form).map(([kind, loc, scale, f]) => ({
      kind,
      yaml: write(kind, ['loc', 'scale'], [loc, scale], f),
      loc,
      scale,
    })),
    fc.tuple(fc.constantFrom('qnormal', 'qlognormal'), decimal(-2, 2), decimal(0.25, 1), fc.constantFrom(0.5, 1, 2), form).map(([kind, loc, scale, q, f]) => ({
      kind,
      yaml: write(kind, ['loc', 'scale', 'q'], [loc, scale, q], f),
      loc,
      scale,
      q,
    })),
  );

  it('distributions parse in every form and their samples stay inside the declared support', () => {
    fc.assert(
      fc.property(continuousCase, fc.integer({ min: 1, max: 2 ** 30 }), (c, seed) => {
        const m = matrixOf({ x: c.yaml }, 'random_search: {n_experiments: 5}');
        const o = m.x;
        expect(o.kind).toBe(c.kind);
        expect(isDistribution(o)).toBe(true);
        const random = mulberry32(seed);
        const bounds = optionBounds(o);
        for (let i = 0; i < 20; i++) {
          const v = sampleMatrixOption(o, random) as number;
          expect(Number.isFinite(v)).toBe(true);
          if (bounds.min !== undefined) expect(v).toBeGreaterThanOrEqual(bounds.min - 1e-9);
          if (bounds.max !== undefined) expect(v).toBeLessThanOrEqual(bounds.max + 1e-9);
          if ('q' in c && c.q !== undefined) {
            const k = v / c.q;
            expect(Math.abs(k - Math.round(k))).toBeLessThan(1e-6);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('grid search rejects every distribution, random search accepts it', () => {
    fc.assert(
      fc.property(continuousCase, (c) => {
        const content = `version: 1\nkind: group\nhptuning:\n  matrix:\n    x: ${c.yaml}\nrun: {cmd: echo}\n`;
        const r = checkPolyaxonfiles([{ path: 'g.yml', content }]);
        expect(r.ok).toBe(false);
        expect(!r.ok && r.errors[0].path).toBe(`hptuning.matrix.x.${c.kind}`);
      }),
      { numRuns: 50 },
    );
  });
});
