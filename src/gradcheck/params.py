"""Parameters as a dict: ``check(f, params)`` with ``f(params) → (loss, grads)``.

The convention of CS231n (``net.params``, ``grads`` with the same keys) and of deeplearning.ai
(``parameters`` with ``W1``, ``b1``…, gradients ``dW1``, ``db1``…). The dict becomes named
blocks of one flat vector (its keys, in order; a key that is not a string is shown by its parts,
``('W', 0)`` as ``W/0``), f is handed a dict of arrays shaped like the caller's, and the
gradient it returns (or ``grad`` returns) is matched by key: the same key, or ``d`` + key. Keys
of the gradient that match no parameter (``dZ3``, ``dA1``: a cache of intermediate gradients)
are left out with a note; a parameter without a gradient is an error naming it; a gradient of
``(1, D)`` for a parameter of ``(D,)`` (or the reverse) is the same numbers, reshaped with a note.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

import numpy as np

from .layout import Layout, Order


def block_name(key: Hashable) -> str:
    """A key as a block name: a string as it is, a tuple by its parts (``W/0``)."""
    if isinstance(key, str):
        return key
    if isinstance(key, tuple):
        return "/".join(str(k) for k in key)
    return str(key)


class DictProblem:
    """f, grad and a point given as dicts, as functions of one flat vector."""

    def __init__(
        self,
        f: Callable[..., Any],
        params: Mapping[Hashable, Any],
        grad: Callable[..., Any] | None,
        order: Order,
    ) -> None:
        if not params:
            raise ValueError("x must not be an empty dict: it holds the parameters to check.")
        self.keys = list(params)
        arrays = [np.asarray(params[k]) for k in self.keys]
        for key, a in zip(self.keys, arrays, strict=True):
            if a.dtype.kind not in "fiu":
                raise TypeError(
                    f"x[{key!r}] must be an array of numbers, got {type(params[key]).__name__} "
                    f"of {a.dtype}."
                )
        self.dtypes = [a.dtype if a.dtype.kind == "f" else np.dtype(float) for a in arrays]
        names = [block_name(k) for k in self.keys]
        if len(set(names)) != len(names):
            raise ValueError(f"x's keys must stay distinct as block names, got {names}.")
        self.layout = Layout(dict(zip(names, (a.shape for a in arrays), strict=True)), order=order)
        self.x = self.layout.pack({n: a.astype(float) for n, a in zip(names, arrays, strict=True)})
        self.f, self.grad = f, grad
        self.notes: list[str] = []

    def unpack(self, z: np.ndarray) -> dict[Hashable, np.ndarray]:
        blocks = self.layout.unpack(z)
        return {
            k: np.array(blocks[block_name(k)], dtype=t)
            for k, t in zip(self.keys, self.dtypes, strict=True)
        }

    def cost(self, z: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        out = self.f(self.unpack(z), *args, **kwargs)
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], Mapping):
            return out[0], self.flat_gradient(out[1])
        return out

    def gradient(self, z: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        assert self.grad is not None
        return self.flat_gradient(self.grad(self.unpack(z), *args, **kwargs))

    def flat_gradient(self, grads: Any) -> np.ndarray:
        """The gradient dict as one vector in x's layout (see the module notes)."""
        if not isinstance(grads, Mapping):
            raise TypeError(
                f"with x a dict, the gradient must be a dict too (same keys, or 'd' + key), "
                f"got {type(grads).__name__}."
            )
        blocks = {}
        used = set()
        for key in self.keys:
            name = block_name(key)
            match = next(
                (k for k in (key, f"d{key}" if isinstance(key, str) else None) if k in grads),
                None,
            )
            if match is None:
                raise ValueError(
                    f"the gradient has no entry for the parameter {key!r} (looked for {key!r}"
                    f"{' and ' + repr('d' + key) if isinstance(key, str) else ''}); it has "
                    f"{sorted(map(str, grads))}."
                )
            used.add(match)
            blocks[name] = self._shaped(key, np.asarray(grads[match], dtype=float))
        extra = [k for k in grads if k not in used]
        note = f"the gradient's keys {sorted(map(str, extra))} match no parameter: left out."
        if extra and note not in self.notes:
            self.notes.append(note)
        return self.layout.pack(blocks)

    def _shaped(self, key: Hashable, g: np.ndarray) -> np.ndarray:
        shape = self.layout.blocks[block_name(key)]
        if g.shape != shape:
            note = f"the gradient of {key!r} has shape {g.shape}, the parameter {shape}: reshaped."
            g = reshaped(g, shape, f"the gradient of {key!r}", "the parameter")
            if note not in self.notes:
                self.notes.append(note)
        return g


def reshaped(g: np.ndarray, shape: tuple[int, ...], what: str, of: str) -> np.ndarray:
    """``g`` in ``shape`` when it holds the same numbers up to dimensions of size 1 ((1, D) for
    (D,)); else a ValueError saying ``what`` must have the shape ``of`` has."""
    if g.shape == shape:
        return g
    squeeze = lambda s: tuple(d for d in s if d != 1)
    if g.size == int(np.prod(shape)) and squeeze(g.shape) == squeeze(shape):
        return g.reshape(shape)
    raise ValueError(f"{what} must have the shape of {of}, {shape}, got {g.shape}.")


def check_model(net: Any, *args: Any, **options: Any) -> Any:
    """Check a model that keeps its parameters in ``net.params`` (a dict) and returns
    ``(loss, grads)`` from ``net.loss(*args)`` — CS231n's ``TwoLayerNet`` and
    ``FullyConnectedNet``. The parameters are put back as they were afterwards.

    ``options`` are those of :func:`gradcheck.check`."""
    from .pipeline import check

    params = getattr(net, "params", None)
    if not isinstance(params, dict) or not callable(getattr(net, "loss", None)):
        raise TypeError(
            "check_model needs a model with a dict net.params and a method net.loss(*args) "
            f"returning (loss, grads), got {type(net).__name__}."
        )
    saved = {k: np.array(v, copy=True) for k, v in params.items()}

    def f(p: Mapping[Hashable, np.ndarray]) -> Any:
        for k, v in p.items():
            net.params[k] = v
        return net.loss(*args)

    try:
        return check(f, saved, **options)
    finally:
        net.params.update({k: v.copy() for k, v in saved.items()})
