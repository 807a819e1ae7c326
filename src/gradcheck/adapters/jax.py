"""JAX: check ``jax.grad`` (or a ``custom_vjp``) of a function of a pytree of parameters.

Each leaf is a named block (``params['dense1']['w']``); the check runs with float64 enabled,
inside ``jax.enable_x64(True)``, without changing JAX's global configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..evaluate import AGREED, Vmapped
from ..jacobian import jacobian_extension, weighted
from ..layout import Layout
from ..pipeline import make_settings, run
from ..problem import make_problem
from ..report import Diagnosis, Report

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import Findings


def _jax() -> Any:
    try:
        import jax
    except ImportError:
        raise ImportError('gradcheck.jax needs JAX: pip install "gradcheck[jax]"') from None
    return jax


def check_function(
    f: Callable, params: Any, *args: Any, vectorized: bool = True, **options: Any
) -> Report:
    """Check the reverse-mode derivative of ``f(params, *args)`` with respect to ``params``.

    ``f`` may return a scalar or an array (then checked through a random weighting of its
    outputs, and wrong Jacobian entries are named). ``args`` are passed through unchanged;
    ``**options`` to :func:`gradcheck.check` (``method``, ``step``, ``mode``, ``rtol``, …).
    With ``vectorized=True`` (the default) perturbed parameters are evaluated in batches, by
    ``jax.vmap`` under ``jax.jit``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
    >>> loss = lambda p, x: jnp.sum(jnp.tanh(x @ p["w"] + p["b"]) ** 2)
    >>> check_function(loss, params, jnp.array([[1.0, 2.0]])).ok
    True
    """
    jax = _jax()
    import jax.numpy as jnp

    with jax.enable_x64(True):
        leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
        if not leaves:
            raise ValueError("params holds no arrays to check.")
        names = ["params" + jax.tree_util.keystr(path) for path, _ in leaves]
        layout = Layout(
            {n: tuple(np.shape(leaf)) for n, (_, leaf) in zip(names, leaves, strict=True)}
        )
        x0 = np.concatenate([np.asarray(leaf, dtype=np.float64).reshape(-1) for _, leaf in leaves])
        args64 = [
            jnp.asarray(a, dtype=jnp.float64)
            if np.issubdtype(np.asarray(a).dtype, np.floating)
            else a
            for a in args
        ]

        def unflatten(x: Any) -> Any:
            parts = [x[layout.slice(n)].reshape(s) for n, s in layout.blocks.items()]
            return jax.tree_util.tree_unflatten(treedef, parts)

        def flat_f(x: Any) -> Any:
            return jnp.ravel(f(unflatten(x), *args64))

        forward = jax.jit(flat_f)

        @jax.jit
        def pullback(x: Any, w: Any) -> Any:
            _, vjp = jax.vjp(flat_f, x)
            return vjp(w)[0]

        batch = jax.jit(jax.vmap(flat_f))
        on_host = lambda x: np.asarray(forward(jnp.asarray(x)))
        vjp = lambda x, w: np.asarray(pullback(jnp.asarray(x), jnp.asarray(w)))
        batched = (
            Vmapped(lambda X: np.asarray(batch(jnp.asarray(X))), on_host) if vectorized else None
        )
        seed = int(options.pop("seed", 0))
        problem, transpose = weighted(
            make_problem(on_host, x0, blocks=layout), ("vjp", vjp), batched, seed
        )
        report = run(
            problem,
            make_settings(seed=seed, **options),
            jacobian_extension(on_host, transpose, late_notes=_vmap_note),
        )
    return report


def _vmap_note(found: Findings) -> tuple[list[Diagnosis], list[str]]:
    """Whether jax.vmap's batches were used (the evaluator tried them against one point at a
    time on the first batch large enough)."""
    verdict = found.evaluator.ledger.batches
    if verdict is None:
        return [], []
    if verdict == AGREED:
        return [], ["perturbed parameters were evaluated in batches with jax.vmap."]
    said = (
        f"jax.vmap's batches were not used ({verdict} when tried against one point at a "
        "time): perturbed parameters were evaluated one at a time."
    )
    return [], [said]
