"""A catalogue of planted bugs: each must be caught and named (kind, block, entries, factor, words)."""

import numpy as np
import pytest

import gradcheck
from gradcheck import ex4, nn
from gradcheck.examples import question_cost_function

from . import functions

DEBUG = {"X": ex4.debug_initialize_weights(5, 2), "y": 1 + np.arange(1, 6) % 3}
DEBUG_THETAS = {
    "Theta1": ex4.debug_initialize_weights(5, 3),
    "Theta2": ex4.debug_initialize_weights(3, 5),
}


class Problem:
    """A course-style network (Theta blocks, bias in column 0) whose gradient we can break."""

    def __init__(self, sizes=(3, 5, 3), m=5, lambda_=0.0, seed=None, order="C"):
        self.net = nn.Network(sizes, naming="theta", order=order, lambda_=lambda_)
        self.layout = self.net.layout
        self.m, self.lambda_ = m, lambda_
        if seed is None:  # the course's debug data
            self.X, self.y = DEBUG["X"], DEBUG["y"] - 1
            self.params = self.layout.pack(DEBUG_THETAS)
        else:
            rng = np.random.default_rng(seed)
            self.X = rng.standard_normal((m, sizes[0]))
            self.y = rng.integers(0, sizes[-1], m)
            self.params = rng.standard_normal(self.net.n_params) * 0.5

    def f(self, grad_bug=None, cost_bug=None):
        def cost(p):
            J, g = self.net.loss_and_grad(p, self.X, self.y)
            blocks = self.layout.unpack(p)
            if cost_bug is not None:
                J += cost_bug(blocks)
            if grad_bug is not None:
                gb = {k: v.copy() for k, v in self.layout.unpack(g).items()}
                out = grad_bug(gb, blocks)
                g = out if isinstance(out, np.ndarray) and out.ndim == 1 else self.layout.pack(gb)
            return J, g

        return cost

    def check(self, **bugs):
        return gradcheck.check(
            self.f(**bugs), self.params, blocks=self.layout.blocks, order=self.layout.order
        )

    def indices(self, name, rows=slice(None), cols=slice(None)):
        idx = np.arange(self.layout.size)
        return np.sort(self.layout.unpack(idx)[name][rows, cols].ravel())


def first(report):
    assert not report.ok, str(report)
    return report.diagnoses[0]


# ----- the question's bug ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "sizes", "m", "lambda_"),
    [(None, (3, 5, 3), 5, 3.0), (1, (4, 6, 3), 20, 1.0), (2, (6, 4, 5), 11, 0.3)],
)
def test_questions_bug_is_regularization_of_theta2s_bias_column(seed, sizes, m, lambda_):
    p = Problem(sizes, m, lambda_, seed)
    # The learner's cost: Σ Theta2[:,0]² added instead of subtracted → Theta2's bias regularised twice.
    report = p.check(cost_bug=lambda b: lambda_ / (2 * m) * 2 * np.sum(b["Theta2"][:, 0] ** 2))
    d = first(report)
    assert d.kind == "regularization"
    assert d.block == "Theta2"
    np.testing.assert_array_equal(d.indices, p.indices("Theta2", cols=0))
    np.testing.assert_array_equal(report.mismatched, p.indices("Theta2", cols=0))
    assert d.factor == pytest.approx(2 * lambda_ / m, rel=1e-5)
    assert "Theta2[:, 0] (bias column" in d.message
    assert "cost regularises this column but your gradient does not" in d.message


def test_questions_own_function_gets_the_same_diagnosis():
    params = np.r_[DEBUG_THETAS["Theta1"].ravel(), DEBUG_THETAS["Theta2"].ravel()]
    report = gradcheck.check(
        lambda p: question_cost_function(p, 3, 5, 3, DEBUG["X"], DEBUG["y"], 3.0),
        params,
        blocks={"Theta1": (5, 4), "Theta2": (3, 6)},
    )
    d = first(report)
    assert (d.kind, d.block, d.indices.tolist()) == ("regularization", "Theta2", [20, 26, 32])
    assert d.factor == pytest.approx(1.2, rel=1e-6)


