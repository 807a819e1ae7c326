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
from collections.abc import Callable, Mapping
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
    "nn_params": ("nn_params", "nnparams", "params", "theta", "thetas", "weights"),
    "input_layer_size": ("input_layer_size", "input_size", "n_input", "num_inputs"),
    "hidden_layer_size": ("hidden_layer_size", "hidden_size", "n_hidden", "num_hidden"),
    "num_labels": ("num_labels", "n_labels", "num_classes", "n_classes", "k"),
    "X": ("x", "data", "features"),
    "y": ("y", "labels", "targets"),
    "lambda": ("lambda", "lambda_", "lmbda", "lam", "reg", "reg_lambda"),
}
# The weights as two arguments instead of nn_params (returning J, Theta1_grad, Theta2_grad).
SPLIT = {"Theta1": ("theta1", "t1", "w1", "weights1"), "Theta2": ("theta2", "t2", "w2", "weights2")}
# How the labels may be given, in the order tried when the function raises on the course's.
LABELS = ("1..K", "0..K-1", "column", "column 0..K-1", "onehot")


def labels_as(y: np.ndarray, convention: str, k: int) -> np.ndarray:
    """The course's labels y (1..K, a vector) in another convention."""
    if convention == "1..K":
        return y
    if convention == "0..K-1":
        return y - 1
    if convention == "column":
        return y[:, None]
    if convention == "column 0..K-1":
        return (y - 1)[:, None]
    if convention == "onehot":
        return np.eye(k)[y - 1]
    raise ValueError(f"labels must be 'auto' or one of {list(LABELS)}, got {convention!r}.")


@dataclass(frozen=True)
class Binding:
    """How the course's arguments map to the function's parameters."""

    names: dict[str, str]  # course argument → the function's parameter
    by_name: bool  # False: bound in the course's positional order
    guessed: str | None = None  # the one course argument bound to the one parameter left

    @property
    def split(self) -> bool:
        """The weights as two arguments (Theta1, Theta2) instead of nn_params."""
        return "Theta1" in self.names

    def describe(self) -> str:
        how = "by name" if self.by_name else "in the course's order"
        pairs = ", ".join(f"{mine}={course}" for course, mine in self.names.items())
        guess = (
            f" ({self.names[self.guessed]} is the one parameter left, taken as {self.guessed})"
            if self.guessed
            else ""
        )
        return f"{how}: {pairs}{guess}"


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
    wanted = dict(ALIASES)
    if "nn_params" not in {c for c, a in ALIASES.items() if any(x in lookup for x in a)} and all(
        any(a in lookup for a in aliases) for aliases in SPLIT.values()
    ):
        del wanted["nn_params"]
        wanted = {**SPLIT, **wanted}  # Theta1, Theta2 in place of nn_params
    names = {}
    for course, aliases in wanted.items():
        found = [lookup[a] for a in aliases if a in lookup]
        if found:
            names[course] = found[0]
    required = [p for p in params if p.default is p.empty]
    left = [p.name for p in required if p.name not in names.values()]
    missing = [c for c in wanted if c not in names]
    if len(missing) == 1 and len(left) == 1:  # said, never silent (Binding.describe)
        names[missing[0]] = left[0]
        return Binding({c: names[c] for c in wanted}, True, guessed=missing[0])
    if not missing:
        return Binding(names, True)
    positional = [p for p in params if p.kind != p.KEYWORD_ONLY]
    signature = f"{getattr(fn, '__name__', fn)}({', '.join(p.name for p in params)})"
    if len(names) >= 4:  # most names match: a positional guess would be silently wrong
        raise TypeError(
            f"{signature}: the course's arguments bound by name so far: "
            f"{', '.join(f'{m}={c}' for c, m in names.items())}; no parameter for {missing}. "
            "Rename it (e.g. lambda_), or build the debug problem yourself: "
            "gradcheck.ex4.debug_problem()."
        )
    if len(positional) >= len(COURSE_ORDER) and len(required) <= len(COURSE_ORDER):
        return Binding(dict(zip(COURSE_ORDER, (p.name for p in positional), strict=False)), False)
    raise TypeError(
        f"{signature} does not look like the course's nnCostFunction: no parameter for "
        f"{missing} (expected names such as {', '.join(COURSE_ORDER)}, or seven parameters in "
        "that order). Build the debug problem yourself with gradcheck.ex4.debug_problem() and "
        "call gradcheck.check."
    )


