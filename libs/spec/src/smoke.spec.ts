import { checkPolyaxonfiles, formatSpecError, summarizeSpec, renderTrial } from './index';
const f = (content: string, params?: Record<string,string>) => {
  const r = checkPolyaxonfiles([{ path: 'a.yml', content }], { params });
  if (!r.ok) return r.errors.map(formatSpecError).join('\n');
  return summarizeSpec(r.spec) + '\n' + JSON.stringify(r.spec.raw);
};
test('smoke', () => {
  console.log(f(`---
version: 1
kind: group
framework: keras
tags: [examples]
hptuning:
  concurrency: 5
  random_search:
    n_experiments: 50
  matrix:
    conv1_size:
      values: [32, 64, 128]
    dropout:
      uniform: 0:1
    hidden1_size:
      range: 10:600:50
    optimizer:
      pvalues: [[adam, 0.5], [rmsprop, 0.3], [sgd, 0.2]]
    log_learning_rate:
      range: [-5, 0, 1]
build:
  image: python:3.6
  build_steps:
    - pip install --no-cache-dir -r requirements.txt
run:
  cmd: python -u model.py --conv1_size={{ conv1_size }} \\
                          --dropout={{ dropout }} \\
                          --hidden1_size={{ hidden1_size }} --x={{ optimizer }}
`));
  console.log(f(`---
version: 1
kind: experiment
framework: pytorch-ignite
environment:
  node_selector:
    polyaxon: exp-small-gpu
  resources:
      gpu:
        request: 1
        limits: 1
build:
  image: pytorch/pytorch:latest
run:
  cmd: python check.py {{ lr }}
`));
});
