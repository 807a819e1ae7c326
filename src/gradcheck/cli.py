"""The ``gradcheck`` command: ``demo``, ``check`` and ``train``.

Exit codes: 0 the gradient is right (or the command succeeded), 1 the gradient is wrong,
2 a usage error (printed as one line, without a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


class UsageError(Exception):
    """A problem with the command line or its files, shown as one line."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except UsageError as exc:
        print(f"gradcheck: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gradcheck: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradcheck",
        description="Check hand-written gradients against finite differences and say what is wrong.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo", help="the course's gradient check, then the learner's bug, diagnosed"
    )
    demo.set_defaults(run=_demo)

    chk = sub.add_parser("check", help="check the gradient of a function of yours")
    chk.add_argument(
        "target",
        metavar="MODULE_OR_FILE:FUNCTION",
        help="e.g. mymodule:cost or path/to/file.py:cost; the function returns (cost, gradient)",
    )
    chk.add_argument(
        "--x0", required=True, metavar="FILE", help="the point: .npy, .txt or .mat (with --key)"
    )
    chk.add_argument("--key", help="variable name in a .mat file")
    chk.add_argument(
        "--grad", metavar="FUNCTION", help="name of a separate gradient function in the same module"
    )
    chk.add_argument(
        "--blocks", metavar="SPEC", help='named blocks, e.g. "Theta1=25x401,Theta2=10x26"'
    )
    chk.add_argument(
        "--order", choices=["C", "F"], default="C", help="how blocks are unrolled (F for MATLAB)"
    )
    chk.add_argument(
        "--method", default="auto", choices=["auto", "forward", "central", "complex", "richardson"]
    )
    chk.add_argument("--step", type=float, help="a fixed step (default: chosen per entry)")
    chk.add_argument("--mode", default="auto", choices=["auto", "full", "directional", "sample"])
    chk.add_argument("--seed", type=int, default=0)
    chk.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="evaluate f in N processes (f must be defined at module level)",
    )
    chk.add_argument(
        "--checkpoint", metavar="FILE", help="save evaluations to FILE; a rerun resumes from it"
    )
    chk.add_argument("--json", action="store_true", help="print the report as JSON")
    chk.add_argument(
        "--html", metavar="FILE", help="write a self-contained HTML report (needs matplotlib)"
    )
    chk.add_argument(
        "--png",
        metavar="DIR",
        help="write heatmap.png, scatter.png and steps.png (needs matplotlib)",
    )
    chk.set_defaults(run=_check)

    train = sub.add_parser(
        "train", help="train a network on the embedded digits (or the course's .mat)"
    )
    train.add_argument(
        "--data",
        metavar="FILE",
        help="the course's ex4data1.mat (default: the embedded 8×8 digits)",
    )
    train.add_argument("--hidden", type=int, default=25, help="hidden units (default 25)")
    train.add_argument(
        "--lambda", dest="lambda_", type=float, default=1.0, help="L2 strength (default 1)"
    )
    train.add_argument("--maxiter", type=int, default=400, help="iterations (default 400)")
    train.add_argument("--method", default="L-BFGS-B", choices=["L-BFGS-B", "CG"])
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--plot", metavar="DIR", help="save cost.png (training cost) and hidden_units.png"
    )
    train.set_defaults(run=_train)
    return parser


# ----- demo --------------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    from . import check, ex4
    from .examples import question_cost_function

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
    sizes = (3, 5, 3)
    theta1 = ex4.debug_initialize_weights(5, 3)
    theta2 = ex4.debug_initialize_weights(3, 5)
    X = ex4.debug_initialize_weights(5, 2)
    y = 1 + np.arange(1, 6) % 3
    params = np.concatenate([theta1.ravel(), theta2.ravel()])  # the learner unrolls row-major

    def cost(p: np.ndarray) -> tuple[float, np.ndarray]:
        return question_cost_function(p, *sizes, X, y, 3.0)

    numgrad = ex4.compute_numerical_gradient(cost, params)
    grad = cost(params)[1]
    rel = np.linalg.norm(numgrad - grad) / np.linalg.norm(numgrad + grad)
    print(
        f"The course's check says: Relative Difference: {rel:g} (should be < 1e-9).\n"
        "But which entries are wrong, and why?\n"
    )
    console.rule("3. gradcheck.check on the learner's cost")
    print("gradcheck.check(cost, params, blocks={'Theta1': (5, 4), 'Theta2': (3, 6)})\n")
    report = check(cost, params, blocks={"Theta1": (5, 4), "Theta2": (3, 6)})
    print(report)
    return 0


