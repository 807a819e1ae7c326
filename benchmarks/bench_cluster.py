"""A full check of the ex4 network (400-25-10, m = 500, the course's weights) serially, on a
2-process pool, and on a Dask cluster of 2 process workers, in the same run.

Run: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_cluster.py [--m 500] [--runs 5]
(one BLAS thread per process, so that two workers use the two cores and nothing more). With
``--runs K`` the four runners are timed in turn K times (a fresh pool and cluster each round) and
the speed-ups are reported as medians with their range: on a small shared VM one round can be
off by 15 %. The Dask client is timed twice: on a cluster with distributed's defaults, and on
one whose monitors wake less often (``QUIET``: on this 2-vCPU machine they share the cores with
the workers).

The Dask cluster is a LocalCluster with process workers (Client("tcp://…") reaches a real one the
same way: ``executor=client.get_executor(), workers=<its worker count>``).
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

import gradcheck
from gradcheck import ex4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests import functions  # (the repository root on the path first)

WEIGHTS = ROOT.parent / "shared" / "data" / "ex4" / "ex4weights.mat"
BLOCKS = {"Theta1": (25, 401), "Theta2": (10, 26)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--m", type=int, default=500)
    parser.add_argument("--runs", type=int, default=1, help="rounds of the four runners")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X, y = rng.random((args.m, 400)), rng.integers(1, 11, args.m)
    params = ex4.unroll(*ex4.load_weights(WEIGHTS))
    extra = (400, 25, 10, X, y, 1.0)  # args=: travel with the function, unpickled once a worker
    options = {"args": extra, "blocks": BLOCKS, "order": "F", "mode": "full", "progress": False}

    def run(label: str, **more) -> float:
        t0 = time.perf_counter()
        report = gradcheck.check(ex4.nn_cost_function, params, **options, **more)
        seconds = time.perf_counter() - t0
        print(
            f"| {label} | {seconds:.2f} | {report.evaluations} | "
            f"{'pass' if report.ok else 'fail'} |",
            flush=True,
        )
        return seconds

    print(f"ex4 400-25-10, m = {args.m}, n = {params.size}, full mode")
    print("| runner | seconds | evaluations | verdict |")
    print("|---|---:|---:|---|")
    speedups: dict[str, list[float]] = {}
    for _ in range(args.runs):
        for name, value in one_round(run).items():
            speedups.setdefault(name, []).append(value)
    print(
        "speed-up against serial: "
        + ", ".join(f"{name} {_spread(values)}" for name, values in speedups.items())
    )


# The monitors of a LocalCluster's scheduler, nannies and workers (the event-loop tick every
# 20 ms, memory every 100 ms, the system every 500 ms, the statistical profiler every 10 ms,
# work stealing every 100 ms) are cheap on a cluster of its own machines; here they share the
# two cores with the workers. Measured (2026-11-27, three rounds in alternation): the client's
# check 10.9 s with the defaults, 9.8 s with these. Each alone moved it by less than the noise.
QUIET = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.worker.profile.enabled": False,
    "distributed.scheduler.work-stealing": False,
}


def one_round(run: Callable[..., float]) -> dict[str, float]:
    """Serial, a 2-process pool, a Dask cluster through its executor and as the client, and the
    client again on a cluster with quieter monitors; the speed-ups against serial."""
    serial = run("serial")
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=spawn) as pool:
        pool.submit(int).result()  # the workers are up before the clock starts
        pooled = run("2-process pool", executor=pool, workers=2)
    with _cluster({}) as client:
        dask_executor = run(
            "Dask, 2 process workers (client.get_executor())",
            executor=client.get_executor(),
            workers=2,
        )
        dask = run("Dask, 2 process workers (the client: data scattered once)", executor=client)
    with _cluster(QUIET) as client:
        quiet = run("Dask, the client, monitors quieter (QUIET)", executor=client)
    return {
        "2-process pool": serial / pooled,
        "Dask executor": serial / dask_executor,
        "Dask client": serial / dask,
        "Dask client, QUIET": serial / quiet,
    }


@contextmanager
def _cluster(config: dict[str, object]) -> Iterator[Any]:
    """A client of a LocalCluster of 2 single-threaded process workers (the tests' helper),
    under ``config``, up and ready."""
    import dask
    import distributed  # noqa: F401 (its config defaults loaded before ``config`` overrides them)

    # distributed's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which makes every
    # large NumPy temporary a fresh mmap (3× slower evaluations of this f, measured): leave it out.
    environ = {"OMP_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1}
    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ, **config}),
        functions.dask_client(processes=True) as client,
    ):
        # The workers are up and have imported what the pool's workers import when they start
        # (this script's modules) before the clock starts.
        client.run(importlib.import_module, "gradcheck.ex4")
        yield client


def _spread(values: list[float]) -> str:
    """One value as it is; several as their median and range."""
    if len(values) == 1:
        return f"{values[0]:.2f}×"
    return (
        f"{statistics.median(values):.2f}× (median of {len(values)}: "
        f"{min(values):.2f}–{max(values):.2f}×)"
    )


if __name__ == "__main__":
    main()
