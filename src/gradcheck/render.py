"""A report as text and HTML: the verdict line, diagnoses, the per-block table, the worst entries.

Reads a :class:`gradcheck.Report` and nothing else; figures come from :mod:`gradcheck.plot`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .compare import MISS
from .differences import SCHEMES, scheme_of
from .layout import set_name, shape_text
from .vocabulary import KINDS, MODES

if TYPE_CHECKING:  # pragma: no cover
    from .report import Diagnosis, Report


def _method_text(report: Report) -> str:
    if report.method == "reference":  # gradcheck.check_against_reference
        return "the kernel against the same maths in float64 and in its own precision"
    mode = MODES.get(report.mode)
    if mode is not None and mode.method is not None:
        return mode.method.format(directions=report.directions)
    if report.method == "auto":
        return f"{scheme_of('auto').describe}, suspicious entries refined"
    return SCHEMES[report.method].describe if report.method in SCHEMES else report.method


def _step_text(report: Report) -> str:
    if report.method == "reference":
        return "no finite differences"
    noise = f"noise ε_f = {report.noise:.2g}" if np.isfinite(report.noise) else "noise not measured"
    if report.step_policy == "given":
        given = report.step[np.isfinite(report.step)]
        # The step of most entries (a staircase or a domain edge shortens a few of them).
        values, counts = np.unique(given, return_counts=True)
        step = float(values[np.argmax(counts)]) if given.size else float("nan")
        return f"step {step:g} as given ({noise})"
    mode = MODES.get(report.mode)
    if mode is not None and mode.steps is not None:
        return f"{mode.steps} ({noise})"
    if report.step_policy == "chosen":
        return f"steps chosen per entry ({noise})"
    return "not run"


PROBE_KINDS = tuple(name for name, kind in KINDS.items() if kind.about_f)  # f's own faults


def headline(report: Report) -> str:
    """What was found, in plain words: the verdict's reason, what is wrong and where."""
    n, wrong = report.numeric.size, report.mismatched.size
    failing = [d for d in report.diagnoses if d.severity == "fail"]
    by_direction = report.mode in MODES and MODES[report.mode].by_direction
    if by_direction:
        found = (
            f"{wrong} wrong entr{'y' if wrong == 1 else 'ies'} found among {n}"
            if wrong
            else f"all {n} entries agree along every direction"
            + (_resolution(report) if report.ok else "")
        )
    elif wrong:
        found = f"{wrong} of {report.checked.size} entries wrong"
    else:
        found = f"all {report.checked.size} entries checked agree"
    if report.ok:
        return found
    if not failing:
        return f"{report.incomplete or 'the check did not finish'}; {found}"
    # Every failing finding, f's own first (they make the rest less certain), then the gradient's.
    causes = [
        d.headline or f"{d.kind}: {d.message.split('.')[0]}"
        for d in failing
        if d.kind in PROBE_KINDS or not wrong
    ]
    kinds = list(
        dict.fromkeys(
            f"{d.kind} in {_where(report, d)}" for d in failing if d.kind not in PROBE_KINDS
        )
    )
    if wrong:
        causes.append(f"{found} — {', '.join(kinds)}" if kinds else found)
    elif (report.checked.size or by_direction) and all(d.kind in PROBE_KINDS for d in failing):
        causes.append(f"{found} within tolerance")
    if report.incomplete:  # the check did not finish: said too, after what it found
        causes.append(report.incomplete)
    return "; ".join(dict.fromkeys(causes))


def _resolution(report: Report) -> str:
    """What a directional PASS could have missed: the smallest single-entry error it resolves."""
    r = report.resolution
    if not np.isfinite(r):
        return ""
    top = float(np.max(np.abs(report.analytic), initial=0.0))
    share = f" = {r / top:.2g} × the largest entry" if top > 0 else ""
    return (
        f" (resolution: an error above {r:.2g}{share} in any one entry would have failed, "
        f"P(miss) ≤ {MISS:.2g}; mode='full' checks each entry)"
    )


def _where(report: Report, d: Diagnosis) -> str:
    if d.indices is None or not d.indices.size:
        return d.block or "the gradient"
    where = set_name(report.layout, d.indices)
    return where if len(where) <= 70 else f"{where[:67]}…"


