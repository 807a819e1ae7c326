"""Reading the user's files for the command: their function, their point, their arguments.

Every load, parse or OS error is a :class:`~gradcheck.cli.errors.UsageError` naming the option
and the file (exit 2).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UsageError


def load_function(target: str) -> Any:
    """``MODULE_OR_FILE:FUNCTION``, imported from the current folder like ``python -m`` does."""
    if ":" not in target:
        raise UsageError(f"expected MODULE_OR_FILE:FUNCTION, e.g. mymodule:cost, got {target!r}.")
    where, name = target.rsplit(":", 1)
    user_folder(Path.cwd())
    try:
        if where.endswith(".py") or Path(where).is_file():
            module = import_file(where)
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


def user_folder(folder: Path) -> None:
    """Make the user's folder importable, after the standard library: a user's ``random.py``
    or ``gradcheck.py`` must not replace a module that numpy, gradcheck or a worker process
    imports (``python -m`` puts the current folder first: it moves behind the rest)."""
    text = str(folder)
    for entry in ("", text):
        while entry in sys.path:
            sys.path.remove(entry)
    sys.path.append(text)


def import_file(where: str) -> Any:
    path = Path(where)
    if not path.is_file():
        raise UsageError(f"no such file: {where}")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {where}")
    module = importlib.util.module_from_spec(spec)
    # Importable by name, so that worker processes (--workers) can unpickle its functions.
    user_folder(path.parent.resolve())
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_args(path: str | None, pairs: list[str]) -> dict[str, Any]:
    """Named values from ``--args FILE`` (.npz or .mat) and ``--arg NAME=VALUE``."""
    values: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise UsageError(f"--args: no such file: {path}")
        if file.suffix.lower() not in (".npz", ".mat"):
            raise UsageError(f"--args must be a .npz or .mat file, got {file.name}.")
        with reading("--args", file):
            if file.suffix.lower() == ".npz":
                with file.open("rb") as handle, np.load(handle) as data:
                    values.update({k: data[k] for k in data.files})
            else:
                # A MATLAB scalar is a 1×1 array: pass it as a number.
                values.update({k: v.item() if v.size == 1 else v for k, v in mat(file).items()})
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--arg expects NAME=VALUE, e.g. --arg lambda_=3, got {pair!r}.")
        values[name] = scalar(text)
    return values


def scalar(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def bind(f: Any, target: str, values: dict[str, Any]) -> dict[str, Any]:
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
def reading(option: str, path: Path) -> Iterator[None]:
    """Any error reading or parsing a user's file as one line naming the option and the file."""
    try:
        yield
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 (NumPy, SciPy and pickle raise many kinds)
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{option} {path}: cannot be read ({detail}).") from None


def load_point(path: Path, key: str | None) -> np.ndarray:
    if not path.is_file():
        raise UsageError(f"--x0: no such file: {path}")
    with reading("--x0", path):
        return point(path, key)


def point(path: Path, key: str | None) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        x = np.load(path)
    elif suffix in (".txt", ".csv"):
        x = np.loadtxt(path, delimiter="," if suffix == ".csv" else None)
    elif suffix == ".mat":
        data = mat(path)
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


def mat(path: Path) -> dict[str, Any]:
    """The variables of a .mat file (SciPy's reader, without its ``__header__`` entries)."""
    from scipy.io import loadmat

    return {k: v for k, v in loadmat(path).items() if not k.startswith("__")}


def parse_blocks(spec: str) -> dict[str, tuple[int, ...]]:
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
