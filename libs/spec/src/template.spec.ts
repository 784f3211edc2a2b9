import { pyNumber, pyRepr, pyStr, render, Resolution, scanTemplates, TemplateExpr, wholeTemplate } from './template';
import { ParamValue } from './types';

function renderWith(s: string, values: Record<string, ParamValue>): ReturnType<typeof render> {
  return render(s, (e: TemplateExpr): Resolution => (e.root in values ? { kind: 'value', value: values[e.root] } : { kind: 'keep' }));
}

describe('Python-style printing', () => {
  it('prints numbers like Python repr', () => {
    expect(pyNumber(100)).toBe('100');
    expect(pyNumber(-3)).toBe('-3');
    expect(pyNumber(0.001)).toBe('0.001');
    expect(pyNumber(0.0001)).toBe('0.0001');
    expect(pyNumber(0.00001)).toBe('1e-05');
    expect(pyNumber(1.5e-7)).toBe('1.5e-07');
    expect(pyNumber(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(pyNumber(12345678.9)).toBe('12345678.9');
    expect(pyNumber(1e16)).toBe('1e+16');
    expect(pyNumber(2.5e20)).toBe('2.5e+20');
    expect(pyNumber(Infinity)).toBe('inf');
    expect(pyNumber(NaN)).toBe('nan');
  });

  it('prints values like Python str/repr', () => {
    expect(pyStr('adam')).toBe('adam');
    expect(pyStr(true)).toBe('True');
    expect(pyStr(null)).toBe('None');
    expect(pyStr([1, 'a', false])).toBe("[1, 'a', False]");
    expect(pyStr({ k: [1.5], s: "it's" })).toBe(`{'k': [1.5], 's': "it's"}`);
    expect(pyRepr('a\\b\n')).toBe("'a\\\\b\\n'");
  });
});

describe('template scanning', () => {
  it('reads names, dotted names and indexes, with or without spaces', () => {
    const { exprs, errors } = scanTemplates('{{ a }} {{b}} {{ c.d[0] }} {{ ops.my-op.outputs.x }} {{ e["k"] }} {{ jobs.1.outputs.y }}');
    expect(errors).toEqual([]);
    expect(exprs.map((e) => e.path)).toEqual([['a'], ['b'], ['c', 'd', 0], ['ops', 'my-op', 'outputs', 'x'], ['e', 'k'], ['jobs', 1, 'outputs', 'y']]);
  });

  it('reports filters, statements, bad expressions and unclosed braces', () => {
    expect(scanTemplates('{{ a|length }}').errors[0].message).toMatch(/filters/);
    expect(scanTemplates('{% for x in y %}').errors[0].message).toMatch(/statements/);
    expect(scanTemplates('{{ a + 1 }}').errors[0].message).toMatch(/unsupported template expression/);
    expect(scanTemplates('{{ 1a }}').errors[0].message).toMatch(/not a variable name/);
    expect(scanTemplates('{{ }}').errors[0].message).toMatch(/empty/);
    expect(scanTemplates('echo {{ a').errors[0].message).toMatch(/unclosed/);
  });

  it('recognises a whole-value template', () => {
    expect(wholeTemplate(' {{ x }} ')?.root).toBe('x');
    expect(wholeTemplate('a{{ x }}')).toBeUndefined();
    expect(wholeTemplate('{{ x }}{{ y }}')).toBeUndefined();
  });
});

describe('rendering', () => {
  it('keeps the type of a whole-value template and stringifies embedded ones', () => {
    expect(renderWith('{{ xs }}', { xs: [1, 2] }).value).toEqual([1, 2]);
    expect(renderWith('--xs={{ xs }}', { xs: [1, 2] }).value).toBe('--xs=[1, 2]');
    expect(renderWith('{{ a }}{{ b }}', { a: 1, b: 2 }).value).toBe('12');
  });

  it('supports Jinja whitespace control', () => {
    expect(renderWith('a   {{- x -}}   b', { x: 1 }).value).toBe('a1b');
    expect(renderWith('a {{- x }} b', { x: 1 }).value).toBe('a1 b');
  });

  it('keeps placeholders verbatim', () => {
    const r = renderWith('--out={{outputs_path}} --lr={{ lr }}', { lr: 0.1 });
    expect(r.value).toBe('--out={{outputs_path}} --lr=0.1');
    expect(r.kept).toBe(true);
  });
});
