"""PyTorch and JAX adapters, Jacobians and Hessian-vector products; oracles: torch and JAX's own checkers."""

import numpy as np
import pytest
import torch

import gradcheck
from gradcheck import jax as gjax
from gradcheck import torch as gtorch

# ----- a catalogue of custom autograd Functions, right and wrong ----------------------------------


class Linear(torch.autograd.Function):
    """y = x Wᵀ + b; ``bug`` picks a planted mistake in backward."""

    bug = None

    @staticmethod
    def forward(ctx, x, W, b):
        ctx.save_for_backward(x, W)
        return x @ W.T + b

    @classmethod
    def grads(cls, x, W, g):
        return g @ W, g.T @ x, g.sum(0)


def _make(bug):
    class Op(Linear):
        @staticmethod
        def backward(ctx, g):
            x, W = ctx.saved_tensors
            gx, gW, gb = g @ W, g.T @ x, g.sum(0)
            if bug == "sign of x":
                gx = -gx
            elif bug == "missing grad_output":
                ones = torch.ones_like(g)
                gx, gW, gb = ones @ W, ones.T @ x, ones.sum(0)
            elif bug == "reduction axis":
                gb = g.sum(1)  # square shapes keep this silent shape-wise
            elif bug == "transposed weight":
                gW = x.T @ g
            return gx, gW, gb

    Op.__name__ = f"Linear_{bug}"
    return Op


CASES = [None, "sign of x", "missing grad_output", "reduction axis", "transposed weight"]


def _inputs(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (
        torch.randn(4, 4, generator=gen, dtype=torch.float64),
        torch.randn(4, 4, generator=gen, dtype=torch.float64),
        torch.randn(4, generator=gen, dtype=torch.float64),
    )


@pytest.mark.parametrize("bug", CASES)
def test_verdict_agrees_with_torch_gradcheck(bug):
    op = _make(bug)
    x, W, b = _inputs()
    theirs = torch.autograd.gradcheck(
        op.apply,
        (x.clone().requires_grad_(), W.clone().requires_grad_(), b.clone().requires_grad_()),
        raise_exception=False,
    )
    ours = gtorch.check_function(op.apply, x, W, b)
    assert ours.ok == theirs == (bug is None), str(ours)


@pytest.mark.parametrize(
    ("bug", "block", "kind"),
    [
        ("sign of x", "x", "sign"),
        ("transposed weight", "W", "layout"),
        ("reduction axis", "b", None),
    ],
)
def test_report_names_the_input_and_the_pattern(bug, block, kind):
    report = gtorch.check_function(_make(bug).apply, *_inputs())
    d = report.diagnoses[0]
    assert d.block == block
    if kind is not None:
        assert d.kind == kind
    assert {report.layout.block_of(np.array([i])) for i in report.mismatched} == {block}
    assert report.layout.names == ("x", "W", "b")


def test_missing_grad_output_factor_is_caught_and_entries_named():
    report = gtorch.check_function(_make("missing grad_output").apply, *_inputs())
    assert not report.ok
    text = str(report)
    assert "x[" in text
    assert "W[" in text


# ----- modules ---------------------------------------------------------------------------------------


def test_check_module_on_a_float32_mlp():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    X, y = torch.randn(10, 6), torch.randint(0, 3, (10,))
    before = [p.detach().clone() for p in model.parameters()]
    report = gtorch.check_module(model, torch.nn.functional.cross_entropy, X, y)
    assert report.ok, str(report)
    assert report.layout.names == ("0.weight", "0.bias", "2.weight", "2.bias")
    assert any("float32" in n and "float64" in n for n in report.notes)
    assert report.relative_difference < 1e-8
    for p, q in zip(model.parameters(), before, strict=True):  # the caller's model is untouched
        assert p.dtype == torch.float32
        assert torch.equal(p, q)


def test_check_module_finds_a_broken_custom_layer_by_parameter_name():
    class Scaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(5, 5, dtype=torch.float64))

        def forward(self, x):
            return _make("transposed weight").apply(
                x, self.weight, torch.zeros(5, dtype=torch.float64)
            )

    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(4, 5).double(), torch.nn.Sigmoid(), Scaled())
    X = torch.randn(5, 4, dtype=torch.float64)
    report = gtorch.check_module(model, lambda out: (out**2).sum(), X)
    assert not report.ok
    assert {report.layout.block_of(np.array([i])) for i in report.mismatched} == {"2.weight"}
    assert (report.diagnoses[0].kind, report.diagnoses[0].block) == ("layout", "2.weight")


def test_check_module_on_a_small_cnn_batched_and_not():
    torch.manual_seed(2)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(2 * 4 * 4, 3)
    )
    X, y = torch.randn(4, 1, 6, 6), torch.randint(0, 3, (4,))
    batched = gtorch.check_module(model, torch.nn.functional.cross_entropy, X, y)
    serial = gtorch.check_module(model, torch.nn.functional.cross_entropy, X, y, vectorized=False)
    assert batched.ok
    assert serial.ok
    assert any("vmap" in n for n in batched.notes)
    np.testing.assert_allclose(batched.numeric, serial.numeric, rtol=1e-6, atol=1e-9)


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


# ----- NumPy Jacobians and Hessians --------------------------------------------------------------


def _f(x):
    return np.array([x[0] * x[1], np.sin(x[2]) + x[0] ** 2, np.exp(x[1] * x[2])])


def _jac(x):
    return np.array(
        [
            [x[1], x[0], 0.0],
            [2 * x[0], 0.0, np.cos(x[2])],
            [0.0, x[2] * np.exp(x[1] * x[2]), x[1] * np.exp(x[1] * x[2])],
        ]
    )


X0 = np.array([0.3, -0.7, 1.1])


@pytest.mark.parametrize("form", ["jac", "vjp", "jvp"])
def test_check_jacobian_in_every_form(form):
    kw = {"jac": _jac, "vjp": lambda x, w: _jac(x).T @ w, "jvp": lambda x, v: _jac(x) @ v}
    assert gradcheck.check_jacobian(_f, X0, **{form: kw[form]}).ok

    def bad(x):
        J = _jac(x)
        J[2, 1] *= 1.5
        return J

    wrong = {"jac": bad, "vjp": lambda x, w: bad(x).T @ w, "jvp": lambda x, v: bad(x) @ v}
    report = gradcheck.check_jacobian(_f, X0, **{form: wrong[form]})
    assert not report.ok
    assert report.mismatched.tolist() == [1]
    assert report.diagnoses[-1].message.startswith("wrong Jacobian entries: J[2, 1]")


def test_check_jacobian_needs_exactly_one_form():
    with pytest.raises(TypeError, match="exactly one of jac=, vjp=, jvp="):
        gradcheck.check_jacobian(_f, X0)
    with pytest.raises(ValueError, match=r"jac must return shape \(3, 3\)"):
        gradcheck.check_jacobian(_f, X0, jac=lambda x: np.ones((3, 2)))


def test_check_hessian_of_a_rosenbrock():
    from scipy.optimize import rosen, rosen_der, rosen_hess_prod

    x = np.array([1.2, 0.8, -0.5, 1.5])
    assert gradcheck.check_hessian(rosen, x, grad=rosen_der, hessp=rosen_hess_prod).ok
    report = gradcheck.check_hessian(
        rosen, x, grad=rosen_der, hessp=lambda x, v: rosen_hess_prod(x, v) * np.r_[1, 1, 2, 1]
    )
    assert not report.ok
    assert 2 in report.mismatched.tolist()
