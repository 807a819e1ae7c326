"""``report.evaluations`` is the true number of calls of f, whoever makes them: counted by a wrapper."""

import numpy as np
import pytest

import gradcheck

from . import functions
from .functions import Counting


def _broken_entry(x):
    value, g = functions.smooth(x)
    g = g.copy()
    g[3] *= 1.5
    return value, g


@pytest.mark.parametrize(
    ("f", "options"),
    [
        (functions.smooth, {}),
        (_broken_entry, {}),  # refinement of the suspicious entry included
        (functions.smooth, {"method": "forward"}),
        (functions.smooth, {"method": "richardson"}),
        (functions.smooth, {"mode": "directional"}),
        (_broken_entry, {"mode": "directional"}),  # localisation included
        (functions.smooth, {"mode": "sample", "step": 1e-4}),
    ],
)
def test_check_counts_every_call(f, options):
    counted = Counting(f)
    report = gradcheck.check(counted, np.linspace(-1, 1, 12), **options)
    assert report.evaluations == counted.calls
    assert counted.calls >= 8  # the wrapper saw the calls


def test_a_separate_gradient_is_not_an_evaluation_of_f():
    cost, grad = (
        Counting(lambda x: functions.smooth(x)[0]),
        Counting(lambda x: functions.smooth(x)[1]),
    )
    report = gradcheck.check(cost, np.linspace(-1, 1, 5), grad=grad)
    assert report.evaluations == cost.calls
    assert grad.calls == 3  # twice at x (determinism) and once after the rest (history)


def test_vectorized_batches_count_their_points():
    f = Counting(functions.sum_of_squares_rows, batch=True)
    report = gradcheck.check(f, np.linspace(-1, 2, 150), grad=lambda x: 2 * x, vectorized=True)
    assert report.evaluations == f.calls


def _vector(x):
    return np.array([x[0] * x[1], np.sin(x[2]) + x[0] ** 2, np.exp(x[1] * x[2])])


def _jac(x, bug=1.0):
    e = np.exp(x[1] * x[2])
    return np.array(
        [[x[1], x[0], 0.0], [2 * x[0], 0.0, np.cos(x[2])], [0.0, x[2] * e * bug, x[1] * e]]
    )


@pytest.mark.parametrize("bug", [1.0, 1.5])
@pytest.mark.parametrize("form", ["jac", "vjp", "jvp"])
def test_check_jacobian_counts_every_call_of_f(form, bug):
    f = Counting(_vector)
    forms = {
        "jac": lambda x: _jac(x, bug),
        "vjp": lambda x, w: _jac(x, bug).T @ w,
        "jvp": lambda x, v: _jac(x, bug) @ v,
    }
    report = gradcheck.check_jacobian(f, np.array([0.3, -0.7, 1.1]), **{form: forms[form]})
    assert report.ok == (bug == 1.0)
    assert report.evaluations == f.calls  # the wrong-entry columns included when bug != 1


def test_check_hessian_counts_calls_of_the_gradient():
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    f = Counting(lambda x: (0.5 * x @ A @ x, A @ x))
    report = gradcheck.check_hessian(f, np.array([1.0, -1.0]), hessp=lambda x, v: A @ v)
    assert report.ok
    assert report.evaluations == f.calls


def test_torch_check_module_counts_every_loss_evaluation():
    torch = pytest.importorskip("torch", reason="the torch extra is part of the dev install")
    from gradcheck import torch as gtorch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    X, y = torch.randn(6, 3), torch.tensor([0, 1, 1, 0, 1, 0])
    calls = {"cost": 0}

    def loss(out, target):
        if not torch.is_grad_enabled():  # the loss alone: an evaluation (gradients are not)
            calls["cost"] += 1
        return torch.nn.functional.cross_entropy(out, target)

    report = gtorch.check_module(model, loss, X, y, vectorized=False)
    assert report.ok
    assert report.evaluations == calls["cost"]


def test_torch_check_function_counts_forward_evaluations():
    torch = pytest.importorskip("torch", reason="the torch extra is part of the dev install")
    from gradcheck import torch as gtorch

    forward = {"calls": 0}

    def fn(a, b):
        if not torch.is_grad_enabled():  # an evaluation of f, not a backward pass
            forward["calls"] += 1
        return (a * b).sin()

    # one point at a time (under vmap a function cannot see how many points a batch holds)
    report = gtorch.check_function(fn, torch.ones(3), torch.arange(3.0), vectorized=False)
    assert report.ok
    assert report.evaluations == forward["calls"]


def test_torch_check_module_directional_verdict_costs_eight_calls_without_vmap():
    """Small batches (a directional check's six points) are evaluated one at a time, so vmap
    is never confirmed and the verdict costs its 8 calls; a full check confirms and uses it."""
    torch = pytest.importorskip("torch", reason="the torch extra is part of the dev install")
    from gradcheck import torch as gtorch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.Tanh(), torch.nn.Linear(32, 10))
    X, y = torch.randn(64, 20), torch.randint(0, 10, (64,))
    calls = {"cost": 0}

    def loss(out, target):
        if not torch.is_grad_enabled():
            calls["cost"] += 1
        return torch.nn.functional.cross_entropy(out, target)

    report = gtorch.check_module(model, loss, X, y, mode="directional")
    assert report.ok
    assert report.evaluations == calls["cost"] == 8
    assert not any("vmap" in n for n in report.notes)
    full = gtorch.check_module(model, loss, X, y, mode="full")
    assert full.ok
    assert full.evaluations == 2 * 1002 + 17  # every entry both ways, probes, 4 to confirm vmap
    assert any("in batches with torch.func.vmap" in n for n in full.notes)
