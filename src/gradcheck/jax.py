"""``gradcheck.jax``: JAX adapter (see :mod:`gradcheck.adapters.jax`)."""

from .adapters.jax import check_function

__all__ = ["check_function"]
