"""Verdicts on code nobody here wrote: one minimal reproduction per cause of a false alarm, a
crash, a false accusation or a silent pass found on PyTorch's OpInfo corpus, SciPy's functions
and learner code (the domain and pole cases are in test_check.py)."""

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der

import gradcheck
from gradcheck.jacobian import check_jacobian

# ----- false alarms ---------------------------------------------------------------------------


def test_a_float32_linear_function_is_judged_at_float32s_floor():
    # 49 ulps per step along the noise line, nothing for ECnoise to see: the floor must still
    # be float32's, never float64's (it failed 3 of 300 seeds).
    fails = []
    for seed in range(300):
        rng = np.random.default_rng(seed)
        w = rng.standard_normal(12).astype(np.float32)
        x = rng.standard_normal(12)
        report = gradcheck.check(
            lambda z, w=w: np.sum(w * z.astype(np.float32)), x, grad=lambda z, w=w: w.copy()
        )
        if not report.ok:
            fails.append(seed)
    assert fails == []


def test_precision_can_be_declared_when_f_hides_it():
    w = np.random.default_rng(1).standard_normal(50).astype(np.float32)
    f = lambda z: float(np.sum(w * np.tanh(z.astype(np.float32))))  # float32 cast to float
    g = lambda z: w * (1 - np.tanh(z) ** 2)
    x = np.random.default_rng(2).standard_normal(50)
    declared = gradcheck.check(f, x, grad=g, precision=np.float32)
    assert declared.ok, str(declared)
    assert declared.rtol == 1e-3
    assert "precision" in [d.kind for d in declared.diagnoses]
    with pytest.raises(TypeError, match="precision must be the float dtype"):
        gradcheck.check(f, x, grad=g, precision="int8")


def test_a_staircase_is_a_kink_warning_not_a_zero_bug():
    # round(x, 3): jumps read as noise widened the step over them, and the average slope was
    # compared with the (right) derivative 0 -> `zero` bug.
    x = np.array([0.12345, 0.3, -0.7177])
    report = gradcheck.check(
        lambda v: float(np.sum(np.round(v, 3))), x, grad=lambda v: np.zeros_like(v)
    )
    assert report.ok, str(report)
    (kink,) = [d for d in report.diagnoses if d.kind == "kink"]
    assert "staircase" in kink.headline
    assert kink.severity == "warning"


def test_a_vjp_that_writes_into_its_cotangent_is_judged_on_copies_and_named():
    # LSTM backward code: dnext_c += ... on the dout it was given.
    A = np.random.default_rng(0).standard_normal((4, 3))

    def vjp(x, dout):
        dout += 1.0  # writes into its argument
        return A.T @ (dout - 1.0)

    report = check_jacobian(lambda x: A @ x, np.ones(3), vjp=vjp)
    assert report.ok, str(report)
    (d,) = [d for d in report.diagnoses if d.kind == "mutates_input"]
    assert d.severity == "warning"
    assert "dout" in d.message


def test_check_jacobian_keeps_float32():
    # autograd's max in float32 failed at allowed 1.3e-7: the float64 floor and rtol.
    A = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32)
    f = lambda x: np.tanh(A @ x.astype(np.float32))
    vjp = lambda x, w: (A.T @ (w.astype(np.float32) * (1 - f(x) ** 2))).astype(np.float32)
    report = check_jacobian(f, np.random.default_rng(4).standard_normal(4), vjp=vjp)
    assert report.ok, str(report)
    assert report.rtol == 1e-3
    assert "precision" in [d.kind for d in report.diagnoses]


def test_byte_swapped_float64_and_longdouble_are_float64():
    # They were taken for low precision (rtol 1e-3) and passed a 1e-4 error.
    x = np.random.default_rng(0).standard_normal(12)
    bad = lambda v: (float(v @ v), 2 * v * (1 + 1e-4))
    for dtype in (">f8", np.longdouble):
        report = gradcheck.check(bad, x.astype(dtype))
        assert not report.ok, dtype
        assert report.rtol == 1e-6, dtype
        assert "precision" not in [d.kind for d in report.diagnoses], dtype


