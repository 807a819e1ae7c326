"""The ``gradcheck`` command: ``demo``, ``check``, ``course`` and ``train``.

Exit codes (the contract scripts rely on):

- 0: the gradient is right (or the command succeeded);
- 1: the gradient is wrong;
- 2: a usage error — bad flags, unreadable files, a syntax or import error in your file — as one
  line, without a traceback;
- 3: your function raised, or a call of it ran past ``--timeout``: its type and message, and
  the entry and step where, as one line (``--traceback`` prints the whole traceback);
- 130: interrupted (Ctrl-C).

A closed pipe ends the command quietly with the verdict's code; characters the console cannot
encode are spelt in ASCII; ``--json`` is strict JSON (NaN → null, ±inf → "Infinity").
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from ..differences import METHODS
from ..pipeline import MODES
from .commands import check_command, course_command, demo_command, train_command
from .errors import FunctionRaised, UsageError

EXIT_CODES = """exit status: 0 the gradient is right, 1 it is wrong, 2 a usage error (bad flags,
unreadable files, a syntax or import error in your file), 3 your function raised or ran past
--timeout, 130 interrupted."""


ASCII = {
    "ε": "eps", "κ": "kappa", "λ": "lambda", "θ": "theta", "∇": "grad", "—": "-", "–": "-",
    "−": "-", "×": "x", "·": "*", "∘": "*", "≤": "<=", "≥": ">=", "≈": "~", "±": "+/-",
    "→": "->", "…": "...", "ᵀ": "^T", "‖": "||", "✗": "x", "✓": "v", "²": "^2", "³": "^3",
    "√": "sqrt", "∞": "inf", "Σ": "sum", "Δ": "delta", "δ": "delta", "σ": "sigma",
}  # fmt: skip


def _ascii(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    return "".join(ASCII.get(c, "?") for c in text), error.end


codecs.register_error("gradcheck-ascii", _ascii)


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a console that cannot print "ε" gets "eps"
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="gradcheck-ascii")
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        with _showing(getattr(args, "show_output", False)):
            return int(args.run(args))
    except BrokenPipeError:
        # The reader went away (``| head -1``): stop writing, quietly, with the verdict's code.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return int(getattr(args, "code", 0))
    except UsageError as exc:
        print(f"gradcheck: error: {exc}", file=sys.stderr)
        return 2
    except FunctionRaised as raised:
        error = raised.error
        if getattr(args, "traceback", False):
            traceback.print_exception(error, file=sys.stderr)
        where = " ".join(n.removeprefix("gradcheck: ") for n in getattr(error, "__notes__", []))
        message = f"{type(error).__name__}: {error}".strip()
        line = _user_line(error)
        more = (
            "" if getattr(args, "traceback", False) else "; --traceback shows the whole traceback"
        )
        print(
            f"gradcheck: your function raised {message} ({where.rstrip('.')}){line}{more}",
            file=sys.stderr,
        )
        return 3
    except KeyboardInterrupt:
        print("gradcheck: interrupted", file=sys.stderr)
        return 130


@contextlib.contextmanager
def _showing(show: bool) -> Iterator[None]:
    """``--show-output``: what f prints goes through during the command (gradcheck.output)."""
    if not show:
        yield
        return
    before = os.environ.get("GRADCHECK_SHOW_OUTPUT")
    os.environ["GRADCHECK_SHOW_OUTPUT"] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ["GRADCHECK_SHOW_OUTPUT"]
        else:
            os.environ["GRADCHECK_SHOW_OUTPUT"] = before


def _user_line(error: BaseException) -> str:
    """`` at FILE:LINE``: the innermost frame of the traceback outside gradcheck and the
    standard library (the user's line), or nothing."""
    here = str(Path(__file__).resolve().parents[1])  # the gradcheck package
    frames = traceback.extract_tb(error.__traceback__)
    mine = [
        fr
        for fr in frames
        if not fr.filename.startswith(here)
        and "site-packages" not in fr.filename
        and not fr.filename.startswith(sys.base_prefix)
    ]
    return f" at {Path(mine[-1].filename).name}:{mine[-1].lineno}" if mine else ""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradcheck",
        description="Check hand-written gradients against finite differences and say what is wrong.",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"gradcheck {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser(
        "demo", help="the course's gradient check, then the learner's bug, diagnosed"
    )
    demo.set_defaults(run=demo_command)
    _check_parser(sub)
    _course_parser(sub)
    _train_parser(sub)
    return parser


