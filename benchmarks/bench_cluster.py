"""A full check of the ex4 network (400-25-10, m = 500, the course's weights) serially, on a
2-process pool, and on a Dask cluster of 2 process workers, in the same run.

Run: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_cluster.py [--m 500]
(one BLAS thread per process, so that two workers use the two cores and nothing more)

The Dask cluster is a LocalCluster with process workers (Client("tcp://…") reaches a real one the
same way: ``executor=client.get_executor(), workers=<its worker count>``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

import gradcheck
from gradcheck import ex4

WEIGHTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ex4" / "ex4weights.mat"
BLOCKS = {"Theta1": (25, 401), "Theta2": (10, 26)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--m", type=int, default=500)
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
    serial = run("serial")
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=spawn) as pool:
        pool.submit(int).result()  # the workers are up before the clock starts
        pooled = run("2-process pool", executor=pool, workers=2)
    import dask
    import distributed

    # distributed's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which makes every
    # large NumPy temporary a fresh mmap (3× slower evaluations of this f, measured): leave it out.
    dask.config.set(
        {"distributed.nanny.pre-spawn-environ": {"OMP_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1}}
    )
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        dask_executor = run(
            "Dask, 2 process workers (client.get_executor())",
            executor=client.get_executor(),
            workers=2,
        )
        dask = run("Dask, 2 process workers (the client: data scattered once)", executor=client)
    print(
        f"speed-up against serial: 2-process pool {serial / pooled:.2f}×, Dask executor "
        f"{serial / dask_executor:.2f}×, Dask client {serial / dask:.2f}×"
    )


if __name__ == "__main__":
    main()
