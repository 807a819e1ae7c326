"""``assert_gradient``: a gradient check for pytest and unittest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .pipeline import check
from .report import Report


def assert_gradient(f: Callable[[np.ndarray], Any], x: Any, **check_kwargs: Any) -> Report:
    """Check a gradient and raise ``AssertionError`` with the full report if it is wrong.

    Takes the arguments of :func:`gradcheck.check`; returns the report when the gradient is
    right, so that warnings can be inspected.

    Examples
    --------
    >>> import numpy as np
    >>> _ = assert_gradient(lambda x: (float(x @ x), 2 * x), np.array([1.0, 2.0, 3.0]))
    >>> assert_gradient(lambda x: (float(x @ x), x), np.array([1.0, 2.0, 3.0]))
    Traceback (most recent call last):
    ...
    AssertionError: gradcheck FAIL: 3 of 3 entries wrong — scale in x[0], x[1], x[2]
    ...
    """
    __tracebackhide__ = True  # pytest shows the report, not this frame
    report = check(f, x, **check_kwargs)
    if not report.ok:
        raise AssertionError(str(report))
    return report