def _check_parser(sub: Any) -> None:
    chk = sub.add_parser(
        "check", help="check the gradient of a function of yours", epilog=EXIT_CODES
    )
    chk.add_argument(
        "target",
        metavar="MODULE_OR_FILE:FUNCTION",
        help="e.g. mymodule:cost or path/to/file.py:cost (imported from the current folder, "
        "like python -m); the function takes x first and returns (cost, gradient)",
    )
    chk.add_argument(
        "--x0", required=True, metavar="FILE", help="the point: .npy, .txt, .csv or .mat (--key)"
    )
    chk.add_argument("--key", metavar="NAME", help="the variable holding x0 in a .mat file")
    chk.add_argument(
        "--grad", metavar="FUNCTION", help="a separate gradient function in the same module"
    )
    chk.add_argument(
        "--cost",
        metavar="FUNCTION",
        help="a cost-only function in the same module (what an optimiser's line search calls): "
        "its cost must equal the function's at x and two points near it",
    )
    chk.add_argument(
        "--args",
        metavar="FILE",
        help="a .npz or .mat file of named arrays, passed to the function's parameters by name",
    )
    chk.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a scalar for the parameter NAME (an int, a float, true/false or text); repeatable",
    )
    chk.add_argument(
        "--blocks", metavar="SPEC", help='named blocks of x, e.g. "Theta1=25x401,Theta2=10x26"'
    )
    chk.add_argument(
        "--order", choices=["C", "F"], default="C", help="how blocks are unrolled (F for MATLAB)"
    )
    chk.add_argument(
        "--method",
        default="auto",
        choices=METHODS,
        help="finite differences (default auto: central, suspicious entries refined)",
    )
    chk.add_argument("--step", type=float, help="a fixed step (default: chosen per entry)")
    chk.add_argument(
        "--mode",
        default="auto",
        choices=MODES,
        help="every entry, random directions, or a sample (default auto: full when cheap)",
    )
    chk.add_argument("--rtol", type=float, help="relative slack (default 1e-6; 1e-3 in float32)")
    chk.add_argument("--atol", type=float, help="absolute slack (default 100·eps·max|gradient|)")
    chk.add_argument(
        "--budget", type=int, help="calls of f directional mode may make, all counted (2000)"
    )
    chk.add_argument(
        "--nondet-tol",
        type=float,
        metavar="R",
        help="relative variation between calls at x accepted as noise (default: decided)",
    )
    chk.add_argument("--seed", type=int, default=0, help="seed of every random choice (0)")
    chk.add_argument(
        "--workers", type=int, default=0, metavar="N", help="evaluate f in N processes"
    )
    chk.add_argument(
        "--checkpoint", metavar="FILE", help="save evaluations to FILE; a rerun resumes from it"
    )
    chk.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="longest a call of f may take; a call past it ends the check (exit 3), naming it",
    )
    _outputs(chk)
    chk.set_defaults(run=check_command)


def _outputs(chk: Any) -> None:
    """What the check command writes besides its report: JSON, HTML, figures, tracebacks."""
    chk.add_argument("--json", action="store_true", help="print the report as JSON")
    chk.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    chk.add_argument("--png", metavar="DIR", help="write heatmap.png, scatter.png, steps.png")
    chk.add_argument(
        "--traceback", action="store_true", help="when your function raises, show the traceback"
    )
    _show_output(chk)


def _show_output(parser: Any) -> None:
    parser.add_argument(
        "--show-output",
        action="store_true",
        help="let what your function prints through (by default it is counted, and its first "
        "lines shown in a note)",
    )


def _course_parser(sub: Any) -> None:
    course = sub.add_parser(
        "course",
        help="the course's checkNNGradients for your port of nnCostFunction",
        description="Check FILE:FUNCTION, your nnCostFunction, on the course's debug network "
        "(3-5-3, m = 5) at λ = 0 and at λ. The course's arguments are passed by name "
        "(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda/lambda_/"
        "lmbda/reg) or, failing that, in the course's order.",
        epilog=EXIT_CODES,
    )
    course.add_argument("target", metavar="MODULE_OR_FILE:FUNCTION", help="your nnCostFunction")
    _lambda_option(
        course, 3.0, "the regularisation strength of the second check (default 3, the course's)"
    )
    course.add_argument(
        "--order",
        choices=["C", "F"],
        default="F",
        help="how your function unrolls nn_params: F, the course's Theta(:) (default), or C, "
        "NumPy's ravel()",
    )
    course.add_argument(
        "--grad",
        metavar="FUNCTION",
        help="your gradient function, when it is separate from the cost (fmin_cg style), in the "
        "same file or module",
    )
    course.add_argument(
        "--labels",
        choices=["auto", "1..K", "0..K-1", "column", "column 0..K-1", "onehot"],
        default="auto",
        help="how your function takes y (default: the course's 1..K, others tried if it raises)",
    )
    course.add_argument("--json", action="store_true", help="print the result as JSON")
    course.add_argument(
        "--traceback", action="store_true", help="when your function raises, show the traceback"
    )
    _show_output(course)
    course.set_defaults(run=course_command)


def _lambda_option(parser: Any, default: float, help: str) -> None:
    """``--lambda L`` (``lambda`` is a Python keyword: it lands in ``lambda_``)."""
    parser.add_argument(
        "--lambda", dest="lambda_", type=float, default=default, metavar="L", help=help
    )


def _train_parser(sub: Any) -> None:
    train = sub.add_parser(
        "train", help="train a network on the embedded digits (or the course's .mat)"
    )
    train.add_argument(
        "--data", metavar="FILE", help="the course's ex4data1.mat (default: the embedded digits)"
    )
    train.add_argument(
        "--hidden", type=int, default=25, metavar="N", help="hidden units (default 25)"
    )
    _lambda_option(train, 1.0, "L2 regularisation strength λ (default 1)")
    train.add_argument(
        "--maxiter", type=int, default=400, metavar="N", help="iterations (default 400)"
    )
    train.add_argument(
        "--method",
        default="L-BFGS-B",
        choices=["L-BFGS-B", "CG"],
        help="SciPy optimiser (default L-BFGS-B)",
    )
    train.add_argument(
        "--seed", type=int, default=0, help="seed of the split and the initial weights (0)"
    )
    train.add_argument(
        "--plot", metavar="DIR", help="save cost.png (training cost) and hidden_units.png"
    )
    train.set_defaults(run=train_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
