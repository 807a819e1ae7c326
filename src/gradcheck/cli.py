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
import importlib
import importlib.util
import inspect
import json
import os
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .differences import METHODS
from .executors import stop_pool, watch_parent
from .pipeline import MODES

EXIT_CODES = """exit status: 0 the gradient is right, 1 it is wrong, 2 a usage error (bad flags,
unreadable files, a syntax or import error in your file), 3 your function raised or ran past
--timeout, 130 interrupted."""


class UsageError(Exception):
    """A problem with the command line or its files, shown as one line (exit 2)."""


class FunctionRaised(Exception):
    """The user's function raised while being checked (exit 3)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


# Where the console's encoding cannot print a character of the report, its ASCII spelling.
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


def _user_line(error: BaseException) -> str:
    """`` at FILE:LINE``: the innermost frame of the traceback outside gradcheck and the
    standard library (the user's line), or nothing."""
    here = str(Path(__file__).resolve().parent)
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
    demo.set_defaults(run=_demo)
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
        "--budget", type=int, help="evaluations directional mode may spend localising (2000)"
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
    chk.add_argument("--json", action="store_true", help="print the report as JSON")
    chk.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    chk.add_argument("--png", metavar="DIR", help="write heatmap.png, scatter.png, steps.png")
    chk.add_argument(
        "--traceback", action="store_true", help="when your function raises, show the traceback"
    )
    chk.set_defaults(run=_check)


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
    course.set_defaults(run=_course)


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
    train.set_defaults(run=_train)


# ----- demo --------------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    from . import check, ex4
    from .examples import nnCost

    console = Console(highlight=False)
    console.rule("1. The course's checkNNGradients, correct network, λ = 0")
    ex4.check_nn_gradients(0.0, verbose=True)

    console.print()
    console.rule("2. The learner's NumPy port, λ = 3")
    print(
        "Its regularisation has one wrong sign (the second - should be +):\n"
        "    J += lambda_/(2*m) * (sum(Theta1**2) + sum(Theta2**2)\n"
        "                          - (sum(Theta1[:, 0]**2) - sum(Theta2[:, 0]**2)))\n"
    )
    params, X, y, layout = ex4.debug_problem("C")  # the learner unrolls row-major
    data = (X, y, 3.0, 3, 5, 3)  # nnCost(nn_params, X, y, lambda_, input, hidden, labels)
    numgrad = ex4.compute_numerical_gradient(lambda p: nnCost(p, *data), params)
    grad = nnCost(params, *data)[1]
    rel = np.linalg.norm(numgrad - grad) / np.linalg.norm(numgrad + grad)
    print(
        f"The course's check says: Relative Difference: {rel:g} (should be < 1e-9).\n"
        "But which entries are wrong, and why?\n"
    )
    console.rule("3. gradcheck.check on the learner's cost")
    print(
        "gradcheck.check(nnCost, params, args=(X, y, 3.0, 3, 5, 3),\n"
        "                blocks={'Theta1': (5, 4), 'Theta2': (3, 6)})\n"
    )
    report = check(nnCost, params, args=data, blocks=layout)
    print(report)
    return 0


# ----- check -------------------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    from . import check

    f = _load_function(args.target)
    grad = _load_function(f"{args.target.rsplit(':', 1)[0]}:{args.grad}") if args.grad else None
    x0 = _load_point(Path(args.x0), args.key)
    kwargs = _bind(f, args.target, _load_args(args.args, args.arg))
    blocks = _parse_blocks(args.blocks) if args.blocks else None
    if args.workers < 0:
        raise UsageError(
            f"--workers must be 0 (serial) or a positive number of processes, got {args.workers}."
        )
    options = {
        "blocks": blocks,
        "order": args.order,
        "method": args.method,
        "step": args.step,
        "mode": args.mode,
        "rtol": args.rtol,
        "atol": args.atol,
        "budget": args.budget,
        "nondet_tol": args.nondet_tol,
        "seed": args.seed,
        "checkpoint": args.checkpoint,
        "timeout": args.timeout,
    }
    report = _run_check(lambda **more: check(f, x0, grad, kwargs=kwargs, **options, **more), args)
    args.code = _code(report)
    print(_json(report.to_dict()) if args.json else report)
    if args.code == 130:
        return _interrupted(args)
    _write_files(report, args, f, x0, kwargs)
    return int(args.code)


def _code(report: Any) -> int:
    """The exit status of a finished check: 0 right, 1 wrong, 3 a call of f ran past
    ``--timeout``, 130 interrupted (Ctrl-C)."""
    incomplete = str(getattr(report, "incomplete", ""))
    if incomplete.startswith("interrupted"):
        return 130
    if incomplete.startswith("f did not return within"):
        print(f"gradcheck: {incomplete}", file=sys.stderr)
        return 3
    return 0 if report.ok else 1


def _interrupted(args: argparse.Namespace) -> int:
    """After Ctrl-C: say where the work done is kept (exit 130)."""
    where = getattr(args, "checkpoint", None)
    kept = (
        f"; the evaluations done are saved in the checkpoint {where}: run the same command to "
        "resume"
        if where
        else "; pass --checkpoint FILE to keep the work done next time"
    )
    print(f"gradcheck: interrupted{kept}.", file=sys.stderr)
    return 130


def _json(data: Any) -> str:
    """Strict JSON (RFC 8259): a NaN is ``null``, an infinity the string ``"Infinity"`` or
    ``"-Infinity"``."""

    def strict(v: Any) -> Any:
        if isinstance(v, float) and not np.isfinite(v):
            return None if np.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
        if isinstance(v, dict):
            return {k: strict(item) for k, item in v.items()}
        if isinstance(v, (list, tuple)):
            return [strict(item) for item in v]
        return v

    return json.dumps(strict(data), indent=2, allow_nan=False)


def _run_check(run: Any, args: argparse.Namespace) -> Any:
    """Run a check (on --workers processes), sorting errors into usage errors and f's own."""
    executor = None
    if getattr(args, "workers", 0):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(
            args.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=watch_parent,
            initargs=(os.getpid(),),
        )
    result = None
    try:
        result = run(**({"executor": executor, "workers": args.workers} if executor else {}))
        return result
    except Exception as exc:
        if hasattr(exc, "gradcheck_where"):  # marked by gradcheck.evaluate.raised_in_user_code
            raise FunctionRaised(exc) from None  # f's own error, raised where we said
        if isinstance(exc, (ValueError, TypeError)):
            raise UsageError(str(exc).splitlines()[0]) from None
        raise
    finally:
        if executor is not None:
            # A check that did not finish (Ctrl-C, a timeout, an error) may leave a worker in
            # a call that never returns: its processes are stopped, not waited for.
            stop_pool(executor, now=result is None or bool(getattr(result, "incomplete", "")))


def _write_files(
    report: Any, args: argparse.Namespace, f: Any, x0: np.ndarray, kwargs: dict[str, Any]
) -> None:
    try:
        if args.html:
            page = report.to_html(f=f, x=x0, kwargs=kwargs)
            Path(args.html).write_text(page, encoding="utf-8")
            print(f"HTML report written to {args.html}")
        if args.png:
            folder = Path(args.png)
            folder.mkdir(parents=True, exist_ok=True)
            for kind in ("heatmap", "scatter", "steps"):
                extra = {"f": f, "x": x0, "kwargs": kwargs} if kind == "steps" else {}
                report.plot(kind, **extra).savefig(folder / f"{kind}.png", dpi=100)
            print(f"figures written to {folder}/heatmap.png, scatter.png and steps.png")
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename}: {exc.strerror}") from None


