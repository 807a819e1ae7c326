"""gradcheck against the anchors on the ex4 network: time, evaluations and verdict.

Sizes: tiny (3-5-3, m = 5, the course's debug network), small (400-25-10, m = 500) and full
(400-25-10, m = 5000, 10,285 parameters), with the course's weights and random data. Each tool
checks the *same hand-written gradient* (ex4.nn_cost_function's backprop): torch through a custom
autograd.Function whose backward returns it, JAX through a custom_vjp over pure_callback.
"bug" is the question's bug (Theta2's bias column regularised in the cost only, λ = 1).

Run:  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_anchors.py [--sizes tiny small full]
Needs: pip install -e ".[dev,bench]" torch==2.13.0 jax jaxlib numdifftools
Anchors whose estimated time exceeds --max-seconds are skipped and marked with their estimate.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

import gradcheck
from gradcheck import ex4

WEIGHTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ex4" / "ex4weights.mat"
SIZES = {"tiny": (3, 5, 3, 5), "small": (400, 25, 10, 500), "full": (400, 25, 10, 5000)}
LAMBDA = 1.0


class Problem:
    """Counts evaluations; picklable (module-level class) for the process pool."""

    def __init__(self, size: str, bug: bool):
        il, hl, nl, m = SIZES[size]
        rng = np.random.default_rng(0)
        if size == "tiny":
            self.X, self.y = ex4.debug_initialize_weights(5, 2), 1 + np.arange(1, 6) % 3
            self.params = ex4.unroll(
                ex4.debug_initialize_weights(5, 3), ex4.debug_initialize_weights(3, 5)
            )
        else:
            self.X, self.y = rng.random((m, il)), rng.integers(1, nl + 1, m)
            self.params = ex4.unroll(*ex4.load_weights(WEIGHTS))
        self.sizes, self.bug, self.calls = (il, hl, nl), bug, 0
        self.blocks = {"Theta1": (hl, il + 1), "Theta2": (nl, hl + 1)}
        self.bias2 = hl * (il + 1) + np.arange(nl)  # Theta2(:, 1), column-major

    def __call__(self, p: np.ndarray) -> tuple[float, np.ndarray]:
        self.calls += 1
        J, g = ex4.nn_cost_function(p, *self.sizes, self.X, self.y, LAMBDA)
        if self.bug:
            J += LAMBDA / len(self.y) * float(np.sum(p[self.bias2] ** 2))
        return J, g

    def cost(self, p: np.ndarray) -> float:
        return self(p)[0]

    def grad(self, p: np.ndarray) -> np.ndarray:
        return self(p)[1]


def question_loop(pr: Problem) -> tuple[str, np.ndarray | None]:
    from gradcheck.examples import question_gradient_check

    num = question_gradient_check(pr, pr.params)
    g = pr.grad(pr.params)
    rel = np.linalg.norm(num - g) / np.linalg.norm(num + g)
    return ("pass" if rel < 1e-9 else "fail") + f" (rel {rel:.1e})", None


def scipy_check_grad(direction: str):
    def run(pr: Problem) -> tuple[str, None]:
        from scipy.optimize import check_grad

        err = check_grad(pr.cost, pr.grad, pr.params, direction=direction, seed=0)
        rel = err / np.linalg.norm(pr.grad(pr.params)) if direction == "all" else err
        return ("pass" if rel < 1e-5 else "fail") + f" (err {rel:.1e})", None

    return run


def numdifftools_gradient(pr: Problem) -> tuple[str, None]:
    import numdifftools as nd

    num = nd.Gradient(pr.cost)(pr.params)
    g = pr.grad(pr.params)
    rel = np.linalg.norm(num - g) / np.linalg.norm(num + g)
    return ("pass" if rel < 1e-9 else "fail") + f" (rel {rel:.1e})", None


def torch_gradcheck(fast: bool):
    def run(pr: Problem) -> tuple[str, None]:
        import torch

        class Cost(torch.autograd.Function):
            @staticmethod
            def forward(ctx, p):
                ctx.save_for_backward(p)
                return torch.tensor(pr.cost(p.detach().numpy()), dtype=torch.float64)

            @staticmethod
            def backward(ctx, grad_output):
                (p,) = ctx.saved_tensors
                return grad_output * torch.from_numpy(pr.grad(p.detach().numpy()))

        p = torch.tensor(pr.params, dtype=torch.float64, requires_grad=True)
        ok = torch.autograd.gradcheck(Cost.apply, (p,), fast_mode=fast, raise_exception=False)
        return "pass" if ok else "fail", None

    return run


def jax_check_grads(pr: Problem) -> tuple[str, None]:
    import jax
    import jax.numpy as jnp
    from jax.test_util import check_grads

    jax.config.update("jax_enable_x64", True)
    scalar = jax.ShapeDtypeStruct((), jnp.float64)
    vector = jax.ShapeDtypeStruct(pr.params.shape, jnp.float64)

    @jax.custom_vjp
    def J(p):
        return jax.pure_callback(lambda q: np.float64(pr.cost(np.asarray(q))), scalar, p)

    def fwd(p):
        return J(p), p

    def bwd(p, g):
        return (g * jax.pure_callback(lambda q: pr.grad(np.asarray(q)), vector, p),)

    J.defvjp(fwd, bwd)
    try:
        check_grads(J, (jnp.asarray(pr.params),), order=1, modes=("rev",))
        return "pass", None
    except AssertionError:
        return "fail", None


def ours(mode: str, workers: int = 0):
    def run(pr: Problem) -> tuple[str, gradcheck.Report]:
        kw = {"blocks": pr.blocks, "order": "F", "mode": mode, "progress": False}
        if workers:
            # spawn, not fork: the parent has loaded torch and JAX, whose threads do not survive fork
            with ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn")
            ) as pool:
                report = gradcheck.check(pr, pr.params, executor=pool, **kw)
            pr.calls = report.evaluations  # the workers' calls are not seen here
        else:
            report = gradcheck.check(pr, pr.params, **kw)
        verdict = "pass" if report.ok else f"fail: {report.mismatched.size} wrong"
        if not report.ok and report.diagnoses:
            verdict += f", {report.diagnoses[0].kind}"
        return verdict + f" ({report.mode})", report

    return run


# name → (runner, estimated evaluations as a function of n)
ANCHORS = {
    "question's loop": (question_loop, lambda n: 2 * n),
    "scipy check_grad (all)": (scipy_check_grad("all"), lambda n: 2 * (n + 1)),
    "scipy check_grad (random)": (scipy_check_grad("random"), lambda n: 6),
    "numdifftools.Gradient": (numdifftools_gradient, lambda n: 20 * n),
    "torch gradcheck (fast_mode=False)": (torch_gradcheck(False), lambda n: 2 * n),
    "torch gradcheck (fast_mode=True)": (torch_gradcheck(True), lambda n: 6),
    "jax check_grads (rev)": (jax_check_grads, lambda n: 10),
    "gradcheck full": (ours("full"), lambda n: 2 * n),
    "gradcheck full, 2 processes": (ours("full", workers=2), lambda n: 2 * n),
    "gradcheck directional": (ours("directional"), lambda n: 40),
    "gradcheck auto": (ours("auto"), lambda n: 40),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--anchors", nargs="+", default=list(ANCHORS))
    parser.add_argument("--max-seconds", type=float, default=240.0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for name in args.anchors:  # warm up: imports, JIT and first-call costs are not timed
        ANCHORS[name][0](Problem("tiny", False))
    print("| size | function | tool | seconds | evaluations | × one evaluation | verdict |")
    print("|---|---|---|---:|---:|---:|---|")
    for size in args.sizes:
        for bug in (False, True):
            probe = Problem(size, bug)
            t0 = time.perf_counter()
            for _ in range(5):
                probe(probe.params)
            one = (time.perf_counter() - t0) / 5
            n = probe.params.size
            label = "bug" if bug else "correct"
            for name in args.anchors:
                runner, estimate = ANCHORS[name]
                if estimate(n) * one > args.max_seconds:
                    print(
                        f"| {size} (n={n}) | {label} | {name} | skipped: ~{estimate(n) * one:.0f} s | ~{estimate(n)} | | |",
                        flush=True,
                    )
                    continue
                pr = Problem(size, bug)
                t0 = time.perf_counter()
                try:
                    verdict, _ = runner(pr)
                except Exception as exc:  # noqa: BLE001 (an anchor that breaks is reported, not fatal)
                    verdict = f"error: {type(exc).__name__}: {str(exc)[:60]}"
                seconds = time.perf_counter() - t0
                print(
                    f"| {size} (n={n}) | {label} | {name} | {seconds:.3f} | {pr.calls} | {seconds / one:.0f} | {verdict} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
