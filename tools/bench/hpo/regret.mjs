#!/usr/bin/env node
// Regret, latency and multi-fidelity benchmark of @myelin/hpo, beside Optuna's TPE.
//
//   node tools/bench/hpo/regret.mjs [--seeds 20] [--only branin,hartmann6,mixed,latency,fidelity] [--no-optuna] [--dist]
//
// The script compiles libs/spec and libs/hpo with SWC into tmp/bench-hpo/ (a second, no build needed,
// nothing else in the repo touched); `--dist` uses dist/node_modules/@myelin/hpo from
// `node tools/scripts/build.mjs` instead. Optuna runs through Debian's python (/usr/bin/python3 with
// `apt-get install -y python3-optuna python3-numpy`); without it that column is skipped.
// Simple regret = f(best found) - f*. CI does not run this: it takes several minutes on 2 cores.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const argv = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const SEEDS = Number(arg('seeds', '20'));
const ONLY = new Set(arg('only', 'branin,hartmann6,mixed,latency,fidelity').split(','));
const USE_OPTUNA = !argv.includes('--no-optuna');

// ------------------------------------------------------------------ load the library

async function loadHpo() {
  if (argv.includes('--dist')) {
    return createRequire(join(root, 'dist', 'index.js'))('@myelin/hpo');
  }
  const { transformFile } = await import('@swc/core');
  const { readFile } = await import('node:fs/promises');
  const swcrc = JSON.parse(await readFile(join(root, '.swcrc'), 'utf8'));
  delete swcrc.$schema;
  const out = join(root, 'tmp', 'bench-hpo');
  rmSync(out, { recursive: true, force: true });
  const walk = (dir) =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name === '__fixtures__' ? [] : walk(join(dir, e.name))) : [join(dir, e.name)]));
  for (const lib of ['spec', 'hpo']) {
    for (const file of walk(join(root, 'libs', lib, 'src'))) {
      if (!file.endsWith('.ts') || file.endsWith('.spec.ts')) continue;
      const { code } = await transformFile(file, { ...swcrc, swcrc: false, sourceMaps: false, filename: file });
      const target = join(out, relative(root, file)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, code);
    }
    const pkg = join(out, 'node_modules', '@myelin', lib);
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'index.js'), `module.exports = require(${JSON.stringify(relative(pkg, join(out, 'libs', lib, 'src', 'index.js')))});\n`);
  }
  return createRequire(join(out, 'index.js'))('@myelin/hpo');
}

// ------------------------------------------------------------------ problems (same as optuna_tpe.py)

const HA = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
];
const HP = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381],
];
const HALPHA = [1.0, 1.2, 3.0, 3.2];
const OPT_OFFSET = { adam: 0, rmsprop: 0.15, sgd: 0.4 };

function branin(x1, x2) {
  const b = 5.1 / (4 * Math.PI ** 2);
  const c = 5 / Math.PI;
  const t = 1 / (8 * Math.PI);
  return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
}
function hartmann6(x) {
  let total = 0;
  for (let i = 0; i < 4; i++) {
    let inner = 0;
    for (let j = 0; j < 6; j++) inner += HA[i][j] * (x[j] - HP[i][j] * 1e-4) ** 2;
    total += HALPHA[i] * Math.exp(-inner);
  }
  return -total;
}
function mixed(x, k, lr, opt) {
  const u = (x - 1.3) / 2;
  const v = (k - 12) / 8;
  const w = Math.log10(lr) + 2.5;
  return u * u + v * v + 0.5 * u * v + 0.3 * (1 - Math.cos(2 * Math.PI * (x - 1.3))) + 0.6 * w * w + OPT_OFFSET[opt];
}

