"""``check_layer``: a layer's backward pass, in the convention of Stanford's CS231n.

A layer is a pair ``out, cache = forward(x, w, b, …)`` and ``dx, dw, db = backward(dout,
cache)``. The check builds the scalar ``L = Σ_k ⟨w_k, out_k⟩`` with seeded Gaussian cotangents
``w_k`` (one per output of forward), whose gradient with respect to the floating inputs is what
backward returns when handed ``dout = w_k``; it is checked by :func:`gradcheck.check` on the
inputs laid out as named blocks (``w[2, 0, 1, 1]``).

What is held fixed: inputs that are not floating arrays — integer arrays (word indices, labels),
dicts (``conv_param``, ``bn_param``), numbers, strings — and keyword arguments. A forward that
returns several outputs before its cache (``next_h, next_c, cache``) gets one cotangent per
output, and backward is called as ``backward(dnext_h, dnext_c, cache)``. Backward gets fresh
copies of the cotangents on every call; one that writes into them is named (a warning: its
gradient is still judged). ``configs=`` checks again with some inputs replaced (a stride of 2, an
overlapping pool): bugs that only show there are common.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from .layout import Layout
from .params import reshaped
from .pipeline import Extension, Findings, at_points, make_settings, run
from .problem import make_problem
from .report import Diagnosis, Report


def _floating(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


class Spec(NamedTuple):
    """A layer to check: its two functions, forward's parameter names, the inputs (some held
    fixed), forward's keyword arguments, and the seed of the cotangents."""

    forward: Callable[..., Any]
    backward: Callable[..., Any]
    names: list[str]
    inputs: list[Any]
    fixed: Mapping[str, Any]
    seed: int


class _Layer:
    """forward and backward as a scalar function of the floating inputs, flattened."""

    def __init__(self, spec: Spec) -> None:
        forward, backward, names, inputs, fixed, seed = spec
        self.forward, self.backward, self.fixed = forward, backward, dict(fixed)
        self.names, self.inputs = names, inputs
        self.moving = [k for k, v in enumerate(inputs) if _floating(v)]
        if not self.moving:
            raise TypeError(
                "check_layer needs at least one floating-point array among the inputs, got "
                f"{[type(v).__name__ for v in inputs]}."
            )
        self.layout = Layout({names[k]: inputs[k].shape for k in self.moving})
        outputs = self._outputs(forward(*inputs, **self.fixed))[0]
        rng = np.random.default_rng(seed)
        self.weights = [rng.standard_normal(np.shape(o)) for o in outputs]
        self.wrote_dout = False

    @staticmethod
    def _outputs(result: Any) -> tuple[list[np.ndarray], Any]:
        """forward's outputs and its cache: ``out, cache`` (the course's convention), several
        outputs then the cache, or an output alone (no cache)."""
        if (
            isinstance(result, tuple)
            and len(result) >= 2
            and not isinstance(result[-1], np.ndarray)
        ):
            return [np.asarray(o, dtype=float) for o in result[:-1]], result[-1]
        if isinstance(result, tuple) and len(result) == 2:
            return [np.asarray(result[0], dtype=float)], result[1]
        return [np.asarray(result, dtype=float)], None

    def _call(self, z: np.ndarray) -> tuple[list[np.ndarray], Any]:
        values = list(self.inputs)
        for name, block in self.layout.unpack(z).items():
            k = self.names.index(name)
            values[k] = block.astype(self.inputs[k].dtype, copy=False)
        return self._outputs(self.forward(*values, **self.fixed))

    def cost(self, z: np.ndarray) -> float:
        outputs, _ = self._call(z)
        if [o.shape for o in outputs] != [w.shape for w in self.weights]:
            raise ValueError(
                "forward's outputs changed shape between calls: "
                f"{[w.shape for w in self.weights]} then {[o.shape for o in outputs]}."
            )
        return float(sum(np.sum(w * o) for w, o in zip(self.weights, outputs, strict=True)))

    def gradient(self, z: np.ndarray) -> np.ndarray:
        _, cache = self._call(z)
        douts = [w.copy() for w in self.weights]  # fresh: a backward may write into them
        grads = self.backward(*douts, cache)
        if not all(np.array_equal(d, w) for d, w in zip(douts, self.weights, strict=True)):
            self.wrote_dout = True
        grads = list(grads) if isinstance(grads, (tuple, list)) else [grads]
        floating = [self.names[k] for k in self.moving]
        if len(grads) < len(self.moving):
            raise ValueError(
                f"backward returned {len(grads)} gradient(s), expected one per floating input "
                f"of forward: {', '.join('d' + n for n in floating)}."
            )
        # backward returns one gradient per input of forward, in order; fixed ones are skipped.
        per_input = grads[: len(self.inputs)] if len(grads) >= len(self.inputs) else None
        chosen = (
            [per_input[k] for k in self.moving] if per_input is not None else grads[: len(floating)]
        )
        return self.layout.pack(
            {
                name: _shaped(name, g, self.layout.blocks[name])
                for name, g in zip(floating, chosen, strict=True)
            }
        )


