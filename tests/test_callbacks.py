"""In-place callbacks (NLopt style) and costs with randomness checked under fixed randomness."""

import random

import numpy as np
import pytest

import gradcheck
from gradcheck.callbacks import UnwrittenGradient


def nlopt_right(x, grad):
    if grad.size > 0:
        grad[:] = 2 * x
    return float(x @ x)


def nlopt_rebinds(x, grad):
    if grad.size > 0:
        grad = 2 * x
    return float(x @ x)


def nlopt_partial(x, grad):
    grad[:3] = 2 * x[:3]
    return float(x @ x)


def test_an_inplace_callback_is_checked():
    assert gradcheck.check(gradcheck.inplace(nlopt_right), np.linspace(-1, 1, 8)).ok


def test_grad_rebound_instead_of_written_is_named():
    with pytest.raises(UnwrittenGradient, match=r"never wrote grad\[0:8\].*grad\[:\] = "):
        gradcheck.check(gradcheck.inplace(nlopt_rebinds), np.linspace(-1, 1, 8))
    with pytest.raises(UnwrittenGradient, match=r"never wrote grad\[3:8\] \(5 of 8 entries\)"):
        gradcheck.check(gradcheck.inplace(nlopt_partial), np.linspace(-1, 1, 8))


# ----- dropout: a cost that draws a mask from NumPy's global state on every call ---------------

W = np.random.default_rng(0).standard_normal((6, 4))


def dropout_cost(x, bug=False):
    mask = np.random.rand(6) > 0.5  # noqa: NPY002 (as learners' code does)
    h = (W @ x) * mask / 0.5
    g = W.T @ (2 * h * mask / 0.5)
    if bug:
        g[1] *= -1
    return float(h @ h), g


def test_a_dropout_cost_is_inconclusive_without_fixed_randomness():
    np.random.seed(1)  # noqa: NPY002
    report = gradcheck.check(dropout_cost, np.linspace(-1, 1, 4))
    assert not report.ok
    assert "nondeterministic" in [d.kind for d in report.diagnoses]


def test_a_dropout_cost_under_rng_restore():
    np.random.seed(1)  # noqa: NPY002
    random.seed(1)
    right = gradcheck.check(dropout_cost, np.linspace(-1, 1, 4), rng="restore")
    assert right.ok, str(right)
    assert any("fixed randomness" in n for n in right.notes)
    wrong = gradcheck.check(
        lambda x: dropout_cost(x, bug=True), np.linspace(-1, 1, 4), rng="restore"
    )
    assert not wrong.ok
    assert wrong.mismatched.tolist() == [1]  # the mask the check used is the one f drew


def test_a_cost_only_path_draws_the_same_mask_under_rng_restore():
    """cost= beside a dropout cost: under rng='restore' both paths draw the same mask, so the
    same function is not called inconsistent; a path that drops a term still is."""
    np.random.seed(1)  # noqa: NPY002
    x = np.linspace(-1, 1, 4)
    same = gradcheck.check(dropout_cost, x, rng="restore", cost=lambda v: dropout_cost(v)[0])
    assert same.ok, str(same)
    assert any("cost= agreed" in n for n in same.notes)
    drifted = gradcheck.check(
        dropout_cost, x, rng="restore", cost=lambda v: dropout_cost(v)[0] + float(v @ v)
    )
    assert [d.kind for d in drifted.diagnoses if d.severity == "fail"] == ["inconsistent"]


def test_reseed_resets_fs_own_generator():
    gen = {"g": np.random.default_rng(5)}

    def cost(x):
        mask = gen["g"].random(6) > 0.5
        h = (W @ x) * mask
        return float(h @ h), W.T @ (2 * h * mask)

    def reseed():
        gen["g"] = np.random.default_rng(5)

    assert gradcheck.check(cost, np.linspace(-1, 1, 4), reseed=reseed).ok
    with pytest.raises(ValueError, match="rng must be None or 'restore'"):
        gradcheck.check(cost, np.ones(4), rng="fixed")


def test_torch_dropout_under_rng_restore():
    torch = pytest.importorskip("torch")
    weights = torch.tensor(np.random.default_rng(3).standard_normal((5, 4)))

    def cost(x):
        t = torch.tensor(x, requires_grad=True)
        h = torch.nn.functional.dropout(weights @ t, p=0.5, training=True)
        loss = (h**2).sum()
        loss.backward()
        return float(loss.detach()), t.grad.numpy().copy()

    torch.manual_seed(0)
    assert gradcheck.check(cost, np.linspace(-1, 1, 4), rng="restore").ok
    assert not gradcheck.check(cost, np.linspace(-1, 1, 4)).ok  # the mask changes every call