# ----- check -------------------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    from . import check

    f = _load_function(args.target)
    grad = _load_function(f"{args.target.rsplit(':', 1)[0]}:{args.grad}") if args.grad else None
    x0 = _load_point(Path(args.x0), args.key)
    blocks = _parse_blocks(args.blocks) if args.blocks else None
    if args.workers < 0:
        raise UsageError(
            f"--workers must be 0 (serial) or a positive number of processes, got {args.workers}."
        )
    executor = None
    if args.workers:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(
            args.workers, mp_context=multiprocessing.get_context("spawn")
        )
    try:
        report = check(
            f,
            x0,
            grad,
            blocks=blocks,
            order=args.order,
            method=args.method,
            step=args.step,
            mode=args.mode,
            seed=args.seed,
            executor=executor,
            workers=args.workers or None,
            checkpoint=args.checkpoint,
        )
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    except Exception as exc:  # noqa: BLE001 (f's own error: one line, with where it happened)
        where = " ".join(getattr(exc, "__notes__", []))
        raise UsageError(f"f raised {type(exc).__name__}: {exc} {where}".strip()) from None
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    try:
        if args.html:
            Path(args.html).write_text(report.to_html(f=f, x=x0), encoding="utf-8")
        if args.png:
            folder = Path(args.png)
            folder.mkdir(parents=True, exist_ok=True)
            for kind in ("heatmap", "scatter", "steps"):
                extra = {"f": f, "x": x0} if kind == "steps" else {}
                report.plot(kind, **extra).savefig(folder / f"{kind}.png", dpi=100)
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    return 0 if report.ok else 1


def _load_function(target: str) -> Any:
    if ":" not in target:
        raise UsageError(f"expected MODULE_OR_FILE:FUNCTION, e.g. mymodule:cost, got {target!r}.")
    where, name = target.rsplit(":", 1)
    try:
        if where.endswith(".py") or Path(where).is_file():
            path = Path(where)
            if not path.is_file():
                raise UsageError(f"no such file: {where}")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise UsageError(f"cannot import {where}")
            module = importlib.util.module_from_spec(spec)
            # Importable by name, so that worker processes (--workers) can unpickle its functions.
            sys.path.insert(0, str(path.parent.resolve()))
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except ImportError as exc:
        raise UsageError(f"cannot import {where!r}: {exc}") from None
    try:
        return getattr(module, name)
    except AttributeError:
        raise UsageError(f"{where} has no function {name!r}.") from None


def _load_point(path: Path, key: str | None) -> np.ndarray:
    if not path.is_file():
        raise UsageError(f"--x0: no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        x = np.load(path)
    elif suffix in (".txt", ".csv"):
        x = np.loadtxt(path, delimiter="," if suffix == ".csv" else None)
    elif suffix == ".mat":
        from scipy.io import loadmat

        data = {k: v for k, v in loadmat(path).items() if not k.startswith("__")}
        if key is None:
            if len(data) != 1:
                raise UsageError(f"--x0 {path} holds {sorted(data)}: name one with --key.")
            key = next(iter(data))
        if key not in data:
            raise UsageError(f"--key {key!r} is not in {path}; it holds {sorted(data)}.")
        x = data[key]
    else:
        raise UsageError(f"--x0 must be a .npy, .txt, .csv or .mat file, got {path.name}.")
    x = np.asarray(x, dtype=float)
    if x.ndim == 2 and 1 in x.shape:
        x = x.ravel()  # a column or row vector
    if x.ndim != 1:
        raise UsageError(f"--x0 must hold a vector, got an array of shape {x.shape}.")
    return x


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
