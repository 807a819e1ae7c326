"""Checkpoints: evaluations of one problem saved to a file, so that a rerun resumes.

A checkpoint belongs to one problem. Its first line is a header with the problem's fingerprint:
a hash of the point x, the settings that decide which points are evaluated, and the package
version, plus f's cost and a signature of its gradient at x. Every further line is one
evaluation, ``{"key": hash of the point, "cost": value, "sum": checksum}``.

What a checkpoint guarantees (the decisions, in order):

- **It knows its function.** Equal values at x do not prove the same function (a cost of log 2
  at θ = 0 whatever the code). A file whose header matches is *trusted* only after the first
  ``VERIFY`` points of this run that it holds were evaluated again and agreed with it within
  round-off and the spread measured at x; until then every point is evaluated, so nothing
  unverified is ever used. A disagreement means f was edited: the file is left as it is and the
  run continues in the next file beside it (``NAME-<key>.jsonl``, then
  ``NAME-<fingerprint>.jsonl``), with a note. This run's records are written only to a file
  trusted, or started by this run.
- **Every record carries a checksum** (of the problem's key, the point's key and the value): a
  record that fails it, or a line torn by a kill, is skipped with a note and its point evaluated
  again.
- **One writer at a time.** A new file is created exclusively and every file is held under an
  advisory lock (``fcntl.flock``) while the run writes it; a second run of the same or another
  problem finds it locked and writes beside it. Symlinks are never followed: a checkpoint path
  that is a symlink is left alone and the run writes beside it.
- **A checkpoint never ends a check.** A file that cannot be created or written (a folder that
  is read-only, a full disk, a file size limit) leaves the check running without saving, with a
  note; a read-only file of this problem is read and used, not written.

Lines are flushed (and fsync'ed) every ``FLUSH_SECONDS`` or ``FLUSH_EVERY`` records: a kill loses
at most that much work.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from .precision import differs

try:  # POSIX: advisory locks; elsewhere a checkpoint is not locked (documented)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

FORMAT = "gradcheck-checkpoint/2"
FLUSH_EVERY = 256  # records, or
FLUSH_SECONDS = 0.5  # seconds: a kill loses at most this much work
VERIFY = 3  # points of a matching file evaluated again before any of it is used


def point_key(point: np.ndarray) -> str:
    """A hash of the point's bytes: the key of its evaluation."""
    return hashlib.sha1(np.ascontiguousarray(point).tobytes()).hexdigest()


class Fingerprint(NamedTuple):
    """What identifies a problem: an exact key, and f's values at x compared within noise."""

    key: str  # hash of x, the settings and the package version
    cost: float
    signature: tuple[float, ...]  # the gradient at x along three fixed directions
    spread: float  # how much the cost varied between calls at x (0 for a deterministic f)

    def matches(self, header: dict[str, Any]) -> bool:
        try:
            cost = float(header["cost"])
            signature = tuple(float(s) for s in header["signature"])
            spread = max(self.spread, float(header.get("spread", 0.0)))
        except (KeyError, TypeError, ValueError):
            return False
        if header.get("key") != self.key or len(signature) != len(self.signature):
            return False
        if not same_value(cost, self.cost, spread):
            return False
        return all(
            abs(a - b) <= 1e-8 * max(abs(a), abs(b), 1e-300)
            for a, b in zip(signature, self.signature, strict=True)
        )


def same_value(a: complex, b: complex, spread: float) -> bool:
    """The same function at the same point: equal up to its spread between calls and round-off
    (:func:`gradcheck.precision.differs`, the probes' rule; NaN equals NaN: f was not finite
    there both times)."""
    return a == b or not bool(differs(complex(a), complex(b), spread))


def fingerprint(
    x: np.ndarray, settings: str, version: str, cost: float, gradient: np.ndarray, spread: float
) -> Fingerprint:
    """The fingerprint of checking f at x with the given settings."""
    digest = hashlib.sha256(np.ascontiguousarray(x).tobytes())
    digest.update(f"{settings}|{version}".encode())
    rng = np.random.default_rng(20_111)  # fixed: the same directions in every run
    g = np.nan_to_num(np.asarray(gradient, dtype=float))
    signature = tuple(float(g @ rng.standard_normal(g.size)) for _ in range(3))
    return Fingerprint(digest.hexdigest(), float(cost), signature, float(spread))


def _checksum(problem: str, key: str, cost: Any) -> str:
    text = f"{problem}|{key}|{json.dumps(cost)}"
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def candidates(path: Path, fp: Fingerprint) -> list[Path]:
    """Where a problem's evaluations may be: the path, then beside it by key, by the exact
    fingerprint, and (when those are taken) by process."""
    exact = hashlib.sha1(repr(tuple(fp)).encode()).hexdigest()[:10]
    tags = (fp.key[:10], exact, f"{exact}-{os.getpid()}")
    return [path, *(path.with_name(f"{path.stem}-{t}{path.suffix}") for t in tags)]