# ----- course ------------------------------------------------------------------------------------


def _course(args: argparse.Namespace) -> int:
    from .course import check_course

    fn = _load_function(args.target)
    grad = _load_function(f"{args.target.rsplit(':', 1)[0]}:{args.grad}") if args.grad else None
    if args.lambda_ < 0:
        raise UsageError(f"--lambda must be ≥ 0, got {args.lambda_}.")
    result = _run_check(
        lambda: check_course(fn, args.lambda_, grad=grad, order=args.order, labels=args.labels),
        args,
    )
    args.code = _code(result)
    print(_json(result.to_dict()) if args.json else result)
    return _interrupted(args) if args.code == 130 else int(args.code)


# ----- reading the user's files ------------------------------------------------------------------


def _load_function(target: str) -> Any:
    """``MODULE_OR_FILE:FUNCTION``, imported from the current folder like ``python -m`` does."""
    if ":" not in target:
        raise UsageError(f"expected MODULE_OR_FILE:FUNCTION, e.g. mymodule:cost, got {target!r}.")
    where, name = target.rsplit(":", 1)
    _user_folder(Path.cwd())
    try:
        if where.endswith(".py") or Path(where).is_file():
            module = _import_file(where)
        else:
            module = importlib.import_module(where)
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 (a syntax error, an import error, an error at import)
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise UsageError(f"cannot import {where}: {detail}") from None
    found = getattr(module, name, None)
    if found is None:
        import difflib

        names = [
            n for n in dir(module) if callable(getattr(module, n, None)) and not n.startswith("_")
        ]
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"{where} has no function {name!r}.{hint}")
    if not callable(found):
        raise UsageError(f"{where}:{name} is a {type(found).__name__}, not a function.")
    return found


