"""Noise still detected after the noise line's change: 200 noisy functions (seeded).

f = a smooth or kinked cost (sum of sin, of relu², of |x|, logsumexp) + σ·N(0, 1) drawn afresh at
every call, σ = 10^U(−12, −5), n in 3..39, with its right gradient. Counts the checks that FAIL
(the right gradient: only ``nondeterministic`` is expected, where the spread swamps the gradient)
and those that say ``noisy``. Run it with the code to compare on PYTHONPATH.

Run:  python benchmarks/noisy_study.py
"""

from __future__ import annotations

from functools import partial

import numpy as np

import gradcheck

COSTS = {
    "sin": lambda v: (float(np.sum(np.sin(v))), np.cos(v)),
    "relu²": lambda v: (float(np.sum(np.maximum(v, 0) ** 2)), 2 * np.maximum(v, 0)),
    "abs": lambda v: (float(np.sum(np.abs(v))), np.sign(v)),
    "logsumexp": lambda v: (float(np.log(np.sum(np.exp(v)))), np.exp(v) / np.sum(np.exp(v))),
}


def noisy(cost, sigma: float, draws: np.random.Generator, v: np.ndarray):
    c, g = cost(v)
    return c + sigma * draws.standard_normal(), g


def main() -> None:
    fails, said = [], 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        n, sigma = int(rng.integers(3, 40)), 10 ** rng.uniform(-12, -5)
        name = list(COSTS)[seed % 4]
        f = partial(noisy, COSTS[name], sigma, np.random.default_rng(seed + 1000))
        report = gradcheck.check(f, rng.standard_normal(n), seed=seed)
        said += any(d.kind == "noisy" for d in report.diagnoses)
        if not report.ok:
            kinds = [d.kind for d in report.diagnoses if d.severity == "fail"]
            fails.append(f"seed {seed}: {name}, σ = {sigma:.1e}, n = {n}: {kinds}")
    print(f"200 noisy functions: {len(fails)} FAIL of a right gradient, 'noisy' said on {said}")
    print("\n".join(fails))


if __name__ == "__main__":
    main()