@dataclass
class Checkpoint:
    """The evaluations of one problem in a file: ``get`` what is there, ``record`` what is new.

    Open with :meth:`open`; :meth:`close` when the check ends (it flushes and unlocks)."""

    path: Path
    fingerprint: Fingerprint
    notes: list[str] = field(default_factory=list)
    places: list[Path] = field(default_factory=list)  # the files still to try, in order
    _file: IO[str] | None = None  # open, locked, for appending (None: not writable)
    _cache: dict[str, Any] = field(default_factory=dict)
    _unverified: dict[str, Any] = field(default_factory=dict)  # hits awaiting fresh values
    _verified: int = 0
    _trusted: bool = True  # False while a file written by another run awaits verification
    _pending: list[str] = field(default_factory=list)
    _flushed: float = field(default_factory=time.monotonic)

    @classmethod
    def open(cls, path: str | os.PathLike[str], fp: Fingerprint) -> Checkpoint:
        """The checkpoint of this problem at ``path``, or beside it (see the module notes)."""
        path = Path(path)
        checkpoint = cls(path, fp, places=candidates(path, fp))
        checkpoint._next(None)
        return checkpoint

    # ----- choosing the file -------------------------------------------------------------------

    def _next(self, why: str | None) -> None:
        """Move to the next usable file; ``why`` says why the current one was left."""
        first = self.path
        self._release()
        self._cache, self._unverified, self._verified, self._trusted = {}, {}, 0, True
        reasons = [why] if why else []
        while self.places:
            place = self.places.pop(0)
            claimed = claim(place, self.fingerprint)
            if isinstance(claimed, Claimed):
                self.path, self._file = place, claimed.file
                self._cache, self._trusted = claimed.records, not claimed.records
                self.notes += claimed.notes
                if place != first or reasons:
                    self.notes.append(
                        f"checkpoint {first}: {'; '.join(reasons) or 'not this problem'}; this "
                        f"run's evaluations are saved in {place}."
                    )
                return
            reasons.append(claimed)
            if claimed.startswith("cannot be written"):
                break  # the folder itself refuses: no file beside will do better
        self.notes.append(
            f"checkpoint {first}: {'; '.join(reasons)}. The check goes on without saving its "
            "evaluations."
        )
        self._file = None

    # ----- reading and recording ---------------------------------------------------------------

    def get(self, key: str) -> Any:
        """The saved cost at this point, or None: evaluate it. Until the file is trusted, a
        saved point is evaluated too, and its fresh value checked against the saved one."""
        hit = self._cache.get(key)
        if hit is not None and not self._trusted:
            self._unverified[key] = hit
            return None
        return hit

    def record(self, key: str, value: complex) -> None:
        """Save a fresh evaluation (checking it against the file when it was saved before)."""
        if key in self._unverified:
            self._verify(key, value)  # saved already (or, if it differs, saved in the next file)
            return
        if key in self._cache:  # saved already: a saved point evaluated while verifying
            return
        self._cache[key] = value
        v = complex(value)
        cost: Any = [v.real, v.imag] if v.imag else v.real
        line = {"key": key, "cost": cost, "sum": _checksum(self.fingerprint.key, key, cost)}
        self._pending.append(json.dumps(line) + "\n")
        if len(self._pending) >= FLUSH_EVERY or time.monotonic() - self._flushed > FLUSH_SECONDS:
            self.flush()

    def _verify(self, key: str, value: complex) -> bool:
        """Compare a fresh value with the saved one; False when they differ (f was edited: the
        file is left, and this run continues in the next one beside it)."""
        saved = self._unverified.pop(key)
        if same_value(saved, value, self.fingerprint.spread):
            self._verified += 1
            if self._verified >= min(VERIFY, len(self._cache)):
                self._trusted = True
                self._unverified.clear()
            return True
        pending = self._pending
        self._next(
            f"its saved value at a point evaluated again differs ({_shown(saved)} then, "
            f"{_shown(value)} now): f changed since it was written, so none of it was used"
        )
        self._pending = pending
        self.record(key, value)
        return False

    def flush(self) -> None:
        """Write what is pending to disk (and make the OS write it: a kill loses nothing). A
        file still awaiting verification is written once trusted."""
        self._flushed = time.monotonic()
        if not self._pending or not self._trusted:
            return
        if self._file is None:
            self._pending.clear()
            return
        self._write(self._pending)
        self._pending.clear()

    def _write(self, lines: list[str]) -> None:
        assert self._file is not None
        try:
            _append(self._file, lines)
        except OSError as exc:
            self.notes.append(_unsaved(self.path, exc))
            self._release()

    def close(self) -> None:
        """Flush and unlock. A file that was never verified (none of its points came up in
        this run) is another path's: this run's evaluations go to the next file beside it."""
        if self._pending and not self._trusted and self._file is not None:
            pending = self._pending
            self._next("none of its saved points came up in this run")
            self._pending = pending
        self._trusted = True
        self.flush()
        self._release()

    def _release(self) -> None:
        if self._file is not None:
            _close(self._file)
            self._file = None


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class Claimed(NamedTuple):
    """A file taken for this run: open and locked for appending (None: read, not written),
    the evaluations it holds, and what was noticed reading it."""

    file: IO[str] | None
    records: dict[str, Any]
    notes: tuple[str, ...] = ()