def test_questions_bug_in_the_matlab_port_column_major():
    def cost(p):
        J, g = ex4.nn_cost_function(p, 3, 5, 3, DEBUG["X"], DEBUG["y"], 3.0)
        theta2 = p[20:].reshape(3, 6, order="F")
        return J + 3.0 / 5 * np.sum(theta2[:, 0] ** 2), g

    report = gradcheck.check(
        cost,
        ex4.unroll(*DEBUG_THETAS.values()),
        blocks={"Theta1": (5, 4), "Theta2": (3, 6)},
        order="F",
    )
    d = first(report)
    assert (d.kind, d.block, d.indices.tolist()) == ("regularization", "Theta2", [20, 21, 22])


# ----- layout --------------------------------------------------------------------------------------


def _other_order(p):
    def bug(g, b):
        # The gradient of every block unrolled column-major while the parameters are row-major.
        return np.concatenate([g[name].ravel(order="F") for name in p.layout.names])

    return bug


@pytest.mark.parametrize(("seed", "lambda_"), [(None, 0.0), (3, 1.0)])
def test_gradient_unrolled_in_f_order_for_both_blocks(seed, lambda_):
    p = Problem((3, 5, 3), 5 if seed is None else 9, lambda_, seed)
    d = first(p.check(grad_bug=_other_order(p)))
    assert d.kind == "layout"
    assert d.block is None
    assert "Theta1, Theta2" in d.message
    assert "order='C'" in d.message
    assert "order='F'" in d.message


def test_gradient_unrolled_in_f_order_for_one_block():
    p = Problem((4, 5, 3), 8, 0.5, seed=4)

    def bug(g, b):
        flat = p.layout.pack(g)
        flat[p.layout.slice("Theta1")] = g["Theta1"].ravel(order="F")
        return flat

    d = first(p.check(grad_bug=bug))
    assert (d.kind, d.block) == ("layout", "Theta1")
    assert "unrolled in F order" in d.message


def test_a_transposed_weight_gradient_is_layout():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((3, 4))
    x0 = rng.standard_normal(12)

    def f(x):
        W = x.reshape(3, 4)
        value = float(np.sum(np.sin(W) * A))
        G = np.cos(W) * A
        return value, G.T.copy().reshape(3, 4).ravel()  # built (4, 3), unrolled as if (3, 4)

    d = first(gradcheck.check(f, x0, blocks={"W": (3, 4)}))
    assert (d.kind, d.block) == ("layout", "W")
    assert "transpose" in d.message


# ----- scale and sign ------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "m"), [(None, 5), (6, 40)])
def test_missing_one_over_m_everywhere_is_a_scale_of_m(seed, m):
    p = Problem((3, 5, 3), m, 0.0, seed)
    d = first(p.check(grad_bug=lambda g, b: p.layout.pack(g) * m))
    assert d.kind == "scale"
    assert d.block is None
    assert d.factor == pytest.approx(m, rel=1e-6)
    assert f"factor of {m}" in d.message
    assert "1/m" in d.message


def test_missing_one_over_m_in_one_block():
    p = Problem((4, 6, 3), 20, 0.0, seed=7)

    def bug(g, b):
        g["Theta2"] *= 20

    d = first(p.check(grad_bug=bug))
    assert (d.kind, d.block) == ("scale", "Theta2")
    assert d.factor == pytest.approx(20, rel=1e-6)
    np.testing.assert_array_equal(np.sort(d.indices), p.indices("Theta2"))


def test_missing_one_over_m_in_the_matlab_port():
    def cost(q):
        J, g = ex4.nn_cost_function(q, 3, 5, 3, DEBUG["X"], DEBUG["y"], 0.0)
        return J, g * 5

    d = first(
        gradcheck.check(
            cost,
            ex4.unroll(*DEBUG_THETAS.values()),
            blocks={"Theta1": (5, 4), "Theta2": (3, 6)},
            order="F",
        )
    )
    assert (d.kind, d.factor) == ("scale", pytest.approx(5))


