"""Every call of the user's function goes through here.

The evaluator copies each point before handing it to ``f`` (so that ``f`` can never corrupt the
check), notices when ``f`` modifies its argument, counts calls, turns the return value into a
cost, and adds a note to any exception ``f`` raises saying where it was being evaluated.
Points can be evaluated serially or on any ``concurrent.futures.Executor``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def split_output(out: Any) -> tuple[Any, Any]:
    """``(cost, grad)`` from what ``f`` returned: a scalar, or a 2-tuple/list (cost, gradient)."""
    if isinstance(out, (tuple, list)):
        if len(out) != 2:
            raise ValueError(
                "f must return a scalar cost or a pair (cost, gradient); "
                f"it returned a {type(out).__name__} of length {len(out)}."
            )
        return out[0], out[1]
    return out, None


def as_scalar(cost: Any) -> complex | float:
    """The cost as a Python number; a size-1 array (a MATLAB 1×1) is accepted."""
    arr = np.asarray(cost)
    if arr.size != 1 or arr.dtype == object:
        raise ValueError(
            "f must return a scalar cost (or a pair (cost, gradient)); it returned "
            f"{type(cost).__name__} of shape {arr.shape}. If your function is vector-valued, "
            "check a scalar such as a weighted sum of its outputs."
        )
    value = arr.reshape(())[()]
    if np.iscomplexobj(arr):
        return complex(value)
    return float(value)


def _call(f: Callable[[np.ndarray], Any], point: np.ndarray) -> tuple[Any, bool]:
    # Module-level so that process pools can pickle it.
    arg = point.copy()
    out = f(arg)
    return out, not np.array_equal(arg, point, equal_nan=True)


@dataclass
class Evaluator:
    """Calls ``f`` on copies of points, counting calls and watching for mutation."""

    f: Callable[[np.ndarray], Any]
    describe: Callable[[int], str] = str
    executor: Executor | None = None
    progress: bool | None = None
    calls: int = 0
    mutated_at: str | None = None
    seconds_in_f: float = 0.0
    _dtypes: set[str] = field(default_factory=set)

    def __call__(self, point: np.ndarray, where: str = "at x") -> tuple[Any, Any]:
        """Evaluate at one point; returns ``(cost, grad_or_None)`` as ``f`` gave them."""
        t0 = time.perf_counter()
        try:
            out, mutated = _call(self.f, point)
        except Exception as exc:
            exc.add_note(f"gradcheck: raised while evaluating f {where}.")
            raise
        finally:
            self.seconds_in_f += time.perf_counter() - t0
            self.calls += 1
        return self._record(out, mutated, where)

    def _record(self, out: Any, mutated: bool, where: str) -> tuple[Any, Any]:
        if mutated and self.mutated_at is None:
            self.mutated_at = where
        cost, grad = split_output(out)
        self._dtypes.add(str(np.asarray(cost).dtype))
        return cost, grad

    def costs(self, points: Sequence[np.ndarray], wheres: Sequence[str]) -> np.ndarray:
        """Costs at many points, in order (complex where ``f`` returned complex)."""
        values: list[complex | float] = []
        bar = self._progress_bar(len(points))
        try:
            if self.executor is None:
                for point, where in zip(points, wheres, strict=True):
                    values.append(as_scalar(self(point, where)[0]))
                    if bar is not None:
                        bar[0].advance(bar[1])
            else:
                values = self._costs_on_executor(points, wheres, bar)
        finally:
            if bar is not None:
                bar[0].stop()
        return np.array(values)

    def _costs_on_executor(
        self, points: Sequence[np.ndarray], wheres: Sequence[str], bar: Any
    ) -> list:
        import pickle

        try:
            pickle.dumps(self.f)
        except Exception as exc:  # noqa: BLE001 (pickling fails with many exception types)
            raise TypeError(
                f"executor= needs a function that can be pickled, and f ({self.f!r}) cannot: "
                f"{exc}. Define f at module level (not a lambda or a closure), or use a "
                "ThreadPoolExecutor."
            ) from None
        t0 = time.perf_counter()
        futures = [self.executor.submit(_call, self.f, p) for p in points]  # type: ignore[union-attr]
        values = []
        for fut, where in zip(futures, wheres, strict=True):
            try:
                out, mutated = fut.result()
            except Exception as exc:
                exc.add_note(f"gradcheck: raised while evaluating f {where}.")
                raise
            finally:
                self.calls += 1
            values.append(as_scalar(self._record(out, mutated, where)[0]))
            if bar is not None:
                bar[0].advance(bar[1])
        self.seconds_in_f += time.perf_counter() - t0
        return values

    def _progress_bar(self, total: int) -> Any:
        show = self.progress
        if show is None:
            # Only on a terminal, and only when the work will take more than about 2 s.
            per_call = self.seconds_in_f / max(self.calls, 1)
            show = sys.stderr.isatty() and per_call * total > 2.0
        if not show:
            return None
        from rich.progress import Progress

        progress = Progress(transient=True)
        task = progress.add_task("gradcheck: evaluating f", total=total)
        progress.start()
        return progress, task

    @property
    def low_precision(self) -> bool:
        """Whether ``f`` returned costs in a dtype of less than 64 bits."""
        return any(d in ("float32", "float16", "complex64") for d in self._dtypes)
