"""A sparse Jacobian checked with its pattern, beside SciPy's dense differences.

The residual of a 1-D finite-difference Laplacian with a cubic term, n = 10,000 (tridiagonal
J = L + 3·diag(u²)), its Jacobian as ``scipy.sparse``: gradcheck's ``check_jacobian(...,
sparsity=S)`` (columns grouped by the pattern) against ``scipy.optimize.approx_fprime`` (forward
differences, one call per column: the dense Jacobian a user of ``check_grad`` would compare
with) and SciPy's ``approx_derivative(..., sparsity=S)`` (the same grouping, an estimate only:
it checks nothing), timed in the same run.

Run:  python benchmarks/bench_sparse.py [--n 10000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import sparse
from scipy.optimize import approx_fprime
from scipy.optimize._numdiff import approx_derivative

import gradcheck


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    n = ap.parse_args().n
    u = np.sin(np.linspace(0, 3, n))
    calls = {"n": 0}

    def residual(v):
        calls["n"] += 1
        r = -2 * v + v**3
        r[1:] += v[:-1]
        r[:-1] += v[1:]
        return r

    def jac(v):
        return sparse.diags([np.ones(n - 1), -2 + 3 * v**2, np.ones(n - 1)], [-1, 0, 1])

    S = sparse.diags([np.ones(n - 1), np.ones(n), np.ones(n - 1)], [-1, 0, 1], format="csc")
    rows = []
    for name, run in (
        ("gradcheck check_jacobian(sparsity=S)", lambda: gradcheck.check_jacobian(residual, u, jac=jac, sparsity=S).ok),
        ("SciPy approx_fprime (dense, forward)", lambda: bool(np.allclose(approx_fprime(u, residual, 1.49e-8), jac(u).toarray(), atol=1e-5))),
        ("SciPy approx_derivative(sparsity=S) (estimate only)", lambda: bool(abs(approx_derivative(residual, u, sparsity=S) - jac(u)).max() < 1e-6)),
    ):  # fmt: skip
        calls["n"] = 0
        t0 = time.perf_counter()
        verdict = run()
        rows.append((name, calls["n"], time.perf_counter() - t0, verdict))
    base = rows[1][2]
    print(f"n = {n}\n")
    print("| tool | calls of f | seconds | × approx_fprime's time | right Jacobian judged right |")
    print("|---|---:|---:|---:|---|")
    for name, c, s, v in rows:
        print(f"| {name} | {c} | {s:.3f} | {s / base:.3g} | {v} |")


if __name__ == "__main__":
    main()
