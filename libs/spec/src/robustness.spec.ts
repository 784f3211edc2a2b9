import fc from 'fast-check';
import { stringify } from 'yaml';
import { checkPolyaxonfiles, SPEC_KINDS } from './index';

const SECTIONS = [
  'params', 'declarations', 'inputs', 'outputs', 'environment', 'build', 'run', 'hptuning', 'framework', 'backend',
  'tags', 'logging', 'ops', 'templates', 'schedule', 'concurrency', 'image', 'name',
];

// Random shapes in every section must give errors, never an exception.
describe('property: arbitrary content never crashes the checker', () => {
  it('returns ok or positioned errors for random sections', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SPEC_KINDS),
        fc.dictionary(fc.constantFrom(...SECTIONS), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 6 }),
        (kind, sections) => {
          const content = stringify({ version: 1, kind, ...sections });
          const r = checkPolyaxonfiles([{ path: 'f.yml', content }]);
          if (!r.ok) {
            for (const e of r.errors) {
              expect(e.file).toBe('f.yml');
              expect(e.line).toBeGreaterThanOrEqual(1);
              expect(e.column).toBeGreaterThanOrEqual(1);
              expect(typeof e.message).toBe('string');
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('handles nested structures built from real field names', () => {
    const keys = [
      'resources', 'cpu', 'gpu', 'requests', 'limits', 'replicas', 'n_workers', 'n_ps', 'worker', 'index', 'matrix',
      'lr', 'values', 'pvalues', 'range', 'uniform', 'logspace', 'random_search', 'hyperband', 'bo', 'tpe', 'asha',
      'n_experiments', 'metric', 'name', 'optimization', 'resource', 'max_iter', 'eta', 'utility_function',
      'early_stopping', 'policy', 'cmd', 'image', 'dockerfile', 'env_vars', 'template', 'params', 'dependencies',
      'conditions', 'kind', 'op', 'trigger', 'schedule', 'cron', 'frequency', 'start_at', 'type', 'default',
    ];
    const leaf = fc.oneof(fc.integer({ min: -3, max: 100 }), fc.constantFrom('0:1:5', '{{ lr }}', 'a', 'tensorflow', 'mpi', '', 'ucb', 'x:y'), fc.boolean(), fc.constant(null));
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('tree'), { maxLength: 3 }), fc.dictionary(fc.constantFrom(...keys), tie('tree'), { maxKeys: 4 })),
    }));
    fc.assert(
      fc.property(fc.constantFrom(...SPEC_KINDS), fc.dictionary(fc.constantFrom(...SECTIONS), tree, { maxKeys: 6 }), (kind, sections) => {
        const r = checkPolyaxonfiles([{ path: 'f.yml', content: stringify({ version: 1, kind, ...sections }) }], { params: { lr: '0.1' } });
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 400 },
    );
  });

  it('survives random text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const r = checkPolyaxonfiles([{ path: 'f.yml', content: `version: 1\nkind: experiment\n${text}` }]);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });
});