class Bound:
    """The learner's function as ``f(nn_params)``, the other course arguments bound (picklable).

    With the weights as two arguments, ``nn_params`` is cut into Theta1 and Theta2 (``layout``),
    and gradients returned as two values (``J, Theta1_grad, Theta2_grad``, or ``J, (g1, g2)``)
    are unrolled the same way."""

    def __init__(
        self,
        fn: Callable[..., Any],
        binding: Binding,
        arguments: dict[str, Any],
        layout: Layout | None = None,
    ):
        self.fn, self.binding, self.arguments, self.layout = fn, binding, arguments, layout

    def __call__(self, nn_params: np.ndarray) -> Any:
        values = {**self.arguments, "nn_params": nn_params}
        if self.binding.split and self.layout is not None:
            values.update(self.layout.unpack(values.pop("nn_params")))
        if self.binding.by_name:
            out = self.fn(**{self.binding.names[c]: v for c, v in values.items()})
        else:
            out = self.fn(*(values[c] for c in COURSE_ORDER))
        return self._unrolled(out)

    def _unrolled(self, out: Any) -> Any:
        if self.layout is None or not isinstance(out, tuple):
            return out
        parts = out[1] if len(out) == 2 and isinstance(out[1], (tuple, list)) else out[1:]
        if len(parts) == 2 and all(np.ndim(p) == 2 for p in parts):  # Theta1_grad, Theta2_grad
            return out[0], self.layout.pack(dict(zip(self.layout.names, parts, strict=True)))
        return out


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
            by_rule = "passes" if report.relative_difference < 1e-9 else "fails"
            verdict = "PASS" if report.ok else "FAIL"
            title = (
                f"── λ = {lam:g} ── the course's check: Relative Difference {course}, which "
                f"{by_rule} the course's rule (< 1e-9); gradcheck: {verdict}"
            )
            lines += ["", title, str(report) if not report.ok else report.summary()]
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
    cost_function: Callable[..., Any],
    lambda_: float = 3.0,
    *,
    grad: Callable[..., Any] | None = None,
    order: Order = "F",
    labels: str = "auto",
) -> CourseCheck:
    """Check ``cost_function`` (a port of ``nnCostFunction``) on the course's debug problem.

    Parameters
    ----------
    cost_function : callable
        Returns ``(J, grad)`` for the course's seven arguments, matched by name or position; or
        the weights as two arguments (``Theta1, Theta2`` in place of ``nn_params``) returning
        ``J, Theta1_grad, Theta2_grad``. With ``grad=``, it returns J alone.
    lambda_ : float, default 3
        The regularisation strength of the second check (the first is at λ = 0).
    grad : callable, optional
        The gradient as a function of its own (``fmin_cg`` style: ``costFunction`` and
        ``gradFunction``), bound the same way.
    order : {'F', 'C'}, default 'F'
        How ``cost_function`` unrolls ``nn_params``: 'F' is the course's ``[Theta1(:);
        Theta2(:)]``, 'C' NumPy's ``ravel()``.
    labels : str, default 'auto'
        How the function takes y: '1..K' (the course's), '0..K-1', 'column' (m × 1),
        'column 0..K-1' or 'onehot' (m × K). 'auto' passes the course's and, if the function
        raises, the others in that order; the one used is said in the result.

    Returns
    -------
    CourseCheck
        ``ok``, and a report per λ whose regularisation diagnoses speak in units of λ/m.
    """
    binding = bind(cost_function)
    grad_binding = bind(grad) if grad is not None else None
    params, X, y, layout = debug_problem(order)
    k = SIZES["num_labels"]
    convention = _labels(cost_function, binding, layout, params, X, y, labels)
    y_given = labels_as(y, convention, k)
    reports: list[Report] = []
    lambdas = (0.0, float(lambda_)) if lambda_ else (0.0,)
    settings = make_settings(method="central", step=1e-4, mode="full")
    for lam in lambdas:
        arguments = {**SIZES, "X": X, "y": y_given, "lambda": lam}
        f = Bound(cost_function, binding, arguments, layout)
        g = None
        if grad is not None and grad_binding is not None:
            g = _GradientOf(Bound(grad, grad_binding, arguments, layout), layout)
        problem = make_problem(f, params, g, blocks=layout)
        only_here = bool(lam) and bool(reports) and reports[0].ok
        reword = partial(_course_words, layout=layout, lam=lam, m=M, only_with_lambda=only_here)
        notes = (
            (f"labels passed as {convention} (the course's are 1..K).",)
            if convention != "1..K"
            else ()
        )
        reports.append(run(problem, settings, Extension(notes=notes, reword=reword)))
    return CourseCheck(lambdas, tuple(reports), binding, order)