def test_a_stray_one_half_is_a_scale_of_half():
    d = first(
        gradcheck.check(
            lambda x: (functions.smooth(x)[0], functions.smooth(x)[1] / 2), np.linspace(-1, 1, 9)
        )
    )
    assert d.kind == "scale"
    assert d.factor == pytest.approx(0.5, rel=1e-6)
    assert "2 times too small" in d.message


@pytest.mark.parametrize(("seed", "lambda_"), [(None, 0.0), (8, 2.0)])
def test_flipped_sign_everywhere(seed, lambda_):
    p = Problem((3, 5, 3), 5 if seed is None else 12, lambda_, seed)
    d = first(p.check(grad_bug=lambda g, b: -p.layout.pack(g)))
    assert (d.kind, d.block, d.factor) == ("sign", None, -1.0)
    assert "opposite sign" in d.message


def test_flipped_sign_in_one_block():
    p = Problem((4, 6, 3), 12, 1.0, seed=9)

    def bug(g, b):
        g["Theta1"] *= -1

    d = first(p.check(grad_bug=bug))
    assert (d.kind, d.block) == ("sign", "Theta1")


# ----- zero ----------------------------------------------------------------------------------------


def test_a_block_never_written_is_zero():
    p = Problem((3, 5, 3), 5, 1.0)

    def bug(g, b):
        g["Theta2"][:] = 0

    d = first(p.check(grad_bug=bug))
    assert (d.kind, d.block) == ("zero", "Theta2")
    np.testing.assert_array_equal(d.indices, p.indices("Theta2"))
    assert "all of Theta2" in d.message
    assert "never" in d.message


def test_one_row_never_written_is_zero_with_that_row():
    p = Problem((4, 6, 3), 15, 0.0, seed=10)

    def bug(g, b):
        g["Theta1"][2, :] = 0

    d = first(p.check(grad_bug=bug))
    assert (d.kind, d.block) == ("zero", "Theta1")
    np.testing.assert_array_equal(d.indices, p.indices("Theta1", rows=2))
    assert "Theta1[2, :] (row" in d.message


def test_one_entry_never_written_in_a_generic_function():
    def f(x):
        value, g = functions.smooth(x)
        g = g.copy()
        g[4] = 0.0
        return value, g

    d = first(gradcheck.check(f, np.linspace(0.1, 1.0, 10)))
    assert (d.kind, d.indices.tolist()) == ("zero", [4])
    assert "x[4]" in d.message


# ----- regularization --------------------------------------------------------------------------------


def test_bias_regularised_in_the_gradient_but_not_in_the_cost():
    p = Problem((4, 5, 3), 10, 1.5, seed=11)

    def bug(g, b):
        for name in ("Theta1", "Theta2"):
            g[name][:, 0] += 1.5 / 10 * b[name][:, 0]

    d = first(p.check(grad_bug=bug))
    assert d.kind == "regularization"
    assert d.factor == pytest.approx(-0.15, rel=1e-5)
    np.testing.assert_array_equal(
        d.indices, np.sort(np.r_[p.indices("Theta1", cols=0), p.indices("Theta2", cols=0)])
    )
    assert "Theta1[:, 0] (bias column" in d.message
    assert "Theta2[:, 0] (bias column" in d.message
    assert "your gradient regularises" in d.message


def test_regularisation_missing_from_the_gradient():
    p = Problem((3, 5, 3), 5, 3.0)

    def bug(g, b):
        for name in ("Theta1", "Theta2"):
            g[name][:, 1:] -= 3.0 / 5 * b[name][:, 1:]

    d = first(p.check(grad_bug=bug))
    assert d.kind == "regularization"
    assert d.factor == pytest.approx(0.6, rel=1e-5)
    np.testing.assert_array_equal(
        d.indices,
        np.sort(
            np.r_[
                p.indices("Theta1", cols=slice(1, None)), p.indices("Theta2", cols=slice(1, None))
            ]
        ),
    )
    assert "all but the bias column" in d.message


