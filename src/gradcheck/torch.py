"""``gradcheck.torch``: PyTorch adapter (see :mod:`gradcheck.adapters.torch`)."""

from .adapters.reference import check_against_reference
from .adapters.torch import check_function, check_module

__all__ = ["check_against_reference", "check_function", "check_module"]
