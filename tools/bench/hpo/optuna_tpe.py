"""Optuna's TPE on the problems of tools/bench/hpo/regret.mjs (same definitions, budgets and seeds).

Reads a JSON job list on stdin: {"runs": [{"problem": "branin", "budget": 50, "seed": 3}, ...]}
and prints {"version": "...", "results": [{"problem", "budget", "seed", "best"}]} on stdout.
Run with Debian's python: /usr/bin/python3 (apt-get install -y python3-optuna python3-numpy).
"""
import json
import math
import sys

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)

HARTMANN_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
HARTMANN_P = [
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
]
HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]
OPT_OFFSET = {"adam": 0.0, "rmsprop": 0.15, "sgd": 0.4}


def branin(x1, x2):
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi**2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


def hartmann6(x):
    total = 0.0
    for i in range(4):
        inner = sum(HARTMANN_A[i][j] * (x[j] - HARTMANN_P[i][j] * 1e-4) ** 2 for j in range(6))
        total += HARTMANN_ALPHA[i] * math.exp(-inner)
    return -total


def mixed(x, k, lr, opt):
    u = (x - 1.3) / 2
    v = (k - 12) / 8
    w = math.log10(lr) + 2.5
    return u * u + v * v + 0.5 * u * v + 0.3 * (1 - math.cos(2 * math.pi * (x - 1.3))) + 0.6 * w * w + OPT_OFFSET[opt]


def objective(problem):
    if problem == "branin":
        return lambda t: branin(t.suggest_float("x1", -5, 10), t.suggest_float("x2", 0, 15))
    if problem == "hartmann6":
        return lambda t: hartmann6([t.suggest_float(f"x{i}", 0, 1) for i in range(6)])
    if problem == "mixed":
        return lambda t: mixed(
            t.suggest_float("x", -5, 5),
            t.suggest_int("k", 1, 32),
            t.suggest_float("lr", math.exp(-9.2), math.exp(-2.3), log=True),
            t.suggest_categorical("opt", ["sgd", "adam", "rmsprop"]),
        )
    raise ValueError(problem)


def main():
    jobs = json.load(sys.stdin)["runs"]
    out = []
    for job in jobs:
        sampler = optuna.samplers.TPESampler(seed=job["seed"])
        study = optuna.create_study(sampler=sampler, direction="minimize")
        study.optimize(objective(job["problem"]), n_trials=job["budget"])
        out.append({**job, "best": study.best_value})
    json.dump({"version": optuna.__version__, "results": out}, sys.stdout)


if __name__ == "__main__":
    main()