def claim(place: Path, fp: Fingerprint) -> Claimed | str:
    """Take ``place`` for this run (created exclusively, or opened and locked, and read), or
    say why not."""
    if place.is_symlink():
        return f"{place} is a symbolic link (not followed)"
    if place.is_dir():
        return f"{place} is a folder"
    try:
        fd = os.open(place, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
        created = True
    except FileExistsError:
        created = False
        try:
            fd = os.open(place, os.O_RDWR | _NOFOLLOW)
        except PermissionError:
            return _read_only(place, fp)
    except OSError as exc:
        return f"cannot be written ({_reason(exc)})"
    handle = os.fdopen(fd, "r+", encoding="utf-8")
    if not _lock(handle):
        handle.close()
        return f"{place} is in use by another run"
    if created or os.fstat(fd).st_size == 0:
        try:
            _start(handle, fp)
        except OSError as exc:
            _close(handle)
            return f"cannot be written ({_reason(exc)})"
        return Claimed(handle, {})
    loaded = _load(place, fp, handle)
    if loaded is None:
        _close(handle)
        return f"{place} belongs to another problem (another function, point, settings or version)"
    return loaded


def _read_only(place: Path, fp: Fingerprint) -> Claimed | str:
    """A file this run may read but not write: used if it is this problem's."""
    try:
        loaded = _load(place, fp, None)
    except OSError as exc:
        return f"{place} cannot be read ({_reason(exc)})"
    if loaded is None:
        return f"{place} is read-only and belongs to another problem"
    return loaded._replace(
        notes=(*loaded.notes, f"checkpoint {place} is read-only: read, not written to.")
    )


def _start(handle: IO[str], fp: Fingerprint) -> None:
    """Write the header of a file this run begins."""
    header = {
        "format": FORMAT,
        "key": fp.key,
        "cost": fp.cost,
        "signature": list(fp.signature),
        "spread": fp.spread,
    }
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(header) + "\n")
    handle.flush()


def _load(place: Path, fp: Fingerprint, handle: IO[str] | None) -> Claimed | None:
    """The file's evaluations if it is this problem's (None if it belongs to another); a torn
    last line is ended before anything is appended."""
    header, records, skipped = _read(place, fp.key)
    if header is None or not fp.matches(header):
        return None
    notes: tuple[str, ...] = ()
    if skipped:
        lines = f"{skipped} unreadable line{'s' if skipped > 1 else ''}"
        notes += (
            (
                f"checkpoint {place}: {lines} (torn by an interrupted write, or failing its "
                "checksum) skipped; those points were evaluated again."
            ),
        )
    if handle is not None:  # a torn last line: end it before appending
        handle.seek(0, os.SEEK_END)
        if handle.tell() > 0:
            with place.open("rb") as raw:
                raw.seek(-1, os.SEEK_END)
                torn = raw.read(1) != b"\n"
            if torn:
                try:
                    _append(handle, ["\n"])
                except OSError as exc:
                    _close(handle)
                    handle = None
                    notes += (_unsaved(place, exc),)
    return Claimed(handle, records, notes)


def _close(handle: IO[str]) -> None:
    """Close (which releases its lock), whatever is left unwritten."""
    with contextlib.suppress(OSError):
        handle.close()


def _append(handle: IO[str], lines: list[str]) -> None:
    """Lines at the end of the file, on disk before this returns (a kill loses nothing)."""
    handle.seek(0, os.SEEK_END)
    handle.writelines(lines)
    handle.flush()
    os.fsync(handle.fileno())


def _lock(handle: IO[str]) -> bool:
    """An exclusive advisory lock on the open file, without waiting: False if another holds it."""
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _shown(value: complex) -> str:
    v = complex(value)
    return f"{v.real:.17g}" if v.imag == 0 else f"{v:.17g}"


def _unsaved(place: Path, exc: OSError) -> str:
    return (
        f"checkpoint {place} could not be written ({_reason(exc)}): the check went on without "
        "saving its evaluations."
    )


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _read(path: Path, problem: str) -> tuple[dict[str, Any] | None, dict[str, Any], int]:
    """The header, the evaluations by key, and how many lines were skipped (torn, or failing
    their checksum)."""
    header: dict[str, Any] | None = None
    records: dict[str, Any] = {}
    skipped = 0
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if number == 0:
                    header = item if item.get("format") == FORMAT else None
                    continue
                key, value = str(item["key"]), item["cost"]
                if item.get("sum") != _checksum(problem, key, value):
                    raise ValueError("checksum")
                records[key] = complex(*value) if isinstance(value, list) else float(value)
            except (ValueError, KeyError, TypeError, AttributeError):
                if number == 0:
                    return None, {}, 0
                skipped += 1
    return header, records, skipped
