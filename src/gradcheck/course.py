"""The course's ``checkNNGradients``, done right, for anyone's port of ``nnCostFunction``.

:func:`check_course` builds the course's debug problem — a 3-5-3 network, m = 5 examples,
weights from ``debugInitializeWeights``, labels ``y = 1 + mod(1:m, 3)`` — binds it to the
learner's function **by parameter name** (``nn_params``, ``input_layer_size``,
``hidden_layer_size``, ``num_labels``, ``X``, ``y``, ``lambda``/``lambda_``/``lmbda``/``reg``, any
case), or in the course's order when the names are the learner's own, and checks the gradient at
λ = 0 and at λ (the course's 3). Because λ and m are known here, a regularisation mismatch is
explained in units of λ/m ("your cost counts Theta2's bias column twice…").

Examples
--------
>>> from gradcheck import course, ex4
>>> result = course.check_course(ex4.nn_cost_function)
>>> result.ok, [round(r.relative_difference, 8) for r in result.reports]
(True, [0.0, 0.0])
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from .ex4 import DEBUG_M, DEBUG_SIZES, debug_problem
from .layout import Layout, Order
from .pipeline import Extension, make_settings, run
from .problem import make_problem
from .report import Diagnosis, Report

SIZES, M = DEBUG_SIZES, DEBUG_M
COURSE_ORDER = (
    "nn_params",
    "input_layer_size",
    "hidden_layer_size",
    "num_labels",
    "X",
    "y",
    "lambda",
)
ALIASES = {
    "nn_params": ("nn_params", "nnparams", "params", "theta", "thetas"),
    "input_layer_size": ("input_layer_size", "input_size", "n_input", "num_inputs"),
    "hidden_layer_size": ("hidden_layer_size", "hidden_size", "n_hidden", "num_hidden"),
    "num_labels": ("num_labels", "n_labels", "num_classes", "n_classes", "k"),
    "X": ("x", "data", "features"),
    "y": ("y", "labels", "targets"),
    "lambda": ("lambda", "lambda_", "lmbda", "lam", "reg", "reg_lambda"),
}


@dataclass(frozen=True)
class Binding:
    """How the course's arguments map to the function's parameters."""

    names: dict[str, str]  # course argument → the function's parameter
    by_name: bool  # False: bound in the course's positional order

    def describe(self) -> str:
        how = "by name" if self.by_name else "in the course's order"
        pairs = ", ".join(f"{mine}={course}" for course, mine in self.names.items())
        return f"{how}: {pairs}"


def bind(fn: Callable[..., Any]) -> Binding:
    """Match the course's seven arguments to ``fn``'s parameters, by name or by position.

    Raises
    ------
    TypeError
        ``fn`` does not take seven arguments that can be matched, with what was found.
    """
    try:
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
    except (TypeError, ValueError):
        raise TypeError(f"cannot read the parameters of {fn!r}.") from None
    lookup = {p.name.lower(): p.name for p in params}
    names = {}
    for course, aliases in ALIASES.items():
        found = [lookup[a] for a in aliases if a in lookup]
        if found:
            names[course] = found[0]
    if len(names) == len(COURSE_ORDER):
        return Binding(names, True)
    positional = [p for p in params if p.kind != p.KEYWORD_ONLY]
    required = [p for p in params if p.default is p.empty]
    if len(positional) >= len(COURSE_ORDER) and len(required) <= len(COURSE_ORDER):
        return Binding(dict(zip(COURSE_ORDER, (p.name for p in positional), strict=False)), False)
    missing = [c for c in COURSE_ORDER if c not in names]
    raise TypeError(
        f"{getattr(fn, '__name__', fn)}({', '.join(p.name for p in params)}) does not look like "
        f"the course's nnCostFunction: no parameter for {missing} (expected names such as "
        f"{', '.join(COURSE_ORDER)}, or seven parameters in that order)."
    )


class Bound:
    """The learner's function as ``f(nn_params)``, the other course arguments bound (picklable)."""

    def __init__(self, fn: Callable[..., Any], binding: Binding, arguments: dict[str, Any]):
        self.fn, self.binding, self.arguments = fn, binding, arguments

    def __call__(self, nn_params: np.ndarray) -> Any:
        values = {**self.arguments, "nn_params": nn_params}
        if self.binding.by_name:
            return self.fn(**{self.binding.names[c]: v for c, v in values.items()})
        return self.fn(*(values[c] for c in COURSE_ORDER))


