"""The command's two kinds of error, told apart by type (exit 2 and exit 3)."""

from __future__ import annotations


class UsageError(Exception):
    """A problem with the command line or its files, shown as one line (exit 2)."""


class FunctionRaised(Exception):
    """The user's function raised while being checked (exit 3)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error
