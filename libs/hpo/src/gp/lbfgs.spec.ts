import { minimizeBox } from './lbfgs';

describe('minimizeBox', () => {
  it('finds the minimum of the Rosenbrock function', () => {
    const r = minimizeBox(
      (x) => ({
        f: 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2,
        g: Float64Array.from([-400 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0]), 200 * (x[1] - x[0] ** 2)]),
      }),
      [-1.2, 1],
      { lower: [-5, -5], upper: [5, 5], maxIter: 500, ftol: 1e-15, gtol: 1e-9 },
    );
    expect(r.x[0]).toBeCloseTo(1, 4);
    expect(r.x[1]).toBeCloseTo(1, 4);
    expect(r.f).toBeLessThan(1e-8);
  });

  it('stops on an active bound', () => {
    const r = minimizeBox((x) => ({ f: (x[0] - 3) ** 2 + (x[1] + 1) ** 2, g: Float64Array.from([2 * (x[0] - 3), 2 * (x[1] + 1)]) }), [0, 0], {
      lower: [-10, -10],
      upper: [2, 10],
    });
    expect(r.x[0]).toBe(2);
    expect(r.x[1]).toBeCloseTo(-1, 6);
  });

  it('returns the start when the objective is not finite there', () => {
    const r = minimizeBox(() => ({ f: NaN, g: new Float64Array(1) }), [0.5], { lower: [0], upper: [1] });
    expect(r.f).toBe(Infinity);
    expect(r.x[0]).toBe(0.5);
  });
});