def summary(report: Report) -> str:
    """The verdict in plain words (what is wrong, where), then how the check was made."""
    verdict = "PASS" if report.ok else "FAIL"
    warnings = list(dict.fromkeys(d.kind for d in report.diagnoses if d.severity == "warning"))
    extra = f"; warnings: {', '.join(warnings)}" if warnings else ""
    return f"gradcheck {verdict}: {headline(report)}{extra}\n  {details(report)}"


def details(report: Report) -> str:
    """How the check was made: Ng's number, evaluations, time, method, steps, mode."""
    return (
        f"relative difference (Ng) {fmt(report.relative_difference)}; {report.evaluations} "
        f"evaluations in {report.seconds:.2f} s; {_method_text(report)}, {_step_text(report)}; "
        f"{report.mode} mode"
    )


LEGEND = (
    "abs err = |analytic − numeric|; allowed = the error model's tolerance for that entry; "
    "✗ = wrong (abs err > allowed)"
)


Rows = list[tuple[list[str], bool]]  # the cells of each row, and whether it is wrong
BLOCK_HEADER = ["block", "shape", "checked", "wrong", "worst rel err"]
ENTRY_HEADER = ["entry", "numeric", "analytic", "abs err", "allowed", "rel err", "step"]
ENTRY_SPECS = ("<16", ">13", ">13", ">11", ">11", ">10", ">10")


def _block_rows(report: Report) -> Rows:
    """The per-block table, the same for text and HTML."""
    return [
        (
            [
                b.name,
                shape_text(b.shape),
                str(b.checked),
                str(b.wrong),
                fmt(b.worst_relative_error),
            ],
            b.wrong > 0,
        )
        for b in report.blocks()
    ]


def _entry_rows(report: Report) -> Rows:
    """The worst entries (or those closest to their tolerance), the same for text and HTML."""
    wrong = set(report.mismatched.tolist())
    rel = report.relative_errors
    a, n = report.analytic, report.numeric
    return [
        (
            [
                report.name(i),
                *map(fmt, (n[i], a[i], abs(a[i] - n[i]), report.tolerance[i], rel[i])),
                fmt(report.step[i]),
            ],
            int(i) in wrong,
        )
        for i in report.worst()
    ]


def _text_table(header: list[str], rows: Rows, specs: tuple[str, ...]) -> list[str]:
    """Lines of a table, each column aligned by its format spec (``'<12'``); ✗ on wrong rows."""

    def line(cells: list[str]) -> str:
        return "  " + "".join(f"{c:{spec}}" for c, spec in zip(cells, specs, strict=True))

    return [line(header)] + [line(cells) + (" ✗" if bad else "") for cells, bad in rows]


def text(report: Report) -> str:
    """The whole report as text: verdict, diagnoses, blocks, worst entries, notes."""
    lines = [summary(report)]
    if report.diagnoses:
        lines += ["", "Diagnoses:"]
        lines += [f"  [{d.kind}] {d.message}" for d in report.diagnoses]
    blocks = _block_rows(report)
    if blocks:
        unmarked = [(cells, False) for cells, _ in blocks]  # the 'wrong' column says it
        lines += ["", *_text_table(BLOCK_HEADER, unmarked, ("<12", "<12", ">9", ">8", ">15"))]
    rows = _entry_rows(report)
    if rows:
        title = "Worst entries:" if report.mismatched.size else "Closest to their tolerance:"
        lines += ["", title, *_text_table(ENTRY_HEADER, rows, ENTRY_SPECS)]
        lines.append(f"  {LEGEND}")
    lines += [f"Note: {n}" for n in report.notes]
    return "\n".join(lines)


# ----- HTML ---------------------------------------------------------------------------------------


