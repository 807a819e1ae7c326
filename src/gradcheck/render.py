"""A report as text and HTML: the verdict line, diagnoses, the per-block table, the worst entries.

Reads a :class:`gradcheck.Report` and nothing else; figures come from :mod:`gradcheck.plot`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .differences import SCHEMES, scheme_of
from .layout import shape_text

if TYPE_CHECKING:  # pragma: no cover
    from .report import Report


def _method_text(report: Report) -> str:
    if report.mode == "directional":
        return f"central differences along {report.directions} random directions"
    if report.method == "auto":
        return f"{scheme_of('auto').describe}, suspicious entries refined"
    return SCHEMES[report.method].describe if report.method in SCHEMES else report.method


def _step_text(report: Report) -> str:
    noise = f"noise ε_f = {report.noise:.2g}"
    if report.step_policy == "given":
        given = report.step[np.isfinite(report.step)]
        return f"step {float(given[0]) if given.size else float('nan'):g} as given ({noise})"
    if report.mode == "directional":
        return f"steps from the error model along each direction ({noise})"
    if report.step_policy == "chosen":
        return f"steps chosen per entry ({noise})"
    return "not run"


def headline(report: Report) -> str:
    """What was found, in words: the verdict's reason without the method details."""
    n = report.numeric.size
    wrong = report.mismatched.size
    if report.mode == "directional":
        found = (
            f"{wrong} wrong entr{'y' if wrong == 1 else 'ies'} found among {n}"
            if wrong
            else f"all {n} entries agree along every direction"
        )
    elif wrong:
        found = f"{wrong} of {report.checked.size} entries wrong"
    else:
        found = f"all {report.checked.size} entries checked agree"
    if report.ok or wrong:
        return found
    # Failed with no wrong entry: the cause is f itself (or the work was cut short); say so.
    failing = [d for d in report.diagnoses if d.severity == "fail"]
    if not failing:
        return f"{report.incomplete or 'the check did not finish'}; {found}"
    cause = failing[0].headline or f"{failing[0].kind}: {failing[0].message.split('.')[0]}"
    if report.mode == "none" or (not report.checked.size and report.mode != "directional"):
        return cause
    return f"{cause}; {found} within tolerance"


def summary(report: Report) -> str:
    """The one-line verdict."""
    verdict = "PASS" if report.ok else "FAIL"
    warnings = [d.kind for d in report.diagnoses if d.severity == "warning"]
    extra = f"; warnings: {', '.join(warnings)}" if warnings else ""
    return (
        f"gradcheck {verdict}: {headline(report)}; relative difference (Ng) "
        f"{fmt(report.relative_difference)}; {report.evaluations} evaluations in "
        f"{report.seconds:.2f} s; {_method_text(report)}, {_step_text(report)}; "
        f"{report.mode} mode{extra}"
    )


def text(report: Report) -> str:
    """The whole report as text: verdict, diagnoses, blocks, worst entries, notes."""
    lines = [summary(report)]
    if report.diagnoses:
        lines += ["", "Diagnoses:"]
        lines += [f"  [{d.kind}] {d.message}" for d in report.diagnoses]
    blocks = report.blocks()
    if blocks:
        lines += [
            "",
            f"  {'block':<12}{'shape':<12}{'checked':>9}{'wrong':>8}{'worst rel err':>15}",
        ]
        for b in blocks:
            lines.append(
                f"  {b['name']:<12}{shape_text(tuple(b['shape'])):<12}{b['checked']:>9}"
                f"{b['wrong']:>8}{fmt(b['worst_relative_error']):>15}"
            )
    worst = report.worst()
    if worst.size:
        wrong = set(report.mismatched.tolist())
        rel = report.relative_errors
        lines += [
            "",
            "Worst entries:" if wrong else "Closest to tolerance:",
            (
                f"  {'entry':<16}{'numeric':>13}{'analytic':>13}{'abs err':>11}{'rel err':>10}"
                f"{'tolerance':>11}{'step':>10}"
            ),
        ]
        for i in worst:
            lines.append(
                f"  {report.name(i):<16}{fmt(report.numeric[i], 13)}{fmt(report.analytic[i], 13)}"
                f"{fmt(abs(report.analytic[i] - report.numeric[i]), 11)}{fmt(rel[i], 10)}"
                f"{fmt(report.tolerance[i], 11)}{fmt(report.step[i], 10)}"
                f"{' ✗' if int(i) in wrong else ''}"
            )
    lines += [f"Note: {n}" for n in report.notes]
    return "\n".join(lines)


