"""Functions with known gradients for the checker's tests (module level, so processes can pickle them)."""

from contextlib import contextmanager

import numpy as np


class Counting:
    """Wraps a function and counts its calls (with ``batch=True`` a batch of k points counts k)."""

    def __init__(self, f, batch=False):
        self.f, self.batch, self.calls = f, batch, 0

    def __call__(self, x, *args, **kwargs):
        self.calls += np.atleast_2d(x).shape[0] if self.batch else 1
        return self.f(x, *args, **kwargs)


def sum_of_squares(x):
    return float(x @ x), 2 * x


def smooth(x):
    """Σ exp(sin x_i) + ½ Σ x_i x_{i+1}: smooth, coupled, every entry different."""
    f = np.sum(np.exp(np.sin(x))) + 0.5 * np.sum(x[:-1] * x[1:])
    g = np.cos(x) * np.exp(np.sin(x))
    g[:-1] += 0.5 * x[1:]
    g[1:] += 0.5 * x[:-1]
    return float(f), g


def smooth_complex(x):
    """``smooth`` written so that it works on complex input (for the complex step)."""
    f = np.sum(np.exp(np.sin(x))) + 0.5 * np.sum(x[:-1] * x[1:])
    g = np.cos(x) * np.exp(np.sin(x))
    g[:-1] += 0.5 * x[1:]
    g[1:] += 0.5 * x[:-1]
    return f, np.real(g)


def logistic_regression(n, m, seed=0, planted=(), lam=0.1):
    """L2-regularised logistic regression on sparse random data; ``planted`` adds (index, error)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    A = sp.random(m, n, density=min(1.0, 1000.0 / n), random_state=seed, format="csr")
    y = rng.choice([-1.0, 1.0], m)

    def f(w):
        z = y * (A @ w)
        value = np.sum(np.logaddexp(0, -z)) + 0.5 * lam * w @ w
        g = A.T @ (-y * np.exp(-np.logaddexp(0, z))) + lam * w
        for i, d in planted:
            g[i] += d
        return float(value), g

    return f, rng.standard_normal(n) * 0.1


def sum_of_squares_rows(X):
    """Vectorized: one cost per row of a (k, n) array."""
    return np.sum(np.atleast_2d(X) ** 2, axis=1)


class DiesAt:
    """``smooth``, except that evaluating it with only entry ``entry`` moved from ``x0`` kills
    the process (a crash in compiled code, an out-of-memory kill)."""

    def __init__(self, x0, entry):
        self.x0, self.entry = np.array(x0, dtype=float), entry

    def __call__(self, x):
        moved = np.flatnonzero(x != self.x0)
        if moved.tolist() == [self.entry]:
            import os

            os._exit(1)
        return smooth(x)


@contextmanager
def dask_client(processes):
    """A Dask client on a local cluster of 2 single-thread workers (threads or processes)."""
    import pytest

    distributed = pytest.importorskip(
        "distributed", reason="the 'distributed' extra is part of the dev install"
    )
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=processes,
            dashboard_address=":0",  # any free port: None still bound 8787
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
