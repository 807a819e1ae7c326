"""The problem to check, validated once: f, its extra arguments, the point, the gradient, the layout.

Every public entry point (``check``, ``check_jacobian``, ``check_hessian``, the adapters) builds a
``Problem`` here, so that misuse gets the same clear message wherever it comes from: the argument
named, what was expected, what was received.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .layout import Layout, Order, shape_text
from .precision import EPS, eps_of, precision_of


@dataclass(frozen=True)
class Problem:
    """``f(x, *args, **kwargs)`` (and ``grad`` with the same arguments) at the point ``x``."""

    f: Callable[..., Any]
    x: np.ndarray  # a float64 copy of the caller's point
    grad: Callable[..., Any] | None = None
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    layout: Layout | None = None
    vectorized: bool = False  # f takes a (k, n) batch and returns k costs
    notes: tuple[str, ...] = ()  # what validation changed (a float32 x, say)
    precision: float = EPS  # unit round-off of what f computes in, as far as x and the caller say

    @property
    def n(self) -> int:
        return self.x.size

    def raw_gradient(self, gradient_from_f: Any, point: np.ndarray) -> tuple[Any, bool]:
        """The analytic gradient at ``point`` as given: ``grad``'s, else the one ``f`` returned;
        and whether ``grad`` modified the copy of the point it was handed."""
        if self.grad is not None:
            arg = point.copy()
            raw = self.grad(arg, *self.args, **self.kwargs)
            return raw, not np.array_equal(arg, point, equal_nan=True)
        if gradient_from_f is None:
            raise TypeError(
                "f returned only a cost and no grad= was given: pass grad=your_gradient_function, "
                "or make f return (cost, gradient)."
            )
        return gradient_from_f, False

    def validated(self, raw: Any) -> np.ndarray:
        """A gradient as a float64 vector of length n (see :func:`validate_gradient`)."""
        return validate_gradient(raw, self.n)


def make_problem(
    f: Any,
    x: Any,
    grad: Any = None,
    *,
    args: Any = (),
    kwargs: Any = None,
    blocks: Mapping[str, Any] | Layout | None = None,
    order: Order = "C",
    vectorized: bool = False,
    precision: Any = None,
) -> Problem:
    """Validate the caller's arguments (see :func:`gradcheck.check` for their meaning)."""
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}.")
    if not isinstance(vectorized, (bool, np.bool_)):
        raise TypeError(f"vectorized must be True or False, got {vectorized!r}.")
    if grad is not None and not callable(grad):
        raise TypeError(
            "grad must be callable (or None when f returns (cost, gradient)), got "
            f"{type(grad).__name__}."
        )
    if isinstance(args, (str, bytes)) or not isinstance(args, (tuple, list)):
        raise TypeError(
            f"args must be a tuple of extra arguments for f, got {type(args).__name__}; for a "
            "single argument write args=(value,)."
        )
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise TypeError(f"kwargs must be a mapping name → value, got {type(kwargs).__name__}.")
    point, note, x_eps = validate_x(x)
    declared = None if precision is None else precision_of(precision)
    return Problem(
        f=f,
        x=point,
        grad=grad,
        args=tuple(args),
        kwargs=dict(kwargs or {}),
        layout=make_layout(blocks, order, point.size),
        vectorized=bool(vectorized),
        notes=(note,) if note else (),
        precision=max(x_eps, declared or 0.0),
    )


def validate_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """A ValueError naming ``name`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}.")


def validate_x(x: Any) -> tuple[np.ndarray, str | None, float]:
    """A float64 copy of x, a note when x came in another float dtype, and the unit round-off
    that dtype says f computes in (float64's for float64 in either byte order and for longdouble,
    which f is evaluated at float64 copies of)."""
    arr = np.asarray(x)
    if arr.dtype.kind in "biu":
        raise TypeError(
            f"x must be a float array, got dtype {arr.dtype}: finite differences of an integer "
            "array make no sense. Pass x.astype(float)."
        )
    if arr.dtype.kind not in "f":
        raise TypeError(f"x must be a real float array, got dtype {arr.dtype}.")
    if arr.ndim != 1:
        raise ValueError(
            f"x must be a 1-D array, got shape {arr.shape}. Pass x.ravel() and describe the parts "
            "with blocks={name: shape}."
        )
    if arr.size == 0:
        raise ValueError("x must have at least one entry, got an empty array.")
    note = None
    if arr.dtype.newbyteorder("=") != np.float64:
        note = f"x was {arr.dtype}; f was evaluated at float64 copies."
    copy = arr.astype(np.float64, copy=True)
    if arr.dtype.itemsize > 8 and not np.all(copy[np.isfinite(arr)] == arr[np.isfinite(arr)]):
        note = f"{note} Some entries of x were rounded to float64."
    return copy, note, eps_of(arr.dtype)


def make_layout(blocks: Mapping[str, Any] | Layout | None, order: Order, n: int) -> Layout | None:
    """The layout of blocks (a mapping or a ``Layout``), checked against ``n`` entries."""
    if blocks is None:
        validate_choice("order", order, ("C", "F"))
        return None
    layout = blocks if isinstance(blocks, Layout) else Layout(blocks, order=order)
    if layout.size != n:
        sizes = ", ".join(f"{k}={shape_text(s)}" for k, s in layout.blocks.items())
        raise ValueError(f"blocks add up to {layout.size} entries ({sizes}) but x has {n}.")
    return layout


def validate_gradient(g: Any, n: int) -> np.ndarray:
    """The gradient as a new float64 vector of length n ((n, 1) and (1, n) are flattened): never
    the caller's memory, so that a buffer f reuses for every call cannot change it later."""
    arr = np.asarray(g)
    if arr.dtype == object or arr.dtype.kind not in "fiu" or arr.dtype == np.bool_:
        kind = "complex" if arr.dtype.kind == "c" else "non-numeric"
        raise TypeError(
            f"the gradient must be a real float array, got {type(g).__name__} of dtype "
            f"{arr.dtype} ({kind}). The gradient of a real cost is real: return np.real(g) if "
            "the imaginary part is round-off, or fix the complex arithmetic."
        )
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()  # MATLAB ports give (n, 1) or (1, n)
    if arr.shape != (n,):
        raise ValueError(
            f"the gradient must have shape ({n},) like x (or ({n}, 1) / (1, {n})), got shape "
            f"{np.shape(g)}. If it is a matrix, unroll it the same way as x."
        )
    return arr.astype(np.float64, copy=True)