class _GradientOf:
    """A separate gradient function's result as one vector (two blocks packed when it returns
    ``(Theta1_grad, Theta2_grad)``)."""

    def __init__(self, g: Bound, layout: Layout) -> None:
        self.g, self.layout = g, layout

    def __call__(self, p: np.ndarray) -> Any:
        out = self.g(p)
        if isinstance(out, (tuple, list)) and len(out) == 2 and all(np.ndim(q) == 2 for q in out):
            return self.layout.pack(dict(zip(self.layout.names, out, strict=True)))
        return out


def _labels(
    fn: Callable[..., Any],
    binding: Binding,
    layout: Layout,
    params: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    labels: str,
) -> str:
    """The label convention to pass: the one asked for, or with 'auto' the first the function
    accepts without raising (the course's first)."""
    if labels != "auto":
        labels_as(y, labels, SIZES["num_labels"])  # validates the name
        return labels
    first: Exception | None = None
    for convention in LABELS:
        arguments = {
            **SIZES,
            "X": X,
            "y": labels_as(y, convention, SIZES["num_labels"]),
            "lambda": 0.0,
        }
        try:
            Bound(fn, binding, arguments, layout)(params.copy())
        except Exception as exc:  # noqa: BLE001 (the learner's code may raise anything)
            first = first or exc
            continue
        return convention
    assert first is not None
    first.add_note(
        f"gradcheck: the course's arguments were passed {binding.describe()}; the labels were "
        f"tried as {', '.join(LABELS)} and your function raised each time."
    )
    raise first


def _course_words(
    d: Diagnosis, *, layout: Layout, lam: float, m: int, only_with_lambda: bool
) -> Diagnosis:
    """κ in units of λ/m; and, for an error that shows at λ > 0 only, where it must be."""
    d = explain_kappa(d, layout=layout, lam=lam, m=m)
    if not only_with_lambda or d.severity != "fail" or d.kind == "regularization":
        return d
    return Diagnosis(
        d.kind,
        f"{d.message} This error shows only with λ = {lam:g} (λ = 0 passes): it is in the "
        "regularisation part of your gradient, λ/m·Θ on these entries (the bias column "
        "excluded, as in the cost).",
        block=d.block,
        indices=d.indices,
        factor=d.factor,
        headline=f"{d.headline or d.kind}: only with λ > 0 — the regularisation part of the gradient",
    )


def kappa_in_lambda_over_m(
    f: Callable[..., Any], args: tuple, kwargs: Mapping[str, Any], layout: Layout | None
) -> Callable[[Diagnosis], Diagnosis] | None:
    """For plain :func:`gradcheck.check`: when f's parameters after x include the course's λ
    (``lambda_``, ``lmbda``, ``reg``…) and X, bound from ``args``/``kwargs``, a rewording that
    states a regularisation κ in units of λ/m (m = X's rows), as ``course`` does; else None."""
    if layout is None:
        return None
    try:
        signature = inspect.signature(f)
        params = list(signature.parameters)
        bound = signature.bind_partial(None, *args, **kwargs).arguments
    except (TypeError, ValueError):
        return None
    by_alias = {p.lower(): p for p in params}
    lam_name = next((by_alias[a] for a in ALIASES["lambda"] if a in by_alias), None)
    x_name = next((by_alias[a] for a in ALIASES["X"] if a in by_alias), None)
    if lam_name is None or x_name is None or lam_name not in bound or x_name not in bound:
        return None
    try:
        lam, m = float(bound[lam_name]), int(np.shape(bound[x_name])[0])
    except (TypeError, ValueError, IndexError):
        return None
    return partial(explain_kappa, layout=layout, lam=lam, m=m) if lam and m else None


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
        -1: (
            f"your gradient regularises {what} (adds λ/m·θ) while your cost does not: the "
            "course leaves the bias column out of both"
            if bias
            else f"your gradient adds λ/m·θ more on {what} than your cost's L2 term accounts "
            "for: it regularises them twice (2·λ/m·θ), or your cost leaves them out"
        ),
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