# ----- crashes --------------------------------------------------------------------------------


def test_directional_mode_on_a_constant_function_does_not_divide_by_zero():
    # relu of negatives, zero_, norms at 0: 46 OpInfo samples raised ZeroDivisionError.
    x = np.random.default_rng(0).standard_normal(12)
    right = gradcheck.check(lambda v: 0.0, x, grad=lambda v: np.zeros_like(v), mode="directional")
    assert right.ok, str(right)
    wrong = gradcheck.check(lambda v: 0.0, x, grad=lambda v: np.ones_like(v), mode="directional")
    assert not wrong.ok


# ----- silent passes --------------------------------------------------------------------------


def test_costs_near_1e200_do_not_make_an_infinite_tolerance():
    x = np.random.default_rng(0).standard_normal(12)
    report = gradcheck.check(lambda v: (1e200 * float(v @ v), 3e200 * v), x)
    assert not report.ok
    assert np.isfinite(report.noise)
    assert report.mismatched.size == 12


def test_a_cost_that_cancels_at_x_does_not_widen_the_step():
    # sum(x**3) on a symmetric grid is ~1e-16 at x: the step was sized from that (0.22) and the
    # truncation covered a 10 % scale error.
    x = np.linspace(-1, 1, 11)
    report = gradcheck.check(lambda v: (float(np.sum(v**3)), 1.1 * 3 * v**2), x)
    assert not report.ok
    assert report.diagnoses[0].kind == "scale"
    assert report.diagnoses[0].factor == pytest.approx(1.1, rel=1e-3)
    assert gradcheck.check(lambda v: (float(np.sum(v**3)), 3 * v**2), x).ok


@pytest.mark.parametrize(
    ("returned", "match"),
    [
        (lambda v: (str(float(v @ v)), 2 * v), "returned str"),
        (lambda v: (True, 2 * v), "returned bool"),
        (lambda v: (b"1.0", 2 * v), "returned bytes"),
        (lambda v: (float(v @ v), (2 * v).astype(complex) + 1j), "complex"),
        (lambda v: (complex(v @ v, 1.0), 2 * v), "complex cost"),
    ],
)
def test_what_f_returns_is_validated(returned, match):
    with pytest.raises(TypeError, match=match):
        gradcheck.check(returned, np.ones(3))


def test_a_gradient_in_a_reused_buffer_that_alternates_is_stateful():
    class Model:
        def __init__(self):
            self.grad, self.calls = np.zeros(6), 0

        def __call__(self, v):
            self.calls += 1
            self.grad[:] = 2 * v if self.calls % 2 else 3 * v
            return float(v @ v), self.grad  # the same array every call

    report = gradcheck.check(Model(), np.linspace(-1, 1, 6))
    assert not report.ok
    assert report.diagnoses[0].kind == "stateful"
    assert "cycle of 2" in report.diagnoses[0].message


def test_a_gradient_cached_by_the_last_cost_call_is_stateful():
    class Cached:
        last = None

        def f(self, v):
            self.last = 2 * v
            return float(v @ v)

        def g(self, v):
            return self.last.copy()  # the gradient of the last point f saw

    c = Cached()
    report = gradcheck.check(c.f, np.linspace(-1, 1, 6), grad=c.g)
    assert not report.ok
    assert report.diagnoses[0].kind == "stateful"


def test_a_grad_that_modifies_x_is_named():
    def grad(v):
        out = 2 * v
        v[:] = 0
        return out

    report = gradcheck.check(lambda v: float(v @ v), np.linspace(1, 2, 4), grad=grad)
    assert not report.ok
    (d,) = report.diagnoses
    assert d.kind == "mutates_input"
    assert d.message.startswith("grad modified the array")