def test_regularisation_doubled_in_one_block():
    p = Problem((4, 6, 3), 16, 2.0, seed=12)

    def bug(g, b):
        g["Theta1"][:, 1:] += 2.0 / 16 * b["Theta1"][:, 1:]

    d = first(p.check(grad_bug=bug))
    assert (d.kind, d.block) == ("regularization", "Theta1")
    assert d.factor == pytest.approx(-2.0 / 16, rel=1e-5)
    np.testing.assert_array_equal(d.indices, p.indices("Theta1", cols=slice(1, None)))


def test_an_l2_term_missing_from_a_generic_gradient():
    def f(x):
        value, g = functions.smooth(x)
        return value + 0.35 * float(x @ x), g  # gradient lacks 0.7·x

    d = first(gradcheck.check(f, np.linspace(-1, 1.5, 8)))
    assert d.kind == "regularization"
    assert d.factor == pytest.approx(0.7, rel=1e-5)
    assert "× x" in d.message


# ----- localized -----------------------------------------------------------------------------------


def _backprop(activation_derivative):
    def cost(p):
        # The course's nnCostFunction with a replaceable activation derivative in backprop.
        theta1 = p[:20].reshape(5, 4, order="F")
        theta2 = p[20:].reshape(3, 6, order="F")
        X, y, m = DEBUG["X"], DEBUG["y"], 5
        a1 = np.hstack([np.ones((m, 1)), X])
        z2 = a1 @ theta1.T
        a2 = np.hstack([np.ones((m, 1)), ex4.sigmoid(z2)])
        h = ex4.sigmoid(a2 @ theta2.T)
        Y = np.eye(3)[y - 1]
        J = np.sum(-Y * np.log(h) - (1 - Y) * np.log(1 - h)) / m
        d3 = h - Y
        d2 = (d3 @ theta2[:, 1:]) * activation_derivative(z2)
        return float(J), ex4.unroll(d2.T @ a1 / m, d3.T @ a2 / m)

    return cost


@pytest.mark.parametrize(
    ("name", "derivative"),
    [("omitted", np.ones_like), ("sigmoid instead of its derivative", ex4.sigmoid)],
)
def test_a_wrong_activation_derivative_is_localized_to_the_first_layer(name, derivative):
    report = gradcheck.check(
        _backprop(derivative),
        ex4.unroll(*DEBUG_THETAS.values()),
        blocks={"Theta1": (5, 4), "Theta2": (3, 6)},
        order="F",
    )
    d = first(report)
    assert (d.kind, d.block) == ("localized", "Theta1"), name
    assert np.all(d.indices < 20)
    assert report.mismatched.size > 10
    assert "Theta1" in d.message
    assert "activation" in d.message
    assert gradcheck.check(_backprop(ex4.sigmoid_gradient), ex4.unroll(*DEBUG_THETAS.values())).ok


def test_a_single_wrong_entry_of_a_generic_function_is_localized():
    def f(x):
        value, g = functions.smooth(x)
        g = g.copy()
        g[61] *= 1.5
        return value, g

    d = first(gradcheck.check(f, np.linspace(-2, 2, 100)))
    assert (d.kind, d.indices.tolist()) == ("localized", [61])
    assert "x[61]" in d.message


# ----- probes come first --------------------------------------------------------------------------


def test_nondeterministic_comes_before_anything_else():
    p = Problem((3, 5, 3), 5, 0.0)
    rng = np.random.default_rng(1)
    report = p.check(cost_bug=lambda b: 1e-3 * rng.random())
    assert next(d.kind for d in report.diagnoses) == "nondeterministic"


def test_mutating_cost_is_reported_first():
    def f(x):
        value, g = functions.smooth(x)
        x[:] = 0
        return value, g

    d = first(gradcheck.check(f, np.linspace(-1, 1, 5)))
    assert d.kind == "mutates_input"
    assert "modified the array" in d.message


