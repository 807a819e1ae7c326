"""Other ways of giving f: NLopt/Ipopt-style callbacks that fill the gradient in place, and
costs that draw random numbers (dropout, negative sampling) checked under fixed randomness.

``inplace(cb)`` turns ``cb(x, grad) -> cost`` (``grad`` a preallocated array the callback must
fill: NLopt, Ipopt, PETSc's TAO) into the ``(cost, gradient)`` function :func:`gradcheck.check`
takes. ``grad`` is handed pre-filled with a NaN sentinel, so that entries the callback never
wrote are named — the recurring ``grad = 2*x`` (rebinding the name) instead of ``grad[:] = 2*x``
(writing into the array) leaves all of it unwritten.

``restore_rng(f)`` (``check(..., rng="restore")``) snapshots the random states f may draw from —
Python's ``random``, NumPy's global state, torch's CPU generator (and CUDA's, when torch has
initialised it) — once, and restores them before every call: each call draws the same numbers
(the same dropout mask), so the cost becomes a deterministic function of x whose derivative can
be checked (CS224n's ``gradcheck_naive`` does this by hand). A ``numpy.random.Generator`` held by
f, or a JAX key, is f's own state: pass ``reseed=`` a callable that resets it (JAX keys are
explicit: split them outside f).
"""

from __future__ import annotations

import itertools
import random
import sys
from collections.abc import Callable
from typing import Any

import numpy as np


class UnwrittenGradient(ValueError):
    """The callback left entries of ``grad`` unwritten (they still hold the NaN sentinel)."""


class InPlace:
    """``cb(x, grad) -> cost`` as ``f(x) -> (cost, gradient)`` (picklable)."""

    def __init__(self, cb: Callable[..., Any]) -> None:
        if not callable(cb):
            raise TypeError(
                f"inplace needs a callback cb(x, grad) -> cost, got {type(cb).__name__}."
            )
        self.cb = cb

    def __call__(self, x: np.ndarray, *args: Any, **kwargs: Any) -> tuple[Any, np.ndarray]:
        grad = np.full(x.shape, np.nan)
        cost = self.cb(x, grad, *args, **kwargs)
        unwritten = np.flatnonzero(np.isnan(grad))
        if unwritten.size:
            shown = _ranges(unwritten)
            hint = (
                " — did you write `grad = …` instead of `grad[:] = …`? Rebinding the name leaves "
                "the array the caller passed unwritten."
                if unwritten.size == grad.size
                else ""
            )
            raise UnwrittenGradient(
                f"your callback never wrote grad[{shown}] ({unwritten.size} of {grad.size} "
                f"entries){hint}"
            )
        return cost, grad


def _ranges(idx: np.ndarray) -> str:
    """``3:7, 9`` for the sorted indices 3, 4, 5, 6, 9."""
    parts, start = [], int(idx[0])
    for a, b in itertools.pairwise(idx):
        if b != a + 1:
            parts.append(f"{start}:{a + 1}" if a > start else f"{start}")
            start = int(b)
    last = int(idx[-1])
    parts.append(f"{start}:{last + 1}" if last > start else f"{start}")
    return ", ".join(parts[:6]) + (", …" if len(parts) > 6 else "")


def inplace(cb: Callable[..., Any]) -> InPlace:
    """Adapt an NLopt/Ipopt-style callback ``cb(x, grad) -> cost`` that fills ``grad`` in place.

    Examples
    --------
    >>> import numpy as np, gradcheck
    >>> def cb(x, grad):
    ...     grad[:] = 2 * x
    ...     return float(x @ x)
    >>> gradcheck.check(gradcheck.inplace(cb), np.ones(3)).ok
    True
    """
    return InPlace(cb)


class RngSnapshot:
    """The global random states f may draw from, taken once (``states=False``: none of them,
    only the user's ``reseed``), and restored on demand."""

    def __init__(self, states: bool = True, reseed: Callable[[], Any] | None = None) -> None:
        self.reseed = reseed
        self.python = random.getstate() if states else None
        self.numpy = np.random.get_state() if states else None  # noqa: NPY002
        torch = sys.modules.get("torch") if states else None
        self.torch = torch.random.get_rng_state() if torch is not None else None
        cuda = getattr(torch, "cuda", None) if torch is not None else None
        self.cuda = cuda.get_rng_state_all() if cuda is not None and cuda.is_initialized() else None

    def restore(self) -> None:
        if self.python is not None:
            random.setstate(self.python)
        if self.numpy is not None:
            np.random.set_state(self.numpy)  # noqa: NPY002
        torch = sys.modules.get("torch")
        if torch is not None and self.torch is not None:
            torch.random.set_rng_state(self.torch)
            if self.cuda is not None:
                torch.cuda.set_rng_state_all(self.cuda)
        if self.reseed is not None:
            self.reseed()


class RestoredRng:
    """f with the random states of a snapshot restored before every call (module notes)."""

    def __init__(self, f: Callable[..., Any], snapshot: RngSnapshot) -> None:
        self.f, self.snapshot = f, snapshot

    def __call__(self, x: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        self.snapshot.restore()
        return self.f(x, *args, **kwargs)
