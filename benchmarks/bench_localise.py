"""Directional mode: calls of f for a verdict and for localisation, against the targets of issue 13.

Cases (each run with mode="directional", seed 0):

- logistic regression (sparse data, m = 50) at n = 10⁶ with one wrong entry, and at n = 10⁵ with
  three — the tests' own problems (tests/functions.py);
- the full-size ex4 network (400-25-10, m = 5000, the course's weights): correct, the question's
  bug, Theta1's row 3 never written, Theta1's column 7 scaled by 1.1;
- 200 scattered wrong entries in 10⁵ (the budget of 2,000 runs out);
- memory and time on SciPy's Rosenbrock at n = 10⁶ and 10⁷ (tracemalloc's peak, in vectors of
  n float64, and the share of the check's time spent inside f, timed inside f itself).

Run: python benchmarks/bench_localise.py [--big 10000000]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

import gradcheck
from gradcheck import ex4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests import functions

WEIGHTS = ROOT.parent / "shared" / "data" / "ex4" / "ex4weights.mat"
BLOCKS = {"Theta1": (25, 401), "Theta2": (10, 26)}
LAYOUT = gradcheck.Layout(BLOCKS, order="F")


def row(case: str, report: gradcheck.Report, seconds: float, target: str) -> None:
    kinds = ", ".join(f"{d.kind}{f' {d.block}' if d.block else ''}" for d in report.diagnoses[:3])
    print(
        f"| {case} | {report.evaluations} | {target} | {seconds:.2f} | "
        f"{'pass' if report.ok else 'fail'}: {report.mismatched.size} wrong; {kinds or '-'} |",
        flush=True,
    )


def logistic(n: int, planted: tuple) -> None:
    f, w = functions.logistic_regression(n, 50, planted=planted)
    t0 = time.perf_counter()
    report = gradcheck.check(f, w, mode="directional")
    found = report.mismatched.tolist() == sorted(i for i, _ in planted)
    target = "≤ 60" if len(planted) == 1 else "≤ 120"
    row(
        f"{len(planted)} wrong in {n:.0e} (found exactly: {found})",
        report,
        time.perf_counter() - t0,
        target,
    )


def ex4_case(name: str, bug, target: str) -> None:
    theta1, theta2 = ex4.load_weights(WEIGHTS)
    rng = np.random.default_rng(0)
    X, y = rng.random((5000, 400)), rng.integers(1, 11, 5000)

    def cost(p: np.ndarray) -> tuple[float, np.ndarray]:
        J, g = ex4.nn_cost_function(p, 400, 25, 10, X, y, 1.0)
        return bug(p, J, g.copy())

    t0 = time.perf_counter()
    report = gradcheck.check(
        cost, ex4.unroll(theta1, theta2), blocks=BLOCKS, order="F", mode="directional"
    )
    row(f"ex4 full size: {name}", report, time.perf_counter() - t0, target)


def question(p, J, g):
    return J + 1.0 / 5000 * np.sum(p[10025:10035] ** 2), g


def row_zero(p, J, g):
    LAYOUT.unpack(g)["Theta1"][3, :] = 0  # unpack gives views: this writes into g
    return J, g


def column_scaled(p, J, g):
    LAYOUT.unpack(g)["Theta1"][:, 7] *= 1.1
    return J, g


def scattered() -> None:
    rng = np.random.default_rng(3)
    where = rng.choice(100_000, size=200, replace=False)
    planted = tuple((int(i), 0.5) for i in where)
    f, w = functions.logistic_regression(100_000, 50, planted=planted)
    t0 = time.perf_counter()
    report = gradcheck.check(f, w, mode="directional")
    isolated = np.isin(report.mismatched, where).sum()
    frontier = [d for d in report.diagnoses if "budget" in d.message]
    said = frontier[0].headline if frontier else "no frontier"
    print(
        f"| 200 scattered in 1e5 | {report.evaluations} | budget 2000 | "
        f"{time.perf_counter() - t0:.2f} | {isolated} isolated, all right: "
        f"{bool(np.all(np.isin(report.mismatched, where)))}; {said} |",
        flush=True,
    )


class TimedRosen:
    """Rosenbrock with its gradient, timing itself (the check's own overhead excluded)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        from scipy.optimize import rosen, rosen_der

        t0 = time.perf_counter()
        out = rosen(x), rosen_der(x)
        self.seconds += time.perf_counter() - t0
        return out


def big(n: int, runs: int = 3) -> None:
    """Rosenbrock at n: memory in one run under tracemalloc, time in ``runs`` others without it
    (tracing every allocation slows the check and f unevenly); the median run is reported."""
    x = np.random.default_rng(1).standard_normal(n)
    f = TimedRosen()
    f(x)  # warm up; then only the check's evaluations are timed
    tracemalloc.start()
    report = gradcheck.check(f, x, mode="directional")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    timed = []
    for _ in range(runs):
        f.seconds = 0.0
        t0 = time.perf_counter()
        report = gradcheck.check(f, x, mode="directional")
        timed.append((time.perf_counter() - t0, f.seconds))
    seconds, inside = sorted(timed, key=lambda t: t[1] / t[0])[runs // 2]
    shares = ", ".join(f"{100 * i / s:.0f}" for s, i in timed)
    print(
        f"| rosen n = {n:.0e} correct | {report.evaluations} | ≤ 8 | {seconds:.2f} | "
        f"{'pass' if report.ok else 'fail'}; peak memory {peak / (8 * n):.1f} vectors of n "
        f"(f's own temporaries included); {100 * inside / seconds:.0f} % of the time in f "
        f"(median of {runs} runs: {shares} %) |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big", type=int, nargs="*", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    print("| case | calls of f | target | seconds | verdict |")
    print("|---|---:|---|---:|---|")
    logistic(1_000_000, ((654_321, 0.25),))
    logistic(100_000, ((17, 0.5), (50_000, -1.0), (99_998, 2e-3)))
    ex4_case("correct", lambda p, J, g: (J, g), "≤ 8")
    ex4_case("the question's bug", question, "≤ 40")
    ex4_case("Theta1[3, :] never written", row_zero, "≤ 100, named zero")
    ex4_case("Theta1[:, 7] scaled by 1.1", column_scaled, "≤ 100, named scale")
    scattered()
    for n in args.big:
        big(n)


if __name__ == "__main__":
    main()