const metric = { name: 'loss', optimization: 'minimize' };
const PROBLEMS = {
  branin: {
    fstar: 0.397887357729739,
    matrix: { x1: { kind: 'uniform', low: -5, high: 10 }, x2: { kind: 'uniform', low: 0, high: 15 } },
    f: (p) => branin(p.x1, p.x2),
    grid: (budget) => {
      const n = Math.floor(Math.sqrt(budget));
      return { x1: { kind: 'linspace', start: -5, stop: 10, num: n }, x2: { kind: 'linspace', start: 0, stop: 15, num: n } };
    },
  },
  hartmann6: {
    fstar: -3.322368011391339,
    matrix: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`x${i}`, { kind: 'uniform', low: 0, high: 1 }])),
    f: (p) => hartmann6([0, 1, 2, 3, 4, 5].map((i) => p[`x${i}`])),
    // 2 values per dimension: 64 points (the finest full grid under 100).
    grid: () => Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`x${i}`, { kind: 'linspace', start: 0.2, stop: 0.8, num: 2 }])),
  },
  mixed: {
    fstar: 0,
    matrix: {
      x: { kind: 'uniform', low: -5, high: 5 },
      k: { kind: 'range', start: 1, stop: 33, step: 1 },
      lr: { kind: 'loguniform', low: -9.2, high: -2.3 },
      opt: { kind: 'values', values: ['sgd', 'adam', 'rmsprop'] },
    },
    f: (p) => mixed(p.x, p.k, p.lr, p.opt),
  },
};

function hptuning(problem, algo, budget, seed, concurrency = 1) {
  const P = PROBLEMS[problem];
  const base = { seed, concurrency, matrix: P.matrix, early_stopping: [] };
  switch (algo) {
    case 'random':
      return { ...base, random_search: { n_experiments: budget } };
    case 'grid':
      return { ...base, matrix: P.grid(budget), grid_search: { n_experiments: budget } };
    case 'tpe':
      return { ...base, tpe: { n_experiments: budget, n_initial_trials: 10, metric } };
    case 'bo':
      return {
        ...base,
        bo: {
          n_initial_trials: Math.max(5, Math.round(budget / 10)),
          n_iterations: budget - Math.max(5, Math.round(budget / 10)),
          metric,
          utility_function: {
            acquisition_function: 'ei',
            eps: 0,
            n_warmup: 5,
            n_iter: 10,
            gaussian_process: { kernel: 'matern', length_scale: 1, nu: 2.5, n_restarts_optimizer: 0 },
          },
        },
      };
  }
  throw new Error(algo);
}

function runSearch(hpo, problem, algo, budget, seed) {
  const P = PROBLEMS[problem];
  const opt = hpo.createOptimizer(hptuning(problem, algo, budget, seed), { metric });
  let t;
  while ((t = opt.ask())) opt.tell(t.id, { value: P.f(t.params) });
  return opt.best().value - P.fstar;
}

function runOptuna(runs) {
  const py = '/usr/bin/python3';
  const probe = existsSync(py) && spawnSync(py, ['-c', 'import optuna'], { encoding: 'utf8' });
  if (!probe || probe.status !== 0) {
    console.log('Optuna not found: apt-get install -y python3-optuna python3-numpy (Debian), then rerun. Skipping the Optuna column.');
    return undefined;
  }
  const r = spawnSync(py, [join(root, 'tools', 'bench', 'hpo', 'optuna_tpe.py')], {
    input: JSON.stringify({ runs }),
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) {
    console.log(`Optuna run failed: ${r.stderr.slice(-2000)}`);
    return undefined;
  }
  return JSON.parse(r.stdout);
}

// ------------------------------------------------------------------ statistics and printing

const pct = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
};
const fmt = (x, d = 3) => (x === undefined || Number.isNaN(x) ? 'n/a' : x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(d));
function table(head, rows) {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => '| ' + r.map((c, i) => String(c).padEnd(w[i])).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|');
  for (const r of rows) console.log(line(r));
}

// ------------------------------------------------------------------ main

const hpo = await loadHpo();
const seeds = Array.from({ length: SEEDS }, (_, i) => i + 1);
const cases = [
  ['branin', 25],
  ['branin', 50],
  ['hartmann6', 100],
  ['mixed', 50],
].filter(([p]) => ONLY.has(p));
const goals = [];

