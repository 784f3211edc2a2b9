import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkPolyaxonfiles, CompiledSpec, isDistribution, SpecError, SpecKind } from './index';

const FIXTURES = path.join(__dirname, '__fixtures__');

function read(dir: string, file: string): string {
  return fs.readFileSync(path.join(FIXTURES, dir, file), 'utf8');
}

function list(dir: string): string[] {
  return fs
    .readdirSync(path.join(FIXTURES, dir))
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort();
}

/** `# params: name=value` lines give -P overrides. */
function cliParams(content: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const m of content.matchAll(/^# params: ([^=\s]+)=(.*)$/gm)) out[m[1]] = m[2];
  return Object.keys(out).length ? out : undefined;
}

/** `# expect: [FILE:]LINE:COL PATH: MESSAGE` lines, PATH `-` when the error has none. */
function expectations(file: string, content: string): string[] {
  return [...content.matchAll(/^# expect: (.*)$/gm)].map((m) => {
    const e = m[1];
    return /^\d+:\d+ /.test(e) ? `${file}:${e}` : e;
  });
}

function show(e: SpecError): string {
  return `${e.file}:${e.line}:${e.column} ${e.path || '-'}: ${e.message}`;
}

describe('valid corpus', () => {
  const compiled = new Map<string, CompiledSpec>();
  for (const file of list('valid')) {
    it(`accepts ${file}`, () => {
      const r = checkPolyaxonfiles([{ path: file, content: read('valid', file) }]);
      if (!r.ok) throw new Error(r.errors.map(show).join('\n'));
      compiled.set(file, r.spec);
      expect(r.spec.raw.kind).toBe(r.spec.kind);
    });
  }

  it('covers every kind, algorithm and matrix option in every form', () => {
    const kinds = new Set<SpecKind>();
    const algorithms = new Set<string>();
    const options = new Set<string>();
    for (const spec of compiled.values()) {
      kinds.add(spec.kind);
      for (const t of spec.raw.templates ?? []) kinds.add(t.kind);
      if (spec.algorithm) algorithms.add(spec.algorithm);
      for (const o of Object.values(spec.hptuning?.matrix ?? {})) options.add(o.kind);
    }
    expect([...kinds].sort()).toEqual(['build', 'experiment', 'group', 'job', 'notebook', 'pipeline', 'tensorboard']);
    expect([...algorithms].sort()).toEqual(['asha', 'bo', 'grid_search', 'hyperband', 'random_search', 'tpe']);
    expect([...options].sort()).toEqual(
      [
        'geomspace',
        'linspace',
        'loguniform',
        'lognormal',
        'logspace',
        'normal',
        'pvalues',
        'qloguniform',
        'qlognormal',
        'qnormal',
        'quniform',
        'range',
        'uniform',
        'values',
      ].sort(),
    );
    // group_matrix_forms.yml writes each numeric option in its list, dict and "a:b:c" forms
    const forms = compiled.get('group_matrix_forms.yml')!.hptuning!.matrix;
    for (const kind of options) {
      if (kind === 'values' || kind === 'pvalues') continue;
      for (const form of ['list', 'dict', 'str']) expect(forms[`${kind}_${form}`]?.kind).toBe(kind);
    }
  });

  it('accepts the distributions only with search algorithms that sample', () => {
    for (const spec of compiled.values()) {
      if (spec.algorithm === 'grid_search') {
        expect(Object.values(spec.hptuning!.matrix).some(isDistribution)).toBe(false);
      }
    }
  });
});

describe('invalid corpus', () => {
  for (const file of list('invalid')) {
    it(`rejects ${file} at the expected places`, () => {
      const content = read('invalid', file);
      const expected = expectations(file, content);
      expect(expected.length).toBeGreaterThan(0);
      const r = checkPolyaxonfiles([{ path: file, content }], { params: cliParams(content) });
      expect(r.ok).toBe(false);
      const got = r.ok ? [] : r.errors.map(show);
      expect(got).toEqual(expected);
    });
  }
});