def _shaped(name: str, g: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A gradient in its input's shape: (1, D) for (D,) is the same numbers (see
    :func:`gradcheck.params.reshaped`)."""
    return reshaped(np.asarray(g, dtype=float), shape, f"the gradient d{name}", name)


def check_layer(
    forward: Callable[..., Any],
    backward: Callable[..., Any],
    *inputs: Any,
    configs: Sequence[Mapping[str, Any]] | None = None,
    seed: int = 0,
    points: Any = 3,
    **fixed: Any,
) -> Report:
    """Check a layer's ``backward`` against finite differences of its ``forward``.

    Parameters
    ----------
    forward : callable
        ``forward(*inputs, **fixed)`` returning ``(out, cache)``, several outputs then the cache
        (``next_h, next_c, cache``), or an output alone.
    backward : callable
        ``backward(dout, cache)`` (``backward(dout1, dout2, cache)`` for several outputs)
        returning the gradients of forward's floating inputs, in order: one per input of
        forward (``dx, dw, db``), or one per floating input.
    *inputs
        forward's positional inputs. Floating arrays are checked; the rest (integer arrays, a
        ``conv_param`` dict, numbers) are held fixed. Blocks are named after forward's
        parameters: ``w[2, 0, 1, 1]``.
    configs : sequence of dicts, optional
        Check again with inputs replaced by name, e.g. ``[{"conv_param": {"stride": 2,
        "pad": 1}}]``. The first failing configuration's report is returned (a note names it);
        if all pass, the last one's, with a note.
    seed : int
        Seeds the cotangents (and the check).
    points : int or list, default 3
        The inputs given and seeded perturbations of them (``points=`` of
        :func:`gradcheck.check`): a layer checked at one point can hide a bug that its inputs
        make invisible (equal entries, a symmetric weight).
    **fixed
        Keyword arguments of forward, held fixed; options of :func:`gradcheck.check`
        (``rtol``, ``mode``, ``method``…) are taken from them by name.

    Examples
    --------
    >>> def affine_forward(x, w, b):
    ...     return x.reshape(x.shape[0], -1) @ w + b, (x, w)
    >>> def affine_backward(dout, cache):
    ...     x, w = cache
    ...     return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(0)
    >>> rng = np.random.default_rng(0)
    >>> x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((12, 5)), rng.standard_normal(5)
    >>> check_layer(affine_forward, affine_backward, x, w, b).ok
    True
    """
    options = {k: fixed.pop(k) for k in list(fixed) if k in _OPTIONS}
    options["points"] = points
    names = _parameter_names(forward, len(inputs))
    report = _check_one(Spec(forward, backward, names, list(inputs), fixed, seed), options, None)
    for config in configs or ():
        if not report.ok:
            break
        values = list(inputs)
        more = dict(fixed)
        for name, value in config.items():
            if name in names[: len(inputs)]:
                values[names.index(name)] = value
            else:
                more[name] = value
        report = _check_one(Spec(forward, backward, names, values, more, seed), options, config)
    if configs and report.ok:
        report.notes.append(
            f"passed at every configuration: the inputs given, then {list(configs)}."
        )
    return report


_OPTIONS = {"rtol", "atol", "mode", "method", "step", "budget", "nondet_tol", "progress"}


def _parameter_names(forward: Callable[..., Any], count: int) -> list[str]:
    """forward's positional parameter names (``x, w, b``), or ``input0, input1…``."""
    try:
        params = [
            p.name
            for p in inspect.signature(forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    if len(params) < count:
        params += [f"input{k}" for k in range(len(params), count)]
    return params[:count]


def _check_one(spec: Spec, options: Mapping[str, Any], config: Mapping[str, Any] | None) -> Report:
    layer = _Layer(spec)
    z = layer.layout.pack({layer.names[k]: spec.inputs[k] for k in layer.moving})
    problem = make_problem(layer.cost, z, layer.gradient, blocks=layer.layout)
    settings = make_settings(seed=spec.seed, **{k: v for k, v in options.items() if k != "points"})
    notes = (
        () if config is None else (f"checked with {dict(config)} in place of the inputs given.",)
    )

    def explain(found: Findings) -> tuple[list[Diagnosis], list[str]]:
        if not layer.wrote_dout:
            return [], []
        return [
            Diagnosis(
                "mutates_input",
                "your backward modified its dout argument (dout += …, or dout[…] = …): "
                "gradcheck hands it a fresh copy on every call, so its gradient was still "
                "judged; code that uses dout after the call is not safe: write into a new "
                "array instead.",
                severity="warning",
                headline="the backward modified its dout argument",
            )
        ], []

    extension = Extension(notes=notes, explain=explain)
    where = options.get("points")
    if where is None or where == 1:
        return run(problem, settings, extension)
    return at_points(problem, settings, extension, where, None)