if (cases.length) {
  const optunaRuns = cases.flatMap(([problem, budget]) => seeds.map((seed) => ({ problem, budget, seed })));
  const t0 = performance.now();
  const optuna = USE_OPTUNA ? runOptuna(optunaRuns) : undefined;
  if (optuna) console.log(`Optuna ${optuna.version}: ${optunaRuns.length} runs in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const rows = [];
  for (const [problem, budget] of cases) {
    const res = {};
    for (const algo of ['random', 'grid', 'tpe', 'bo']) {
      if (algo === 'grid' && !PROBLEMS[problem].grid) continue;
      const t1 = performance.now();
      res[algo] = seeds.map((seed) => runSearch(hpo, problem, algo, budget, seed));
      res[`${algo}_s`] = (performance.now() - t1) / 1000 / seeds.length;
    }
    if (optuna) {
      res.optuna = optuna.results.filter((r) => r.problem === problem && r.budget === budget).map((r) => r.best - PROBLEMS[problem].fstar);
    }
    const med = (a) => (res[a] ? pct(res[a], 0.5) : undefined);
    const p90 = (a) => (res[a] ? pct(res[a], 0.9) : undefined);
    const cell = (a) => (res[a] ? `${fmt(med(a))} / ${fmt(p90(a))}` : 'n/a');
    const ratio = (a) => (res.optuna ? fmt(med(a) / med('optuna'), 2) : 'n/a');
    rows.push([`${problem}@${budget}`, cell('random'), cell('grid'), cell('tpe'), cell('bo'), cell('optuna'), ratio('tpe'), ratio('bo'), `${fmt(res.bo_s, 2)} s`]);
    for (const a of ['tpe', 'bo']) {
      if (res.optuna) goals.push([`${a} ahead of Optuna TPE on ${problem}@${budget}`, `${fmt(med(a))} vs ${fmt(med('optuna'))}`, med(a) < med('optuna')]);
      goals.push([`${a} <= 1/5 of random on ${problem}@${budget}`, `${fmt(med(a))} vs ${fmt(med('random') / 5)}`, med(a) <= med('random') / 5]);
    }
    if (problem === 'branin' && budget === 25) goals.push(['bo <= 0.05 on branin@25', fmt(med('bo')), med('bo') <= 0.05]);
  }
  console.log(`\nSimple regret, median / 90th percentile over ${SEEDS} seeds (ratio: median / Optuna TPE median)\n`);
  table(['problem@budget', 'random', 'grid', 'tpe', 'bo', 'optuna tpe', 'tpe/optuna', 'bo/optuna', 'bo time/run'], rows);
}

// ------------------------------------------------------------------ suggestion latency

/** Mean ms per ask over `window` asks made once `at` trials have results (sequential, Hartmann6). */
function latency(algo, at, window) {
  const P = PROBLEMS.hartmann6;
  const total = at + window;
  const hp =
    algo === 'tpe'
      ? { seed: 1, concurrency: 1, matrix: P.matrix, early_stopping: [], tpe: { n_experiments: total, n_initial_trials: 10, metric } }
      : (() => {
          const h = hptuning('hartmann6', 'bo', total, 1);
          h.bo.n_initial_trials = 10;
          h.bo.n_iterations = total - 10;
          return h;
        })();
  const opt = hpo.createOptimizer(hp);
  const times = [];
  for (let i = 0; i < total; i++) {
    const t0 = performance.now();
    const t = opt.ask();
    const dt = performance.now() - t0;
    if (i >= at) times.push(dt);
    opt.tell(t.id, { value: P.f(t.params) });
  }
  return times.reduce((a, b) => a + b, 0) / times.length;
}

if (ONLY.has('latency')) {
  const rows = [];
  const tpe100 = latency('tpe', 100, 20);
  const tpe1000 = latency('tpe', 1000, 20);
  const bo200 = latency('bo', 200, 5);
  rows.push(['tpe', '100', fmt(tpe100, 3), '']);
  rows.push(['tpe', '1,000', fmt(tpe1000, 3), '<= 5']);
  rows.push(['bo', '200', fmt(bo200, 3), '<= 100']);
  goals.push(['tpe <= 5 ms per ask at 1,000 trials', `${fmt(tpe1000)} ms`, tpe1000 <= 5]);
  goals.push(['bo <= 100 ms per ask at 200 trials', `${fmt(bo200)} ms`, bo200 <= 100]);
  console.log('\nSuggestion latency (Hartmann6, 6 continuous params, sequential)\n');
  table(['algorithm', 'observed trials', 'ms per ask', 'goal'], rows);
}

// ------------------------------------------------------------------ multi-fidelity

// A synthetic learning curve on Hartmann6: the loss after r of R = 81 epochs is
//   F(x) + K c(x) (1/sqrt(r) - 1/sqrt(R)),  c(x) = 1 + 0.5 sin(7 x0 + 3 x1 - 5 x2),  K = 1.5,
// so the final loss is Hartmann6 and early rankings are a noisy (config-dependent) proxy of it.
const R = 81;
const curve = (p, r) => {
  const F = PROBLEMS.hartmann6.f(p);
  const c = 1 + 0.5 * Math.sin(7 * p.x0 + 3 * p.x1 - 5 * p.x2);
  return F + 1.5 * c * (1 / Math.sqrt(r) - 1 / Math.sqrt(R));
};
const fstarH = PROBLEMS.hartmann6.fstar;

function runFidelity(hp) {
  const opt = hpo.createOptimizer(hp);
  let used = 0;
  let best = Infinity;
  let t;
  while ((t = opt.ask())) {
    const r = t.resource.value;
    const from = t.resumeFrom !== undefined ? opt.trial(t.resumeFrom).resource.value : 0;
    used += r - from;
    const v = curve(t.params, r);
    if (r === R) best = Math.min(best, v);
    opt.tell(t.id, { value: v });
  }
  return { regret: best - fstarH, used };
}

if (ONLY.has('fidelity')) {
  const P = PROBLEMS.hartmann6;
  const resource = { name: 'epochs', type: 'int' };
  const NMAX = 300;
  // Random search at full resource: best-so-far after N configurations, per seed.
  const curves = seeds.map((seed) => {
    const opt = hpo.createOptimizer({ seed, concurrency: 1, matrix: P.matrix, early_stopping: [], random_search: { n_experiments: NMAX } }, { metric });
    const out = [];
    let best = Infinity;
    let t;
    while ((t = opt.ask())) {
      best = Math.min(best, P.f(t.params));
      out.push(best - fstarH);
      opt.tell(t.id, { value: P.f(t.params) });
    }
    return out;
  });
  const medianAt = (n) => pct(curves.map((c) => c[n - 1]), 0.5);
  const rows = [];
  const methods = [
    ['hyperband (max_iter 81, eta 3)', (seed) => ({ hyperband: { max_iter: R, eta: 3, resource, metric, resume: false } })],
    ['hyperband, resume', (seed) => ({ hyperband: { max_iter: R, eta: 3, resource, metric, resume: true } })],
    ['asha (300 configs, 1..81, rf 3)', (seed) => ({ asha: { n_experiments: 300, resource, min_resource: 1, max_resource: R, reduction_factor: 3, metric } })],
  ];
  for (const [name, algo] of methods) {
    const runs = seeds.map((seed) => runFidelity({ seed, concurrency: 1, matrix: P.matrix, early_stopping: [], ...algo(seed) }));
    const reg = pct(runs.map((r) => r.regret), 0.5);
    const used = pct(runs.map((r) => r.used), 0.5);
    let n = 1;
    while (n < NMAX && medianAt(n) > reg) n++;
    const randomUsed = n * R;
    const reached = medianAt(n) <= reg;
    const ratio = used / randomUsed;
    rows.push([name, fmt(reg), fmt(used, 4), reached ? `${n} configs, ${randomUsed}` : `> ${NMAX * R}`, reached ? fmt(ratio, 2) : '< ' + fmt(used / (NMAX * R), 2)]);
    goals.push([`${name}: same final value as random with <= 50% of its resource`, reached ? `${fmt(ratio, 2)}` : 'random never reaches it', !reached || ratio <= 0.5]);
  }
  rows.push([`random search (${NMAX} configs at 81)`, fmt(medianAt(NMAX)), String(NMAX * R), '', '']);
  console.log(`\nMulti-fidelity on a Hartmann6 learning curve (max resource 81), medians over ${SEEDS} seeds\n`);
  table(['algorithm', 'final regret', 'resource used', 'random search to match', 'resource ratio'], rows);
}

if (goals.length) {
  console.log('\nGoals\n');
  table(['goal', 'measured', 'met'], goals.map(([g, m, ok]) => [g, m, ok ? 'yes' : 'NO']));
}

export { hpo, hptuning, PROBLEMS, table, fmt, pct, goals, seeds };
