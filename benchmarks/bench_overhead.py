"""Time spent outside the user's function in a full check, against the question's loop.

The ex4 network at 400-25-10 with m = 500 random examples (10,285 parameters), the course's
weights. Both sides evaluate cost *and* gradient on every call (that is what the cost function
returns). Run: python benchmarks/bench_overhead.py [--m 500]
"""

import argparse
import time
from pathlib import Path

import numpy as np

import gradcheck
from gradcheck import ex4
from gradcheck.examples import question_gradient_check

WEIGHTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ex4" / "ex4weights.mat"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--m", type=int, default=500)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    theta1, theta2 = ex4.load_weights(WEIGHTS)
    X = rng.random((args.m, 400))
    y = rng.integers(1, 11, args.m)
    params = ex4.unroll(theta1, theta2)

    def cost(p):
        return ex4.nn_cost_function(p, 400, 25, 10, X, y, 1.0)

    t0 = time.perf_counter()
    for _ in range(20):
        cost(params)
    one = (time.perf_counter() - t0) / 20

    t0 = time.perf_counter()
    numgrad = question_gradient_check(cost, params)
    loop = time.perf_counter() - t0

    report = gradcheck.check(
        cost,
        params,
        blocks={"Theta1": (25, 401), "Theta2": (10, 26)},
        order="F",
        method="central",
        step=1e-4,
        mode="full",
        progress=False,
    )
    assert np.array_equal(report.numeric, numgrad)
    outside = report.seconds - report.seconds_in_f
    print(f"ex4 400-25-10, m = {args.m}, n = {params.size}; one evaluation {1e3 * one:.2f} ms")
    print(f"question's loop:       {loop:8.2f} s  {2 * params.size} evaluations")
    print(
        f"gradcheck.check full:  {report.seconds:8.2f} s  {report.evaluations} evaluations, verdict {'PASS' if report.ok else 'FAIL'}"
    )
    print(
        f"  time outside f:      {outside:8.2f} s  = {100 * outside / report.seconds:.1f} % of the check"
    )
    print(f"  ratio check / loop:  {report.seconds / loop:8.3f}")


if __name__ == "__main__":
    main()