def _user_folder(folder: Path) -> None:
    """Make the user's folder importable, after the standard library: a user's ``random.py``
    or ``gradcheck.py`` must not replace a module that numpy, gradcheck or a worker process
    imports (``python -m`` puts the current folder first: it moves behind the rest)."""
    text = str(folder)
    for entry in ("", text):
        while entry in sys.path:
            sys.path.remove(entry)
    sys.path.append(text)


def _import_file(where: str) -> Any:
    path = Path(where)
    if not path.is_file():
        raise UsageError(f"no such file: {where}")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {where}")
    module = importlib.util.module_from_spec(spec)
    # Importable by name, so that worker processes (--workers) can unpickle its functions.
    _user_folder(path.parent.resolve())
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _load_args(path: str | None, pairs: list[str]) -> dict[str, Any]:
    """Named values from ``--args FILE`` (.npz or .mat) and ``--arg NAME=VALUE``."""
    values: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise UsageError(f"--args: no such file: {path}")
        if file.suffix.lower() not in (".npz", ".mat"):
            raise UsageError(f"--args must be a .npz or .mat file, got {file.name}.")
        with _reading("--args", file):
            if file.suffix.lower() == ".npz":
                with file.open("rb") as handle, np.load(handle) as data:
                    values.update({k: data[k] for k in data.files})
            else:
                # A MATLAB scalar is a 1×1 array: pass it as a number.
                values.update({k: v.item() if v.size == 1 else v for k, v in _mat(file).items()})
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--arg expects NAME=VALUE, e.g. --arg lambda_=3, got {pair!r}.")
        values[name] = _scalar(text)
    return values