# ----- accusations and headlines --------------------------------------------------------------


def test_one_wrong_entry_among_200000_is_never_a_pattern_of_every_entry():
    # rosen at n = 200,000 with one entry ×1.01: 23 of 300 plants named "200000 wrong entries —
    # regularization". Now a fitted κ must hold on two disjoint halves.
    x = np.random.default_rng(0).uniform(-2, 2, 200_000)
    rng = np.random.default_rng(1)
    for _ in range(12):
        j = int(rng.integers(x.size))

        def grad(z, j=j):
            g = rosen_der(z)
            g[j] *= 1.01
            return g

        report = gradcheck.check(rosen, x, grad=grad, mode="directional")
        named = set(report.mismatched.tolist())
        for d in report.diagnoses:
            named |= set(d.indices.tolist()) if d.indices is not None else set()
        assert named <= {j}, str(report)


def test_a_directional_pass_states_its_resolution():
    x = np.random.default_rng(0).uniform(-2, 2, 100_000)
    report = gradcheck.check(rosen, x, grad=rosen_der, mode="directional")
    assert report.ok
    assert 0 < report.resolution < np.inf
    assert "resolution: an error above" in report.summary()
    assert report.to_dict()["resolution"] == pytest.approx(report.resolution)
    # an error well above the resolution in one entry (|x_j| <= 1) is caught
    j = int(np.flatnonzero(np.abs(x) < 1)[0])

    def grad(z):
        g = rosen_der(z)
        g[j] += 3 * report.resolution
        return g

    assert j in gradcheck.check(rosen, x, grad=grad, mode="directional").mismatched


def test_the_headline_names_every_failing_finding():
    def f(v):
        out = float(v @ v), np.r_[2 * v[:4], np.zeros(8)]
        v[0] += 1  # and modifies its input
        return out

    report = gradcheck.check(f, np.random.default_rng(0).standard_normal(12))
    head = report.summary().splitlines()[0]
    assert "f modifies its input" in head
    assert "8 of 12 entries wrong — zero in" in head


def test_a_directional_attempt_that_isolates_nothing_hands_over_to_every_entry(tmp_path):
    # arcsin 1e-9 from 1: the directions leave the domain; every entry decides instead, on the
    # same checkpoint (opened once) — a rerun gives the same verdict from it.
    x = np.array([1 - 1e-9, 0.3, -0.2, 0.5])
    f = lambda v: float(np.sum(np.arcsin(v)))
    g = lambda v: 1 / np.sqrt(1 - v**2)
    path = tmp_path / "ck.jsonl"
    with np.errstate(invalid="ignore"):
        first = gradcheck.check(f, x, grad=g, mode="directional", checkpoint=path)
        again = gradcheck.check(f, x, grad=g, mode="directional", checkpoint=path)
        wrong = gradcheck.check(f, x, grad=lambda v: g(v) * [1.01, 1, 1, 1], mode="directional")
    assert first.ok, str(first)
    assert first.mode == "full"
    assert any("every entry was checked instead" in n for n in first.notes)
    assert sum('"format"' in line for line in path.read_text().splitlines()) == 1
    assert again.ok
    assert again.evaluations < first.evaluations
    assert wrong.mismatched.tolist() == [0]


# ----- staircases, flat pieces, and entries judged before they are named (OpInfo, float32) ----