# ----- HTML ---------------------------------------------------------------------------------------


def html_page(
    report: Report, *, figures: bool = True, again: Mapping[str, Any] | None = None
) -> str:
    """One self-contained page, figures embedded as PNG. The error-versus-step figure evaluates
    f again: it is drawn when ``again`` holds ``f`` and ``x`` (and ``args``, ``kwargs``)."""
    kinds: tuple[str, ...] = ()
    if figures:
        kinds = ("heatmap", "scatter") + (("steps",) if again else ())
    body = html_body(report, kinds, again=again)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>gradcheck report</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}img{max-width:100%}"
        "</style></head><body><h1>gradcheck report</h1>" + body + "</body></html>"
    )


def html_fragment(report: Report) -> str:
    """For Jupyter: the summary, tables and, when matplotlib is there, the heatmap."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return html_body(report, ())
    return html_body(report, ("heatmap",))


def html_body(
    report: Report, kinds: tuple[str, ...], *, again: Mapping[str, Any] | None = None
) -> str:
    colour = "#1a7f37" if report.ok else "#cf222e"
    verdict = html.escape(summary(report))
    parts = [f"<div class='gradcheck-report'><p style='color:{colour}'><b>{verdict}</b></p>"]
    if report.diagnoses:
        items = "".join(
            f"<li><code>{html.escape(d.kind)}</code> {html.escape(d.message)}</li>"
            for d in report.diagnoses
        )
        parts.append(f"<ul>{items}</ul>")
    blocks = report.blocks()
    if blocks:
        parts.append(
            _table(
                ["block", "shape", "checked", "wrong", "worst rel err"],
                [
                    [
                        b["name"],
                        shape_text(tuple(b["shape"])),
                        b["checked"],
                        b["wrong"],
                        fmt(b["worst_relative_error"]),
                    ]
                    for b in blocks
                ],
            )
        )
    rel = report.relative_errors
    parts.append(
        _table(
            ["entry", "numeric", "analytic", "abs err", "rel err", "tolerance", "step"],
            [
                [
                    report.name(i),
                    fmt(report.numeric[i]),
                    fmt(report.analytic[i]),
                    fmt(abs(report.analytic[i] - report.numeric[i])),
                    fmt(rel[i]),
                    fmt(report.tolerance[i]),
                    fmt(report.step[i]),
                ]
                for i in report.worst()
            ],
        )
    )
    for kind in kinds:
        if kind == "steps" and not report.checked.size:
            continue
        from .plot import img_tag, plot

        extra = dict(again or {}) if kind == "steps" else {}
        parts.append(f"<h3>{kind}</h3>" + img_tag(plot(report, kind, **extra), kind))
    notes = "".join(f"<p>Note: {html.escape(n)}</p>" for n in report.notes)
    return "".join(parts) + notes + "</div>"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def fmt(v: Any, width: int = 0) -> str:
    """A number in 3 significant digits, scientific outside 1e-3..1e4; ``-`` for None."""
    if v is None:
        s = "-"
    else:
        v = float(v)
        s = f"{v:.3g}" if math.isfinite(v) and (v == 0 or 1e-3 <= abs(v) < 1e4) else f"{v:.2e}"
    return f"{s:>{width}}" if width else s
