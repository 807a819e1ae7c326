"""gradcheck: check hand-written gradients against finite differences, and say what is wrong.

>>> import numpy as np, gradcheck
>>> report = gradcheck.check(lambda x: (float(x @ x), 2 * x), np.array([1.0, 2.0]))
>>> report.ok
True
"""

from . import course
from ._version import __version__
from .adapters.reference import check_against_reference
from .callbacks import inplace
from .differences import numerical_gradient
from .jacobian import check_hessian, check_jacobian
from .layers import check_layer
from .layout import Layout
from .params import check_model
from .pipeline import check
from .report import Diagnosis, Report
from .testing import assert_gradient

__all__ = [
    "Diagnosis",
    "Layout",
    "Report",
    "__version__",
    "assert_gradient",
    "check",
    "check_against_reference",
    "check_hessian",
    "check_jacobian",
    "check_layer",
    "check_model",
    "course",
    "inplace",
    "numerical_gradient",
]
