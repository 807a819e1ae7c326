"""``gradcheck.torch``: PyTorch adapter (see :mod:`gradcheck.adapters.torch`)."""

from .adapters.torch import check_function, check_module

__all__ = ["check_function", "check_module"]
