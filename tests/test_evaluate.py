"""The evaluator: copies, counts, what it saw returned as values, batches, executors, Ctrl-C."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import gradcheck
from gradcheck.evaluate import (
    Evaluator,
    Ledger,
    Points,
    Seen,
    as_scalar,
    explicit_points,
    split_output,
)

from . import functions


def _coordinate(x, h):
    return Points(x, x.size, lambda k: (k, x[k] + h), lambda k: f"at entry {k}")


def test_points_reuse_one_buffer_and_restore_it():
    x = np.arange(4.0)
    seen = [p.copy() for p in _coordinate(x, 0.5)]
    np.testing.assert_array_equal(seen[2], [0.0, 1.0, 2.5, 3.0])
    assert len(seen) == 4
    np.testing.assert_array_equal(x, np.arange(4.0))  # x itself is never written


def test_costs_are_in_order_and_counted_in_the_ledger():
    ledger = Ledger()
    ev = Evaluator(lambda x: float(x @ x), ledger=ledger)
    costs = ev.costs(_coordinate(np.zeros(3), 2.0))
    np.testing.assert_array_equal(costs.values, [4.0, 4.0, 4.0])
    assert costs.seen == Seen(frozenset({"float64"}), None, False)
    other = Evaluator(lambda x: 0.0, ledger=ledger)
    other.at(np.zeros(3))
    assert ledger.calls == ev.calls == 4  # shared: both evaluators' calls


def test_extra_arguments_reach_f():
    ev = Evaluator(lambda x, a, *, b: float(a * x.sum() + b), args=(2.0,), kwargs={"b": 1.0})
    assert ev.at(np.ones(3)).cost == 7.0


def test_mutation_is_seen_and_the_caller_point_is_safe():
    def f(x):
        x[0] = 99.0
        return float(x.sum())

    x = np.zeros(3)
    ev = Evaluator(f)
    out = ev.at(x, "at x")
    assert out.seen.mutated_at == "at x"
    np.testing.assert_array_equal(x, 0.0)
    costs = ev.costs(_coordinate(x, 1.0))
    assert costs.seen.mutated_at == "at entry 0"
    np.testing.assert_array_equal(costs.values, [99.0, 100.0, 100.0])  # f saw its own copy


@pytest.mark.parametrize("reads_only", [False, True])
def test_a_vectorized_f_that_writes_into_a_large_batch_is_seen(reads_only):
    """A batch of points of more than SAMPLED entries is watched on sampled entries of each row
    after f, whether f got a private copy or (declaring ``reads_only``) the rows themselves."""
    from gradcheck.evaluate import SAMPLED

    class Sweeping:
        def __call__(self, X):
            X -= 1.0  # against its word when reads_only: still seen
            return np.zeros(len(X))

    f = Sweeping()
    f.reads_only = reads_only
    x = np.zeros(SAMPLED + 1)
    points = Points(x, 3, lambda k: (k, 1.0), lambda k: f"at entry {k}")
    costs = Evaluator(f, vectorized=True).costs(points)
    assert costs.seen.mutated_at is not None
    assert costs.seen.mutated_at.startswith("on a batch starting at entry 0")
    np.testing.assert_array_equal(x, 0.0)


def test_float32_costs_are_seen_as_low_precision():
    ev = Evaluator(lambda x: np.float32(x.sum()))
    assert ev.costs(_coordinate(np.zeros(2), 1.0)).seen.low_precision
    assert not Evaluator(lambda x: x.sum()).costs(_coordinate(np.zeros(2), 1.0)).seen.low_precision


def test_ctrl_c_returns_what_was_done():
    calls = []

    def f(x):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return float(x.sum())

    costs = Evaluator(f).costs(_coordinate(np.zeros(5), 1.0))
    assert costs.seen.interrupted
    np.testing.assert_array_equal(costs.values[:2], [1.0, 1.0])
    assert np.all(np.isnan(costs.values[2:]))


def test_an_exception_gets_a_note_saying_where():
    def f(x):
        if x[2] != 0:
            raise FloatingPointError("overflow")
        return 0.0

    with pytest.raises(FloatingPointError) as info:
        Evaluator(f).costs(_coordinate(np.zeros(4), 1.0))
    assert info.value.__notes__ == ["gradcheck: raised while evaluating f at entry 2."]


@pytest.mark.parametrize("runner", ["serial", "vectorized", "threads"])
def test_every_runner_gives_the_same_costs_and_counts(runner):
    x = np.linspace(-1, 1, 150)
    points = _coordinate(x, 1e-3)
    if runner == "vectorized":
        ev = Evaluator(functions.sum_of_squares_rows, vectorized=True)
        values = ev.costs(points).values
    elif runner == "threads":
        with ThreadPoolExecutor(2) as pool:
            ev = Evaluator(functions.sum_of_squares, executor=pool, workers=2)
            values = ev.costs(points).values
    else:
        ev = Evaluator(functions.sum_of_squares)
        values = ev.costs(points).values
    expected = [functions.sum_of_squares(p)[0] for p in points]
    np.testing.assert_allclose(values, expected, rtol=1e-15)
    assert ev.calls == 150


def test_explicit_points_and_output_parsing():
    x = np.zeros(2)
    values = Evaluator(lambda p: float(p.sum())).costs(
        explicit_points(x, [np.ones(2), 2 * np.ones(2)], "on a line")
    )
    np.testing.assert_array_equal(values.values, [2.0, 4.0])
    assert split_output((1.0, [2.0])) == (1.0, [2.0])
    assert split_output(3.0) == (3.0, None)
    assert as_scalar(np.array([[2.5]])) == 2.5  # a MATLAB 1×1
    with pytest.raises(
        ValueError, match=r"a pair \(cost, gradient\); it returned a tuple of length 3"
    ):
        split_output((1, 2, 3))
    with pytest.raises(ValueError, match=r"scalar cost .*shape \(2,\)"):
        as_scalar(np.ones(2))


class Coordinated:
    """A vectorized f that also builds its own points from (entry, value) pairs, as the torch
    adapter does on a GPU; it says how many points a batch may hold."""

    batch_size = 7

    def __init__(self):
        self.batches = 0

    def __call__(self, X):
        return functions.sum_of_squares_rows(X)

    def coordinates(self, x, entries, values):
        assert not x.flags.writeable  # the base point may be kept, never changed
        self.batches += 1
        points = np.repeat(x[None, :], entries.size, axis=0)
        points[np.arange(entries.size), entries] = values
        return functions.sum_of_squares_rows(points)


def test_coordinate_batches_give_the_same_numbers_without_building_points():
    x = np.linspace(-1, 2, 30)
    f = Coordinated()
    report = gradcheck.check(f, x, grad=lambda p: 2 * p, vectorized=True, mode="full")
    same = lambda p: float(functions.sum_of_squares_rows(p[None])[0])
    plain = gradcheck.check(same, x, grad=lambda p: 2 * p, mode="full")
    assert report.ok
    np.testing.assert_array_equal(report.numeric, plain.numeric)
    assert report.evaluations == plain.evaluations
    assert f.batches == -(-2 * 30 // 7)  # the 60 points of x ± h, seven at a time


def test_memory_given_to_f_is_reused_only_when_f_kept_nothing():
    from gradcheck.evaluate import Spare

    spare, like = Spare(), np.zeros(10)
    first = spare.hand(spare.take(like))
    first_id = id(first)
    del first  # f returned and kept nothing: the memory comes back
    again = spare.take(like)
    assert id(again) == first_id
    kept = spare.hand(again)  # this time "f" keeps it (a reference lives on)
    other = spare.take(like)
    assert other is not kept
    assert other.shape == (10,)
    view = spare.hand(other)[2:]  # a view keeps its base alive too
    assert spare.take(like) is not view.base


def test_points_f_keeps_are_never_written_over():
    """An f that keeps every point it is given (a stale cache, a trace) must find them as it
    saw them: memory is reused only when nothing refers to it."""
    n = 70_000  # large enough for the reused-memory path of the calls at x
    x = np.random.default_rng(0).standard_normal(n)
    kept: list[tuple[np.ndarray, np.ndarray]] = []

    def f(p):
        kept.append((p, p.copy()))
        return 0.5 * float(p @ p), p.copy()

    report = gradcheck.check(f, x, mode="directional")
    assert report.ok
    assert len(kept) == report.evaluations == 8
    assert len({id(p) for p, _ in kept}) == 8
    assert all(np.array_equal(p, seen) for p, seen in kept)


def test_vectorized_functions_are_evaluated_in_batches():
    x = np.linspace(-1, 2, 150)
    calls = []

    def f(X):
        calls.append(np.shape(X))
        return functions.sum_of_squares_rows(X)

    report = gradcheck.check(f, x, grad=lambda x: 2 * x, vectorized=True)
    plain = gradcheck.check(
        lambda x: float(functions.sum_of_squares_rows(x[None])[0]), x, grad=lambda x: 2 * x
    )
    assert report.ok
    np.testing.assert_array_equal(report.numeric, plain.numeric)
    assert max(s[0] for s in calls) == 64
    assert len(calls) < report.evaluations / 10


def test_vectorized_f_returning_the_wrong_count_is_a_clear_error():
    with pytest.raises(ValueError, match="one cost per point of a batch"):
        gradcheck.check(lambda X: np.zeros(1), np.ones(3), grad=lambda x: 2 * x, vectorized=True)


def test_a_dask_cluster_runs_the_evaluations():
    x = np.linspace(-1, 1, 12)
    serial = gradcheck.check(functions.smooth, x)
    with functions.dask_client(processes=False) as client:
        report = gradcheck.check(functions.smooth, x, executor=client.get_executor())
    np.testing.assert_array_equal(report.numeric, serial.numeric)
    assert report.evaluations == serial.evaluations


def test_a_closure_on_a_dask_process_cluster_gives_the_serial_report():
    shift = np.linspace(0.0, 1.0, 12)

    def closure(x):  # a closure, as a notebook makes them: it travels by value (cloudpickle)
        value, g = functions.smooth(x + shift)
        return value, g

    x = np.linspace(-1, 1, 12)
    serial = gradcheck.check(closure, x)
    with functions.dask_client(processes=True) as client:
        report = gradcheck.check(closure, x, executor=client.get_executor(), workers=2)
        scattered = gradcheck.check(
            closure, x, executor=client
        )  # the client itself: data sent once
        # the same function checked again on the same client: its payload is scattered again
        # while the first check's copy, the same bytes, is being released
        again = gradcheck.check(closure, x, executor=client)

        def raises(x):
            if x[5] != 0.0 and x[0] == -1.0:
                raise ArithmeticError("diverged")
            return functions.smooth(x)

        with pytest.raises(ArithmeticError) as info:  # f's own error keeps its type on Dask
            gradcheck.check(raises, np.r_[-1.0, np.zeros(11)], executor=client.get_executor())
    np.testing.assert_array_equal(report.numeric, serial.numeric)
    np.testing.assert_array_equal(scattered.numeric, serial.numeric)
    np.testing.assert_array_equal(again.numeric, serial.numeric)
    assert again.ok, str(again)
    assert report.ok == serial.ok is True
    assert report.evaluations == serial.evaluations == scattered.evaluations
    assert any("at entry x[5]" in n for n in info.value.__notes__)


def _rows_of(f_rows, f_one, n=40, **extra):
    """Every point x + e_i of an n-vector, through a Batching f."""
    from gradcheck.evaluate import Ledger, Vmapped

    ledger = Ledger()
    ev = Evaluator(Vmapped(f_rows, f_one, **extra), vectorized=True, ledger=ledger)
    x = np.arange(n, dtype=float)
    return ev.costs(_coordinate(x, 1.0)).values, ledger, x


def test_batches_are_used_only_after_they_agreed_with_one_point_at_a_time():
    from gradcheck.evaluate import AGREED, DIFFERED, REFUSED, WROTE

    one = lambda p: float(p @ p)
    expected = lambda x: x @ x + 2 * x + 1  # (x + e_i)·(x + e_i)
    # agreeing batches: used, after a trial of two points both ways (4 evaluations)
    values, ledger, x = _rows_of(lambda P: np.einsum("ij,ij->i", P, P), one)
    np.testing.assert_allclose(values, expected(x))
    assert (ledger.batches, ledger.calls) == (AGREED, 40 + 4)
    # batches that compute something else: never used, every point one at a time
    values, ledger, x = _rows_of(lambda P: np.einsum("ij,ij->i", P, P) + 1e-6, one)
    np.testing.assert_allclose(values, expected(x), rtol=1e-15)
    assert (ledger.batches, ledger.calls) == (DIFFERED, 4 + 40)

    def refuses(P):
        raise RuntimeError("no batching rule")

    values, ledger, x = _rows_of(refuses, one)
    np.testing.assert_allclose(values, expected(x), rtol=1e-15)
    assert (ledger.batches, ledger.calls) == (REFUSED, 2 + 40)

    def writes(P):
        P *= 0.5  # into the points it was handed
        return np.einsum("ij,ij->i", P, P) * 4

    values, ledger, x = _rows_of(writes, one)
    np.testing.assert_allclose(values, expected(x), rtol=1e-15)
    assert ledger.batches == WROTE


def test_small_batches_go_one_point_at_a_time_without_a_trial():
    values, ledger, x = _rows_of(lambda P: 1 / 0, lambda p: float(p @ p), n=5)
    np.testing.assert_allclose(values, x @ x + 2 * x + 1)
    assert (ledger.batches, ledger.calls) == (None, 5)  # 5 points < batch_from: no batch


class _LastFirst:
    """A way of running f of the caller's own (``executor=``): the wanted points in reverse
    order, one at a time, each counted and kept as the protocol says."""

    def __init__(self):
        self.runs = 0

    def run(self, call, ledger, points, wanted, sink):
        self.runs += 1
        for k in sorted(wanted, reverse=True):
            point = points.x.copy()
            entries, values = points.change(k)
            point[entries] = values
            out, mutated = call(point)
            ledger.calls += 1
            sink.store(
                k,
                wanted[k],
                float(out[0] if isinstance(out, tuple) else out),
                "float64",
                mutated,
                points.where,
            )


def test_a_runner_of_ones_own_is_a_way_of_running_f():
    from gradcheck.evaluate import RunsPoints

    runner = _LastFirst()
    assert isinstance(runner, RunsPoints)
    f, x = functions.sum_of_squares, np.linspace(-1, 1, 12)
    plain = gradcheck.check(f, x)
    own = gradcheck.check(f, x, executor=runner)
    assert runner.runs > 0
    assert own.ok
    np.testing.assert_array_equal(own.numeric, plain.numeric)
    assert own.evaluations == plain.evaluations
    with pytest.raises(TypeError, match="RunsPoints"):
        gradcheck.check(f, x, executor=object())
