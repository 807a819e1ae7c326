"""check_layer on CS231n-style layers written by us: each right one passes, each planted bug is
found in the block and entries where it is."""

import numpy as np
import pytest

import gradcheck

from . import cs231n_style as L

RNG = np.random.default_rng(231)


def test_affine_layer_passes_and_names_its_blocks():
    x, w, b = RNG.standard_normal((3, 2, 4)), RNG.standard_normal((8, 5)), RNG.standard_normal(5)
    report = gradcheck.check_layer(L.affine_forward, L.affine_backward, x, w, b)
    assert report.ok, str(report)
    assert list(report.layout.blocks) == ["x", "w", "b"]
    assert report.layout.blocks["x"] == (3, 2, 4)  # N-D inputs as they are


def test_a_mean_for_a_sum_in_db_is_a_scale_on_b():
    x, w, b = RNG.standard_normal((4, 6)), RNG.standard_normal((6, 3)), RNG.standard_normal(3)
    report = gradcheck.check_layer(L.affine_forward, L.affine_backward_db_mean, x, w, b)
    assert not report.ok
    d = report.diagnoses[0]
    assert (d.kind, d.block) == ("scale", "b")
    assert d.factor == pytest.approx(1 / 4, rel=1e-6)  # 1/N: the batch of 4


def test_batchnorm_with_its_param_dict_held_fixed():
    x = RNG.standard_normal((6, 4)) * 2 + 1
    gamma, beta = RNG.standard_normal(4), RNG.standard_normal(4)
    report = gradcheck.check_layer(
        L.batchnorm_forward, L.batchnorm_backward, x, gamma, beta, {"eps": 1e-5}
    )
    assert report.ok, str(report)
    assert list(report.layout.blocks) == ["x", "gamma", "beta"]


def _conv_inputs():
    x = RNG.standard_normal((2, 2, 5, 5))
    w = RNG.standard_normal((3, 2, 3, 3))
    b = RNG.standard_normal(3)
    return x, w, b


def test_a_conv_backward_that_forgets_the_stride_passes_at_1_and_fails_at_2():
    x, w, b = _conv_inputs()
    at_1 = {"stride": 1, "pad": 1}
    right = gradcheck.check_layer(
        L.conv_forward_naive, L.conv_backward_naive, x, w, b, at_1,
        configs=[{"conv_param": {"stride": 2, "pad": 1}}],
    )  # fmt: skip
    assert right.ok, str(right)
    assert any("passed at every configuration" in n for n in right.notes)
    buggy = gradcheck.check_layer(
        L.conv_forward_naive, L.conv_backward_stride_bug, x, w, b, at_1,
        configs=[{"conv_param": {"stride": 2, "pad": 1}}],
    )  # fmt: skip
    assert not buggy.ok
    assert any("'stride': 2" in n for n in buggy.notes)  # the configuration that showed it
    assert {d.block for d in buggy.diagnoses if d.severity == "fail"} == {"x", "w"}  # not b
    assert "localized in all of x" in buggy.summary().splitlines()[0]


def test_max_pool_assign_for_accumulate_is_wrong_only_where_windows_overlap():
    x = RNG.standard_normal((1, 1, 5, 5))
    overlapping = {"pool_height": 3, "pool_width": 3, "stride": 2}
    right = gradcheck.check_layer(
        L.max_pool_forward_naive, L.max_pool_backward_naive, x, overlapping
    )
    assert right.ok, str(right)
    side_by_side = {"pool_height": 2, "pool_width": 2, "stride": 2}
    hidden = gradcheck.check_layer(
        L.max_pool_forward_naive, L.max_pool_backward_assign, x, side_by_side
    )
    assert hidden.ok  # windows that do not overlap: = and += agree
    found = gradcheck.check_layer(
        L.max_pool_forward_naive, L.max_pool_backward_assign, x, side_by_side,
        configs=[{"pool_param": overlapping}],
    )  # fmt: skip
    assert not found.ok
    wrong = found.mismatched
    # the wrong entries are maxima shared by two windows: on the rows/columns 2 (the overlap)
    rows, cols = np.unravel_index(wrong, (5, 5))
    assert np.all((rows == 2) | (cols == 2))


def test_an_lstm_step_that_accumulates_into_dnext_c_is_judged_right_and_named():
    n, d, h = 3, 4, 5
    x, prev_h, prev_c = (RNG.standard_normal((n, k)) for k in (d, h, h))
    Wx, Wh, b = (
        RNG.standard_normal((d, 4 * h)),
        RNG.standard_normal((h, 4 * h)),
        RNG.standard_normal(4 * h),
    )
    report = gradcheck.check_layer(
        L.lstm_step_forward, L.lstm_step_backward, x, prev_h, prev_c, Wx, Wh, b
    )
    assert report.ok, str(report)  # two outputs, two cotangents; its gradient is right
    wrote = [d for d in report.diagnoses if d.kind == "mutates_input"]
    assert wrote
    assert wrote[0].severity == "warning"
    assert "dout" in wrote[0].message


def test_integer_inputs_are_held_fixed():
    words = np.array([[0, 3, 1], [2, 2, 4]])
    W = RNG.standard_normal((5, 6))
    report = gradcheck.check_layer(L.word_embedding_forward, L.word_embedding_backward, words, W)
    assert report.ok, str(report)
    assert list(report.layout.blocks) == ["W"]


def test_a_backward_returning_too_few_gradients_is_a_clear_error():
    x, w, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 2)), RNG.standard_normal(2)
    with pytest.raises(ValueError, match="expected one per floating input of forward: dx, dw, db"):
        gradcheck.check_layer(L.affine_forward, lambda dout, cache: (dout,), x, w, b)


def test_a_bug_that_symmetric_weights_hide_shows_at_the_default_three_points():
    def fwd(x, W):
        return x @ W, (x, W)

    def bwd_transposed(dout, cache):  # dx = dout @ W instead of dout @ W.T
        x, W = cache
        return dout @ W, x.T @ dout

    x = RNG.standard_normal((3, 4))
    A = RNG.standard_normal((4, 4))
    W = A + A.T  # symmetric: W = W.T hides the bug
    one = gradcheck.check_layer(fwd, bwd_transposed, x, W, points=1)
    assert one.ok
    assert "degenerate" in [d.kind for d in one.diagnoses]  # and says why it could pass
    three = gradcheck.check_layer(fwd, bwd_transposed, x, W)
    assert not three.ok
    assert any("failed at point 2 of 3" in n for n in three.notes)