def test_nan_at_every_step_is_a_nonfinite_warning_not_a_failure():
    def f(x):
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(np.sum(np.sqrt(x))), 0.5 / np.sqrt(np.where(x > 0, x, 1.0))

    report = gradcheck.check(f, np.array([4.0, 0.0, 9.0]))
    assert report.ok, str(report)  # sqrt's slope at 0 is infinite: entry 1 is not checkable
    (d,) = report.diagnoses
    assert (d.kind, d.severity, d.indices.tolist()) == ("nonfinite", "warning", [1])
    # when no entry at all can be checked, it is a failure: nothing was earned
    nothing = gradcheck.check(f, np.array([0.0]))
    assert not nothing.ok
    assert nothing.diagnoses[0].kind == "nonfinite"


# ----- no false alarm -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "sizes", "m", "lambda_", "order"),
    [
        (None, (3, 5, 3), 5, 0.0, "C"),
        (None, (3, 5, 3), 5, 3.0, "F"),
        (13, (6, 7, 4), 30, 1.0, "C"),
        (14, (5, 3, 3), 9, 0.0, "F"),
    ],
)
def test_correct_networks_get_no_failing_diagnosis(seed, sizes, m, lambda_, order):
    report = Problem(sizes, m, lambda_, seed, order).check()
    assert report.ok, str(report)
    assert [d for d in report.diagnoses if d.severity == "fail"] == []


def test_diagnoses_are_in_str_and_to_dict():
    p = Problem((3, 5, 3), 5, 3.0)
    report = p.check(cost_bug=lambda b: 3.0 / 5 * np.sum(b["Theta2"][:, 0] ** 2))
    text = str(report)
    assert text.index("Diagnoses:") < text.index("Worst entries:")
    assert "[regularization] Theta2[:, 0] (bias column, 3 entries)" in text
    d = report.to_dict()["diagnoses"][0]
    assert d["kind"] == "regularization"
    assert d["block"] == "Theta2"
    assert d["severity"] == "fail"
    assert d["factor"] == pytest.approx(1.2, rel=1e-5)


def test_a_hypothesis_that_raises_becomes_a_note_not_an_aborted_check(monkeypatch):
    from dataclasses import replace

    import gradcheck
    from gradcheck import diagnose

    def broken(view):
        raise RuntimeError("a bug in a hypothesis")

    rows = tuple(
        replace(h, test=broken) if h.kind.name == "sign" else h for h in diagnose.HYPOTHESES
    )
    monkeypatch.setattr(diagnose, "HYPOTHESES", rows)
    x = np.linspace(-1, 1, 8)
    report = gradcheck.check(lambda v: (float(v @ v), -2 * v), x)  # a sign bug
    assert not report.ok
    assert report.mismatched.size == 8
    assert "sign" not in [d.kind for d in report.diagnoses]  # its row was skipped, no abort
    assert any("'sign' hypothesis raised RuntimeError" in n for n in report.notes)


def test_mixed_unrolling_under_the_wrong_order_gets_an_order_hint():
    from gradcheck import ex4

    params, X, y, _ = ex4.debug_problem("F")

    def mixed(p):  # reads nn_params column-major, writes its gradient row-major
        J, g = ex4.nn_cost_function(p, 3, 5, 3, X, y, 0.0)
        t1, t2 = g[:20].reshape(5, 4, order="F"), g[20:].reshape(3, 6, order="F")
        return J, np.r_[t1.ravel(), t2.ravel()]

    blocks = {"Theta1": (5, 4), "Theta2": (3, 6)}
    report = gradcheck.check(mixed, params, blocks=blocks, order="C")
    assert not report.ok
    assert all(d.kind == "localized" for d in report.diagnoses)
    assert "did you declare order='C' for parameters your function reads in order='F'?" in (
        report.diagnoses[0].message
    )
