"""The JAX adapter; oracle: jax.test_util.check_grads."""

import numpy as np
import pytest

pytest.importorskip("jax", reason="the jax extra is part of the dev install")

from gradcheck import jax as gjax

# ----- JAX ----------------------------------------------------------------------------------------------


def _jax_layer(bug):
    import jax
    import jax.numpy as jnp

    @jax.custom_vjp
    def layer(w, x):
        return jnp.tanh(x @ w)

    def fwd(w, x):
        y = jnp.tanh(x @ w)
        return y, (w, x, y)

    def bwd(res, g):
        w, x, y = res
        gz = g * (1 - y**2)
        gw = x.T @ gz
        if bug == "sign":
            gw = -gw
        elif bug == "missing derivative":
            gw = x.T @ g
        return gw, gz @ w.T

    layer.defvjp(fwd, bwd)
    return layer


@pytest.mark.parametrize("bug", [None, "sign", "missing derivative"])
def test_jax_verdict_agrees_with_check_grads(bug):
    import jax
    import jax.numpy as jnp
    from jax.test_util import check_grads

    layer = _jax_layer(bug)
    params = {"dense1": {"w": jnp.asarray(np.random.default_rng(0).standard_normal((3, 2)))}}
    x = jnp.asarray(np.random.default_rng(1).standard_normal((4, 3)))

    def loss(p, x):
        return jnp.sum(layer(p["dense1"]["w"], x) ** 2)

    report = gjax.check_function(loss, params, x)
    with jax.enable_x64(True):
        p64 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), params)
        try:
            check_grads(
                lambda p: loss(p, jnp.asarray(x, jnp.float64)), (p64,), order=1, modes=("rev",)
            )
            theirs = True
        except AssertionError:
            theirs = False
    assert report.ok == theirs == (bug is None), str(report)
    if bug == "sign":
        assert report.diagnoses[0].kind == "sign"
    if bug is not None:
        assert report.layout.names == ("params['dense1']['w']",)
        assert "params['dense1']['w'][" in str(report)


def test_jax_vector_output_names_wrong_jacobian_entries():
    import jax.numpy as jnp

    layer = _jax_layer("missing derivative")
    params = {"w": jnp.asarray(np.random.default_rng(0).standard_normal((3, 2)))}
    x = jnp.asarray(np.random.default_rng(1).standard_normal((4, 3)))
    report = gjax.check_function(lambda p, x: layer(p["w"], x), params, x)
    assert not report.ok
    assert any(d.message.startswith("wrong Jacobian entries: J[") for d in report.diagnoses)


def test_jax_batches_with_vmap_under_jit_and_gives_the_same_numbers():
    import jax.numpy as jnp

    params = {"w": jnp.asarray(np.random.default_rng(0).standard_normal((10, 4)))}
    x = jnp.asarray(np.random.default_rng(1).standard_normal((4, 10)))
    loss = lambda p, x: jnp.sum(jnp.tanh(x @ p["w"]) ** 2)
    batched = gjax.check_function(loss, params, x)
    serial = gjax.check_function(loss, params, x, vectorized=False)
    assert batched.ok
    assert "perturbed parameters were evaluated in batches with jax.vmap." in batched.notes
    # the batches were first tried on two points against one at a time: four evaluations
    assert batched.evaluations == serial.evaluations + 4
    np.testing.assert_allclose(batched.numeric, serial.numeric, rtol=1e-6, atol=1e-10)
