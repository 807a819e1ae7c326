"""The command's subcommands: ``demo``, ``check``, ``course`` and ``train``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..executors import stop_pool, watch_parent
from .errors import FunctionRaised, UsageError
from .files import bind, load_args, load_function, load_point, parse_blocks


def demo_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .. import check, ex4
    from ..examples import nnCost

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


def check_command(args: argparse.Namespace) -> int:
    from .. import check

    f = load_function(args.target)
    module = args.target.rsplit(":", 1)[0]
    grad = load_function(f"{module}:{args.grad}") if args.grad else None
    second = load_function(f"{module}:{args.cost}") if args.cost else None
    x0 = load_point(Path(args.x0), args.key)
    kwargs = bind(f, args.target, load_args(args.args, args.arg))
    blocks = parse_blocks(args.blocks) if args.blocks else None
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
        "cost": second,
    }
    report = run_check(lambda **more: check(f, x0, grad, kwargs=kwargs, **options, **more), args)
    args.code = code(report)
    print(strict_json(report.to_dict()) if args.json else report)
    if args.code == 130:
        return interrupted(args)
    write_files(report, args, f, x0, kwargs)
    return int(args.code)


def code(report: Any) -> int:
    """The exit status of a finished check: 0 right, 1 wrong, 3 a call of f ran past
    ``--timeout``, 130 interrupted (Ctrl-C)."""
    incomplete = str(getattr(report, "incomplete", ""))
    if incomplete.startswith("interrupted"):
        return 130
    if incomplete.startswith("f did not return within"):
        print(f"gradcheck: {incomplete}", file=sys.stderr)
        return 3
    return 0 if report.ok else 1


def interrupted(args: argparse.Namespace) -> int:
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


def strict_json(data: Any) -> str:
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


def run_check(run: Any, args: argparse.Namespace) -> Any:
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


def write_files(
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


def course_command(args: argparse.Namespace) -> int:
    from ..course import check_course

    fn = load_function(args.target)
    grad = load_function(f"{args.target.rsplit(':', 1)[0]}:{args.grad}") if args.grad else None
    if args.lambda_ < 0:
        raise UsageError(f"--lambda must be ≥ 0, got {args.lambda_}.")
    result = run_check(
        lambda: check_course(fn, args.lambda_, grad=grad, order=args.order, labels=args.labels),
        args,
    )
    args.code = code(result)
    print(strict_json(result.to_dict()) if args.json else result)
    return interrupted(args) if args.code == 130 else int(args.code)


def train_command(args: argparse.Namespace) -> int:
    from .. import ex4, nn

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
            from ..plot import cost_curve, hidden_units
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