def _ceil32(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-9, 9, n).astype(np.float32)
    w = rng.standard_normal(n).astype(np.float32)
    return lambda z: np.sum(w * np.ceil(z.astype(np.float32))), x


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_ceil_in_float32_is_a_staircase_never_a_zero_bug(mode):
    f, x = _ceil32(400)
    report = gradcheck.check(f, x, grad=lambda z: np.zeros(400, np.float32), mode=mode)
    assert report.ok
    kinds = [d.kind for d in report.diagnoses]
    assert "zero" not in kinds
    assert "kink" in kinds  # the staircase, said
    stair = next(d for d in report.diagnoses if d.kind == "kink")
    assert "piecewise constant" in stair.message


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_a_staircase_finer_than_the_step_is_not_read_as_a_slope(mode):
    """round(x, 3) in float32: steps of 0.003 cross several stairs, and their average slope
    (w, not 0) looks smooth at h and h/2 alike. f at x ± t/2, ± t shows it is flat."""
    x = np.array([-8.47837353], dtype=np.float32)
    f = lambda z: np.float32(0.39) * np.round(z.astype(np.float32), 3)
    report = gradcheck.check(f, x, grad=lambda z: np.zeros(1, np.float32), mode=mode)
    assert report.ok
    assert "kink" in [d.kind for d in report.diagnoses]


def test_a_cast_to_low_precision_with_a_straight_through_gradient_is_named_a_staircase():
    """L = w·bfloat16(x) with autograd's identity gradient: f does not move at all over a step
    where the claimed slope would move it by far more than its noise. The derivative is 0:
    the entry fails, and the warning says why (a straight-through estimate)."""
    torch = pytest.importorskip("torch")
    x = np.array([-4.8269849])
    f = lambda z: float(1.54 * torch.tensor(z).to(torch.bfloat16).double())
    report = gradcheck.check(f, x, grad=lambda z: np.array([1.54]))
    assert not report.ok
    stair = next(d for d in report.diagnoses if d.kind == "kink")
    assert "straight-through" in stair.message
    assert stair.indices.tolist() == [0]


def test_a_relu_below_zero_is_flat_not_a_kink_nor_wrong():
    x = np.array([-1e-6, 0.5, -2.0])
    f = lambda z: float(np.sum(np.maximum(z, 0.0)))
    report = gradcheck.check(f, x, grad=lambda z: (z > 0).astype(float), step=1e-3)
    assert report.ok
    flat = next(d for d in report.diagnoses if d.kind == "kink")
    assert flat.indices.tolist() == [0]  # judged flat at x (derivative 0), not a kink skipped
    assert "piecewise constant" in flat.message
    assert "step 0.001 as given" in report.summary()


def test_directional_isolated_entries_are_judged_before_they_are_named():
    """float32 logcumsumexp at x ≈ 1e4: along directions the long steps fail; the entries they
    isolate are judged one by one (or the full check decides), and none is accused."""
    rng = np.random.default_rng(1)
    n = 125
    w = rng.standard_normal(n).astype(np.float32)
    x = np.full(n, 1e4, dtype=np.float32) + rng.standard_normal(n).astype(np.float32)

    def f(z):
        return np.float32(np.sum(w * np.logaddexp.accumulate(z.astype(np.float32))))

    def g(z):
        z = z.astype(np.float64)
        lse = np.logaddexp.accumulate(z)
        return np.array([np.sum(w[j:] * np.exp(z[j] - lse[j:])) for j in range(n)]).astype(
            np.float32
        )

    report = gradcheck.check(f, x, grad=g, mode="directional")
    assert report.ok
    assert report.evaluations < 2000  # localising stopped at what a full check costs


def test_a_kink_exactly_at_x_is_warned_even_when_the_central_difference_agrees():
    """‖x‖ at 0 (linalg.norm's OpInfo sample): the central difference is 0, autograd's
    subgradient is 0, they agree — and the point is still a kink, said as a warning."""
    x = np.zeros(5)
    report = gradcheck.check(lambda z: float(np.linalg.norm(z)), x, grad=lambda z: np.zeros(5))
    assert report.ok
    kink = next(d for d in report.diagnoses if d.kind == "kink")
    assert kink.indices.tolist() == [0, 1, 2, 3, 4]
    smooth = gradcheck.check(lambda z: (float(z @ z), 2 * z), np.zeros(5))  # a minimum, no kink
    assert "kink" not in [d.kind for d in smooth.diagnoses]
