"""What the user's function prints during a check: counted, its first lines kept, not shown.

A function that prints (a learner's debugging ``print(J)``) floods the terminal during a check
that calls it hundreds of times, and buries the verdict. While a check runs, standard output is
redirected here; the report's notes then say how many lines f printed and show the first three.
``GRADCHECK_SHOW_OUTPUT=1`` lets them through instead. Worker processes print to their own
output, which is not redirected.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator

KEPT = 3


class Printed(io.TextIOBase):
    """A text stream that counts lines and keeps the first ``KEPT``."""

    def __init__(self) -> None:
        self.lines = 0
        self.first: list[str] = []
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._partial += text
        *done, self._partial = self._partial.split("\n")
        self.lines += len(done)
        self.first += done[: max(0, KEPT - len(self.first))]
        return len(text)

    def note(self) -> str | None:
        """The note for the report, or None when f printed nothing."""
        count = self.lines + (1 if self._partial else 0)
        if not count:
            return None
        first = (self.first + ([self._partial] if self._partial else []))[:KEPT]
        shown = "; ".join(repr(line[:120]) for line in first)
        return (
            f"your function printed {count} line{'s' if count != 1 else ''} during the check "
            f"(not shown; the first {len(first)}: {shown}). Pass --show-output on the command "
            "line (GRADCHECK_SHOW_OUTPUT=1 in Python) to see them."
        )


@contextlib.contextmanager
def captured() -> Iterator[Printed]:
    """Standard output redirected to a :class:`Printed` while the block runs (unless
    ``GRADCHECK_SHOW_OUTPUT`` is set, or output is already being captured by a check)."""
    printed = Printed()
    if os.environ.get("GRADCHECK_SHOW_OUTPUT") or isinstance(sys.stdout, Printed):
        yield printed
        return
    with contextlib.redirect_stdout(printed):
        yield printed