CAPTIONS = {
    "heatmap": "Relative error of every entry, block by block (log10; dark is good). Wrong "
    "entries are outlined in red: look for a pattern — a column (the bias column?), a row (one "
    "unit), a whole block (a missing factor, a sign) — rather than scattered points.",
    "scatter": "Analytic / numeric for every entry, against the size of the numeric derivative. "
    "Right entries sit on the line at 1; a wrong sign sits at −1, a missing factor at a constant "
    "level (2, ½, 1/m), wrong entries (red) elsewhere.",
    "steps": "Error of the central difference against its step, for the worst entries and a "
    "well-behaved one (log–log). A right entry draws a V: round-off on the left (slope −1), "
    "truncation on the right (slope 2); the dotted line marks the step the check used, chosen "
    "from the noise of f (see where it falls on each curve). A wrong entry stays flat, far "
    "above: no step makes it agree.",
}
STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:70em}"
    "table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
    "td:first-child,th:first-child{text-align:left}"
    "tr.wrong td{background:#ffebe9;color:#82071e;font-weight:bold}"
    ".verdict.fail{color:#cf222e}.verdict.pass{color:#1a7f37}.details{color:#555}"
    "figure{margin:1em 0}figcaption{color:#444;max-width:60em}img{max-width:100%}"
)


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
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>gradcheck report</title><style>{STYLE}</style></head><body>"
        "<h1>gradcheck report</h1>" + body + "</body></html>"
    )


def html_fragment(report: Report) -> str:
    """For Jupyter: the verdict, diagnoses, tables and, when matplotlib is there, the heatmap —
    styled like the page, the rules scoped to the report so that the notebook keeps its own."""
    scoped = "".join(
        ",".join(f".gradcheck-report {sel}" for sel in rule.split("{")[0].split(","))
        + "{" + rule.split("{", 1)[1] + "}"
        for rule in STYLE.split("}")
        if rule and not rule.startswith("body")
    )  # fmt: skip
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return f"<style>{scoped}</style>" + html_body(report, ())
    return f"<style>{scoped}</style>" + html_body(report, ("heatmap",))


def html_body(
    report: Report, kinds: tuple[str, ...], *, again: Mapping[str, Any] | None = None
) -> str:
    """Sections: verdict, diagnoses, blocks, entries, figures, notes."""
    e = html.escape
    state = "pass" if report.ok else "fail"
    head, _, rest = summary(report).partition("\n")
    parts = [
        "<div class='gradcheck-report'><h2>Verdict</h2>",
        f"<p class='verdict {state}'><b>{e(head)}</b></p><p class='details'>{e(rest.strip())}</p>",
    ]
    if report.diagnoses:
        items = "".join(
            f"<li><code>{e(d.kind)}</code> ({e(d.severity)}) {e(d.message)}</li>"
            for d in report.diagnoses
        )
        parts.append(f"<h2>Diagnoses</h2><ul>{items}</ul>")
    blocks = _block_rows(report)
    if blocks:
        parts.append("<h2>Blocks</h2>" + _table(BLOCK_HEADER, blocks))
    parts.append(_entries_html(report))
    figures = [k for k in kinds if k != "steps" or report.checked.size]
    if figures:
        parts.append("<h2>Figures</h2>")
    for kind in figures:
        from .plot import img_tag, plot

        extra = dict(again or {}) if kind == "steps" else {}
        parts.append(
            f"<figure><h3>{kind}</h3>{img_tag(plot(report, kind, **extra), kind)}"
            f"<figcaption>{e(CAPTIONS[kind])}</figcaption></figure>"
        )
    if report.notes:
        parts.append("<h2>Notes</h2>" + "".join(f"<p>{e(n)}</p>" for n in report.notes))
    return "".join(parts) + "</div>"


def _entries_html(report: Report) -> str:
    rows = [
        ([cells[0] + (" ✗" if bad else ""), *cells[1:]], bad) for cells, bad in _entry_rows(report)
    ]
    title = "Worst entries" if report.mismatched.size else "Entries closest to their tolerance"
    return (
        f"<h2>{title}</h2>"
        + _table(ENTRY_HEADER, rows)
        + f"<p class='details'>{html.escape(LEGEND)}</p>"
    )


def _table(header: list[str], rows: Rows) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    marked = " class='wrong'"
    body = "".join(
        f"<tr{marked if bad else ''}>"
        + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
        + "</tr>"
        for cells, bad in rows
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
