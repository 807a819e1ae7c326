"""Figures of a gradient check (matplotlib, the ``plot`` extra, imported lazily).

- ``heatmap``: per block, log10 of the relative error, mismatched entries outlined;
- ``scatter``: analytic / numeric against |numeric|, so that a factor (2, −1, 1/m) stands out;
- ``steps``: the error of the central difference against the step, for the worst entries and a
  well-behaved one, with the slopes of truncation (h²) and round-off (1/h) and the step used.

Examples
--------
>>> import numpy as np, gradcheck
>>> report = gradcheck.check(lambda x: (float(x @ x), 2 * x), np.arange(1.0, 7.0), blocks={"A": (2, 3)})
>>> fig = report.plot("heatmap")
>>> [ax.get_title() for ax in fig.axes if ax.get_title()]
['A (2×3)']
"""

from __future__ import annotations

import base64
import io
import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .layout import Order, shape_text

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from .report import Report

KINDS = ("heatmap", "scatter", "steps")


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('plots need matplotlib: pip install "gradcheck[plot]"') from None
    return Figure


def plot(report: Report, kind: str = "heatmap", **kwargs: Any) -> Figure:
    """A figure of ``report``; ``kind`` is one of ``'heatmap'``, ``'scatter'``, ``'steps'``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")
    return {"heatmap": heatmap, "scatter": scatter, "steps": steps}[kind](report, **kwargs)


def _blocks(report: Report) -> list[tuple[str, tuple[int, ...], slice]]:
    if report.layout is None:
        return [("x", (report.numeric.size,), slice(0, report.numeric.size))]
    return [
        (name, shape, report.layout.slice(name)) for name, shape in report.layout.blocks.items()
    ]


def _as_2d(values: np.ndarray, shape: tuple[int, ...], order: Order) -> np.ndarray:
    if len(shape) == 2:
        return values.reshape(shape, order=order)
    return values.reshape(1, -1)


def heatmap(report: Report) -> Figure:
    """Per-block heatmaps of log10(relative error); mismatched entries outlined in red."""
    Figure = _pyplot()
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import MaxNLocator

    blocks = _blocks(report)
    order = report.layout.order if report.layout is not None else "C"
    fig = Figure(
        figsize=(5 * min(len(blocks), 3), 3.6 * ((len(blocks) + 2) // 3)), layout="constrained"
    )
    rel = np.log10(np.maximum(report.relative_errors, 1e-16))
    wrong = np.zeros(report.numeric.size, bool)
    wrong[report.mismatched] = True
    cols = min(len(blocks), 3)
    for k, (name, shape, s) in enumerate(blocks):
        ax = fig.add_subplot((len(blocks) + cols - 1) // cols, cols, k + 1)
        image = _as_2d(rel[s], shape, order)
        mask = _as_2d(wrong[s], shape, order)
        im = ax.imshow(
            image, cmap="viridis", vmin=-16, vmax=0, aspect="auto", interpolation="nearest"
        )
        for r, c in zip(*np.nonzero(mask), strict=True):
            ax.add_patch(
                Rectangle(
                    (c - 0.5, r - 0.5),
                    1,
                    1,
                    fill=False,
                    edgecolor="red",
                    linewidth=2,
                    label="_wrong",
                )
            )
        ax.set_title(f"{name} ({shape_text(shape)})")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("column" if len(shape) == 2 else "entry")
        if len(shape) == 2:
            ax.set_ylabel("row")
        else:
            ax.set_yticks([])
        fig.colorbar(im, ax=ax, label="log10 relative error")
    # wrapped to the figure's width (5 inches a block, at most 3 across)
    width = 45 * min(len(blocks), 3)
    fig.suptitle(textwrap.fill(_verdict_title(report), width=width))
    return fig


def _verdict_title(report: Report) -> str:
    """The heatmap's title: the entries outlined, or why it failed when no entry is wrong
    (f stateful, two paths that differ: the entries all agree)."""
    verdict = "PASS" if report.ok else "FAIL"
    wrong = report.mismatched.size
    if wrong or report.ok:
        return f"gradcheck {verdict}: {wrong} wrong (outlined in red)"
    kinds = [d.kind for d in report.diagnoses if d.severity == "fail"]
    why = ", ".join(dict.fromkeys(kinds)) or report.incomplete or "see the report"
    return f"gradcheck FAIL: {why}; every entry checked agrees"


def scatter(report: Report) -> Figure:
    """Analytic / numeric for every checked entry against |numeric|: right entries on the line at
    1, a sign error at −1, a missing factor at its level, wrong entries in red."""
    Figure = _pyplot()
    fig = Figure(figsize=(6.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    idx = report.checked
    n, a = report.numeric[idx], report.analytic[idx]
    shown = n != 0
    wrong = np.isin(idx, report.mismatched)[shown]
    size, ratio = np.abs(n[shown]), a[shown] / n[shown]
    ax.scatter(size[~wrong], ratio[~wrong], s=10, color="tab:blue", label="agree")
    ax.scatter(size[wrong], ratio[wrong], s=40, color="red", marker="x", label="wrong")
    for level, style, label in ((1.0, "-", "analytic = numeric"), (-1.0, "--", "opposite sign")):
        ax.axhline(level, color="gray", linestyle=style, linewidth=1, label=label)
    ax.set_xscale("log")
    # Linear between −1 and 1 (a factor ½ or a zero shows), logarithmic beyond (a factor 5000).
    ax.set_yscale("symlog", linthresh=1.0)
    low = min(-1.5, float(np.min(ratio, initial=0.0)) * 1.5)
    high = max(2.0, float(np.max(ratio, initial=0.0)) * 1.5)
    ax.set_ylim(low, high)
    from matplotlib.ticker import FuncFormatter

    beyond = 10.0 ** np.arange(1, np.floor(np.log10(max(abs(low), high))) + 1)
    ticks = np.concatenate([-beyond[::-1], [-1.0, -0.5, 0.0, 0.5, 1.0, 2.0], beyond])
    ax.set_yticks(ticks[(ticks >= low) & (ticks <= high)])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("|numeric derivative|")
    ax.set_ylabel("analytic / numeric")
    hidden = int(np.count_nonzero(~shown))
    note = f" ({hidden} entries with numeric 0 not shown)" if hidden else ""
    ax.set_title(f"analytic / numeric per entry{note}")
    ax.legend(loc="best", fontsize=8)
    return fig


def step_errors(
    report: Report,
    f: Callable[..., Any],
    x: Any,
    indices: np.ndarray,
    hs: np.ndarray,
    *,
    args: tuple = (),
    kwargs: dict[str, Any] | None = None,
) -> np.ndarray:
    """|central difference(h) − analytic| for each entry (rows) and step (columns).

    Evaluates ``f(x, *args, **kwargs)`` again, through the same evaluator as the check (copies,
    counting, the same central differences).
    """
    from .differences import SCHEMES, estimate
    from .evaluate import Evaluator
    from .problem import validate_x

    point = validate_x(x)[0]
    if point.size != report.numeric.size:
        raise ValueError(
            f"x must be the point the report was made at: {report.numeric.size} entries, got "
            f"{point.size}."
        )
    idx, h = np.repeat(indices, hs.size), np.tile(hs, indices.size)
    ev = Evaluator(f, args=tuple(args), kwargs=dict(kwargs or {}))
    numeric = estimate(ev, point, report.cost, idx, h, SCHEMES["central"]).numeric
    return np.abs(numeric - report.analytic[idx]).reshape(indices.size, hs.size)


def steps(
    report: Report,
    f: Callable[..., Any] | None = None,
    x: Any = None,
    *,
    args: tuple = (),
    kwargs: dict[str, Any] | None = None,
    entries: int = 3,
) -> Figure:
    """Error against step size (log–log) for the worst entries and the best-behaved one.

    A report holds no function, so this figure takes the checked function ``f`` and point ``x``
    (and the ``args``/``kwargs`` of the check) and evaluates it again.
    """
    if f is None or x is None:
        raise TypeError(
            "the 'steps' figure evaluates f again: pass f= and x= (the function and point of the "
            "check), e.g. report.plot('steps', f=cost, x=theta)."
        )
    Figure = _pyplot()
    hs = np.logspace(-12, -1, 23)
    ranked = report.worst(report.checked.size)  # furthest over their tolerance first
    chosen = list(ranked[:entries])
    if ranked.size and ranked[-1] not in chosen:
        chosen.append(ranked[-1])  # and the best-behaved entry
    chosen_arr = np.array(chosen, dtype=np.intp)
    errors = step_errors(report, f, x, chosen_arr, hs, args=args, kwargs=kwargs)
    fig = Figure(figsize=(6.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for i, err in zip(chosen_arr, errors, strict=True):
        wrong = i in set(report.mismatched.tolist())
        label = f"{report.name(i)}{' (wrong)' if wrong else ''}"
        line = ax.loglog(
            hs,
            np.maximum(err, 1e-17),
            marker="o",
            markersize=3,
            label=label,
            linestyle="-" if wrong else "--",
        )[0]
        ax.axvline(report.step[i], color=line.get_color(), linestyle=":", linewidth=1)
    # Reference slopes through the ends of the best-behaved entry's curve: round-off ∝ 1/h at
    # the small steps, truncation ∝ h² at the large ones.
    ref = np.maximum(errors[-1], 1e-17)
    small, large = hs[: hs.size // 2], hs[hs.size // 2 :]
    ax.loglog(
        small, ref[0] * hs[0] / small, color="black", linewidth=1, label="slope −1 (round-off)"
    )
    ax.loglog(
        large,
        ref[-1] * (large / hs[-1]) ** 2,
        color="gray",
        linewidth=1,
        label="slope 2 (truncation)",
    )
    ax.set_xlabel("step h")
    ax.set_ylabel("|central difference − analytic|")
    ax.set_title("error against step: a V for a right entry, flat for a wrong one")
    ax.plot([], [], color="black", linestyle=":", linewidth=1, label="step the check used")
    ax.legend(fontsize=8)
    return fig


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def img_tag(fig: Figure, alt: str) -> str:
    data = base64.b64encode(png_bytes(fig)).decode("ascii")
    return f"<img alt='{alt}' src='data:image/png;base64,{data}'/>"


def hidden_units(
    weights: np.ndarray, image_shape: tuple[int, int] | None = None, *, bias_column: bool = False
) -> Figure:
    """The hidden units' input weights as a grid of images (the course's displayData).

    ``weights`` is ``hidden × inputs`` (``W1``) or ``hidden × (1 + inputs)`` with
    ``bias_column=True`` (``Theta1``). ``image_shape`` defaults to a square; the course's 20×20
    digits are stored column-major, so their images are transposed back.
    """
    Figure = _pyplot()
    W = np.asarray(weights, dtype=float)
    if bias_column:
        W = W[:, 1:]
    side = round(np.sqrt(W.shape[1]))
    shape = image_shape or (side, side)
    if shape[0] * shape[1] != W.shape[1]:
        raise ValueError(f"image_shape {shape} does not hold {W.shape[1]} inputs per hidden unit.")
    cols = int(np.ceil(np.sqrt(W.shape[0])))
    rows = int(np.ceil(W.shape[0] / cols))
    fig = Figure(figsize=(1.2 * cols, 1.2 * rows + 0.4), layout="constrained")
    for k in range(rows * cols):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.set_axis_off()
        if k < W.shape[0]:
            w = W[k]
            ax.imshow(w.reshape(shape), cmap="gray", vmin=-np.abs(w).max(), vmax=np.abs(w).max())
    fig.suptitle(f"{W.shape[0]} hidden units")
    return fig


def cost_curve(history: list[float]) -> Figure:
    """The training cost per iteration."""
    Figure = _pyplot()
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(np.arange(1, len(history) + 1), history)
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost J")
    ax.set_title("training cost")
    ax.set_yscale("log")
    return fig
