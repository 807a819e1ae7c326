"""ECnoise: the noise level of f, and the floor of round-off and spread between calls at x."""

import numpy as np
import pytest

from gradcheck.evaluate import Evaluator
from gradcheck.noise import EPS, estimate_noise, noise_floor, noise_from_values, noise_points


@pytest.mark.parametrize("level", [1e-12, 1e-9, 1e-6])
def test_noise_added_to_a_smooth_line_is_measured_within_a_factor_of_three(level):
    rng = np.random.default_rng(1)
    smooth = np.exp(np.linspace(0, 8e-4, 9))
    found = noise_from_values(smooth + level * rng.standard_normal(9))
    assert level / 3 < found < 3 * level


def test_a_smooth_line_has_no_noise_above_round_off():
    assert noise_from_values(np.exp(np.linspace(0, 8e-4, 9))) is None or (
        noise_from_values(np.exp(np.linspace(0, 8e-4, 9))) < 10 * EPS
    )


def test_probe_points_are_on_a_line_of_unit_norm_steps():
    x = np.array([0.5, -3.0, 10.0])
    points = noise_points(x, np.random.default_rng(0))
    assert len(points) == 8
    steps = np.diff(np.stack([x, *points]), axis=0)
    np.testing.assert_allclose(np.linalg.norm(steps, axis=1), 1e-4)
    np.testing.assert_allclose(steps - steps[0], 0.0, atol=1e-14)  # equal steps, one direction


def test_estimate_noise_costs_eight_evaluations_and_keeps_its_floors():
    rng = np.random.default_rng(3)
    ev = Evaluator(lambda x: float(np.sum(np.sin(x))) + 1e-7 * rng.standard_normal())
    x = np.linspace(-1, 1, 5)
    noise = estimate_noise(ev, x, float(np.sum(np.sin(x))), np.random.default_rng(0))
    assert ev.calls == 8
    assert 3e-8 < noise.detected < 3e-7
    assert noise.eps_f == noise.detected
    assert not noise.float32
    quiet = Evaluator(lambda x: float(np.sum(np.sin(x))))
    f0 = float(np.sum(np.sin(x)))
    floored = estimate_noise(quiet, x, f0, np.random.default_rng(0), spread=1e-5)
    assert floored.eps_f == 1e-5  # the spread measured between calls at x is a floor
    skipped = estimate_noise(quiet, x, 2.0, np.random.default_rng(0), needed=False)
    assert skipped.eps_f == noise_floor(2.0) == 4 * EPS
    assert quiet.calls == 8  # needed=False evaluates nothing


def test_float32_round_off_is_low_precision_not_noise():
    ev = Evaluator(lambda x: float(np.sum(np.sin(x.astype(np.float32)))))
    x = np.linspace(-1, 1, 5)
    noise = estimate_noise(ev, x, ev.at(x).cost, np.random.default_rng(0))
    assert noise.float32
    assert noise.eps_f > 1e-9


def test_a_kink_crossed_by_the_noise_line_is_not_called_a_staircase():
    """Σ relu(x_i) with x[0] just below its kink: past the kink, a noise direction of ±1
    magnitudes made f exactly flat along the line (+1 on x[0] and x[1] against −2 on x[3]) and
    the check called relu "piecewise constant, as from round()". Drawn magnitudes make that
    cancellation a probability-zero event: no seed calls it a staircase."""
    import gradcheck

    x = np.array([-1e-6, 0.5, -0.3, 2.0])
    relu = lambda x: (float(np.sum(np.maximum(x, 0))), (x > 0).astype(float))
    for seed in range(50):
        report = gradcheck.check(relu, x, seed=seed)
        assert report.ok
        assert not any("piecewise constant" in d.message for d in report.diagnoses), seed
    # a true staircase still is one
    steps = lambda x: (float(np.sum(np.round(1e3 * x)) / 1e3), np.zeros_like(x))
    report = gradcheck.check(steps, np.array([0.1234, 0.5678, 0.9]))
    assert any("piecewise constant" in d.message for d in report.diagnoses)