def _scalar(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _bind(f: Any, target: str, values: dict[str, Any]) -> dict[str, Any]:
    """The named values as keyword arguments of f, after x: unknown or missing names are errors."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        return values
    takes_any = any(p.kind == p.VAR_KEYWORD for p in params)
    rest = [p for p in params[1:] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    names = [p.name for p in rest]
    unknown = [k for k in values if k not in names]
    if unknown and not takes_any:
        raise UsageError(
            f"{target} has no parameter {', '.join(map(repr, unknown))}; after x it takes "
            f"({', '.join(names) or 'nothing'})."
        )
    missing = [p.name for p in rest if p.default is p.empty and p.name not in values]
    if missing:
        raise UsageError(
            f"{target} needs {', '.join(missing)} after x: pass them with --args FILE (named "
            "arrays) or --arg NAME=VALUE."
        )
    return values


@contextmanager
def _reading(option: str, path: Path) -> Iterator[None]:
    """Any error reading or parsing a user's file as one line naming the option and the file."""
    try:
        yield
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 (NumPy, SciPy and pickle raise many kinds)
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{option} {path}: cannot be read ({detail}).") from None


def _load_point(path: Path, key: str | None) -> np.ndarray:
    if not path.is_file():
        raise UsageError(f"--x0: no such file: {path}")
    with _reading("--x0", path):
        return _point(path, key)


def _point(path: Path, key: str | None) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        x = np.load(path)
    elif suffix in (".txt", ".csv"):
        x = np.loadtxt(path, delimiter="," if suffix == ".csv" else None)
    elif suffix == ".mat":
        data = _mat(path)
        if key is None:
            if len(data) != 1:
                raise UsageError(f"--x0 {path} holds {sorted(data)}: name one with --key.")
            key = next(iter(data))
        if key not in data:
            raise UsageError(f"--key {key!r} is not in {path}; it holds {sorted(data)}.")
        x = data[key]
    else:
        raise UsageError(f"--x0 must be a .npy, .txt, .csv or .mat file, got {path.name}.")
    x = np.asarray(x)
    if np.iscomplexobj(x):
        raise UsageError(
            f"--x0 {path} holds complex numbers: gradcheck checks real gradients (split a "
            "complex parameter into its real and imaginary parts)."
        )
    if x.dtype.kind not in "fiub":
        raise UsageError(f"--x0 {path} must hold numbers, got an array of {x.dtype}.")
    x = x.astype(float)
    if x.ndim == 2 and 1 in x.shape:
        x = x.ravel()  # a column or row vector
    if x.ndim != 1:
        raise UsageError(f"--x0 must hold a vector, got an array of shape {x.shape}.")
    return x


def _mat(path: Path) -> dict[str, Any]:
    """The variables of a .mat file (SciPy's reader, without its ``__header__`` entries)."""
    from scipy.io import loadmat

    return {k: v for k, v in loadmat(path).items() if not k.startswith("__")}


def _parse_blocks(spec: str) -> dict[str, tuple[int, ...]]:
    blocks: dict[str, tuple[int, ...]] = {}
    for part in spec.split(","):
        name, _, shape = part.strip().partition("=")
        try:
            dims = tuple(int(d) for d in shape.lower().split("x"))
        except ValueError:
            dims = ()
        if not name or not dims:
            raise UsageError(
                f'--blocks expects NAME=ROWSxCOLS pairs, e.g. "Theta1=25x401,Theta2=10x26"; got {part!r}.'
            )
        blocks[name] = dims
    return blocks


# ----- train -------------------------------------------------------------------------------------


def _train(args: argparse.Namespace) -> int:
    from . import ex4, nn

    if args.data:
        if not Path(args.data).is_file():
            raise UsageError(f"--data: no such file: {args.data}")
        try:
            X, y = ex4.load_data(args.data)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        y = y - 1  # the course's labels 1..10 (10 is the digit 0) → classes 0..9
        source = args.data
    else:
        X, y = nn.load_digits()
        source = "embedded UCI 8×8 digits"
    if args.hidden < 1 or args.maxiter < 1 or args.lambda_ < 0:
        raise UsageError("--hidden and --maxiter must be ≥ 1 and --lambda ≥ 0.")
    X_train, X_test, y_train, y_test = nn.train_test_split(X, y, seed=args.seed)
    k = int(max(y.max() + 1, 2))
    net = nn.Network((X.shape[1], args.hidden, k), lambda_=args.lambda_)
    print(
        f"data: {source} — {len(X_train)} training, {len(X_test)} test examples; "
        f"network {X.shape[1]}-{args.hidden}-{k}, λ = {args.lambda_}, {args.method}, ≤ {args.maxiter} iterations"
    )
    t0 = time.perf_counter()
    fit = net.fit(X_train, y_train, method=args.method, maxiter=args.maxiter, rng=args.seed)
    seconds = time.perf_counter() - t0
    train_acc = float(np.mean(net.predict(fit.params, X_train) == y_train))
    test_acc = float(np.mean(net.predict(fit.params, X_test) == y_test))
    print(f"{len(fit.history)} iterations in {seconds:.1f} s; final cost {fit.result.fun:.6f}")
    print(f"training accuracy {100 * train_acc:.1f} %, test accuracy {100 * test_acc:.1f} %")
    if args.plot:
        try:
            from .plot import cost_curve, hidden_units
        except ImportError as exc:
            raise UsageError(str(exc)) from None
        folder = Path(args.plot)
        folder.mkdir(parents=True, exist_ok=True)
        cost_curve(fit.history).savefig(folder / "cost.png", dpi=100)
        W1 = net.layout.unpack(fit.params)["W1"]
        # The course's 20×20 images are unrolled column-major: show them the right way up.
        side = round(np.sqrt(W1.shape[1]))
        images = (
            W1.reshape(-1, side, side).transpose(0, 2, 1).reshape(W1.shape[0], -1)
            if args.data
            else W1
        )
        hidden_units(images).savefig(folder / "hidden_units.png", dpi=100)
        print(f"figures written to {folder}/cost.png and {folder}/hidden_units.png")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
