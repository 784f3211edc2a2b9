import { resolveOpParams } from './resolve';

describe('resolveOpParams', () => {
  const outputs: Record<string, Record<string, unknown>> = { a: { total: 6, path: '/data/x', flags: [1, 2] } };
  const of = (op: string) => outputs[op] as never;

  it('keeps the type of a whole reference and the text of an embedded one', () => {
    const r = resolveOpParams(
      { n: '{{ ops.a.outputs.total }}', label: 'total={{ops.a.outputs.total}} at {{ ops.a.outputs.path }}', list: ['{{ ops.a.outputs.flags }}'], lr: 0.1 },
      of,
    );
    expect(r.missing).toEqual([]);
    expect(r.params).toEqual({ n: 6, label: 'total=6 at /data/x', list: [[1, 2]], lr: 0.1 });
  });

  it('lists missing outputs and leaves other templates alone', () => {
    const r = resolveOpParams({ x: '{{ ops.a.outputs.nope }}', y: '{{ ops.b.outputs.z }}-{{ outputs_path }}' }, of);
    expect(r.missing).toEqual(['ops.a.outputs.nope', 'ops.b.outputs.z']);
    expect(r.params).toEqual({ x: '{{ ops.a.outputs.nope }}', y: '{{ ops.b.outputs.z }}-{{ outputs_path }}' });
  });
});