@dataclass(frozen=True)
class CourseCheck:
    """``check_course``'s result: a gradcheck report and Ng's number at each λ."""

    lambdas: tuple[float, ...]
    reports: tuple[Report, ...]
    binding: Binding
    order: str

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)

    def __str__(self) -> str:
        intro = (
            f"The course's arguments were passed {self.binding.describe()}; nn_params unrolled "
            f"in {self.order} order."
        )
        lines = [intro]
        for lam, report in zip(self.lambdas, self.reports, strict=True):
            course = f"{report.relative_difference:g}"
            verdict = "PASS" if report.ok else "FAIL"
            title = (
                f"── λ = {lam:g} ── the course's check: Relative Difference {course} (passes "
                f"below 1e-9); gradcheck: {verdict}"
            )
            lines += ["", title, str(report)]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "order": self.order,
            "binding": dict(self.binding.names),
            "checks": [
                {"lambda": lam, "relative_difference": r.relative_difference, "report": r.to_dict()}
                for lam, r in zip(self.lambdas, self.reports, strict=True)
            ],
        }


def check_course(
    cost_function: Callable[..., Any], lambda_: float = 3.0, *, order: Order = "F"
) -> CourseCheck:
    """Check ``cost_function`` (a port of ``nnCostFunction``) on the course's debug problem.

    Parameters
    ----------
    cost_function : callable
        Returns ``(J, grad)`` for the course's seven arguments, matched by name or position.
    lambda_ : float, default 3
        The regularisation strength of the second check (the first is at λ = 0).
    order : {'F', 'C'}, default 'F'
        How ``cost_function`` unrolls ``nn_params``: 'F' is the course's ``[Theta1(:);
        Theta2(:)]``, 'C' NumPy's ``ravel()``.

    Returns
    -------
    CourseCheck
        ``ok``, and a report per λ whose regularisation diagnoses speak in units of λ/m.
    """
    binding = bind(cost_function)
    params, X, y, layout = debug_problem(order)
    reports = []
    lambdas = (0.0, float(lambda_)) if lambda_ else (0.0,)
    settings = make_settings(method="central", step=1e-4, mode="full")
    for lam in lambdas:
        f = Bound(cost_function, binding, {**SIZES, "X": X, "y": y, "lambda": lam})
        problem = make_problem(f, params, blocks=layout)
        words = Extension(reword=partial(explain_kappa, layout=layout, lam=lam, m=M))
        reports.append(run(problem, settings, words))
    return CourseCheck(lambdas, tuple(reports), binding, order)


def explain_kappa(d: Diagnosis, *, layout: Layout, lam: float, m: int) -> Diagnosis:
    """A ``regularization`` diagnosis with κ stated in units of λ/m, and what that means."""
    if not lam or d.kind != "regularization" or d.factor is None or d.indices is None:
        return d
    units = d.factor / (lam / m)
    bias = _bias_column(layout, d.indices)
    what = f"these entries of {d.block or 'the weights'}"
    if bias is not None:
        block, order = bias
        what = f"{block}'s bias column" + ("" if order == layout.order else f" (in {order} order)")
    meaning = {
        2: f"your cost counts {what} twice in the L2 term (once in the full sum, once more in the "
        "bias correction: a sign slip such as − (ΣΘ1[:,0]² − ΣΘ2[:,0]²) for "
        "− (ΣΘ1[:,0]² + ΣΘ2[:,0]²)) while your gradient leaves it out",
        1: f"your cost regularises {what} (λ/(2m)·Σθ² includes it) while your gradient does not"
        + (": the course leaves the bias column out of both" if bias else ""),
        -1: f"your gradient regularises {what} (adds λ/m·θ) while your cost does not"
        + (": the course leaves the bias column out of both" if bias else ""),
    }
    near = min(meaning, key=lambda k: abs(units - k))
    said = (
        meaning[near]
        if abs(units - near) < 1e-3 * abs(near)
        else f"cost and gradient disagree by {units:.4g}·λ/m·θ on {what}"
    )
    return Diagnosis(
        d.kind,
        f"{d.message} With λ = {lam:g} and m = {m}, κ = {units:.4g}·λ/m: {said}.",
        block=d.block,
        indices=d.indices,
        factor=d.factor,
        headline=f"{what}: κ = {units:.4g}·λ/m",
    )


def _bias_column(layout: Layout, idx: np.ndarray) -> tuple[str, str] | None:
    """(block, order) when ``idx`` is exactly a block's column 0, read in either order."""
    for view in (layout, layout.flipped()):
        for name, shape in view.blocks.items():
            if len(shape) == 2 and np.array_equal(np.sort(idx), np.sort(view.column(name, 0))):
                return name, view.order
    return None
