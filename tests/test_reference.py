"""Low-precision kernels against a reference: a hand-written attention in float16 and bfloat16
against torch's scaled_dot_product_attention in float64."""

import numpy as np
import pytest

import gradcheck

torch = pytest.importorskip("torch")

from . import attention_kernel as A


def _inputs(seed=0, b=2, h=4, n=16, d=8):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(b, h, n, d, generator=gen) for _ in range(3)]


def _check(bug, dtype, causal=False, seed=0):
    return gradcheck.check_against_reference(
        A.attention(bug, causal), A.reference(causal), _inputs(seed), dtype=dtype,
        names=["q", "k", "v"], split_dim=1,
    )  # fmt: skip


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("causal", [False, True])
def test_the_right_kernel_passes(dtype, causal):
    report = _check(None, dtype, causal)
    assert report.ok, str(report)
    assert "dq[:, 3]" in report.layout.names
    assert any("float64 from the same" in n for n in report.notes)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(
    ("bug", "kind", "block"),
    [("scale in one head", "scale", "dq[:, 3]"), ("sign in one block", "sign", "dk[:, 2]")],
)
def test_a_planted_pattern_is_named_in_its_block(dtype, bug, kind, block):
    report = _check(bug, dtype)
    assert not report.ok
    d = report.diagnoses[0]
    assert (d.kind, d.block) == (kind, block)
    if kind == "scale":  # the missing 1/√d, d = 8
        assert d.factor == pytest.approx(np.sqrt(8), rel=2e-2)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_dropped_term_in_dv_is_localized_in_that_head(dtype):
    report = _check("dv term dropped in one head", dtype)
    assert not report.ok
    blocks = {d.block for d in report.diagnoses if d.severity == "fail"}
    assert blocks == {"dv[:, 1]"}


def test_non_finite_values_are_named():
    def broken(q, k, v):
        return A.attention()(q, k, v) * torch.tensor(float("nan"), dtype=q.dtype)

    report = gradcheck.check_against_reference(
        broken, A.reference(), _inputs(), dtype=torch.bfloat16, names=["q", "k", "v"]
    )
    assert not report.ok
    assert report.diagnoses[0].kind == "nonfinite"


def test_tf32_off_is_restored_and_said():
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        on = _check(None, torch.float32)
        assert any("TF32 is on" in n for n in on.notes)
        off = gradcheck.check_against_reference(
            A.attention(), A.reference(), _inputs(), dtype=torch.float32, tf32="off"
        )
        assert off.ok
        assert any("TF32 matmul off" in n for n in off.notes)
        assert torch.backends.cuda.matmul.allow_tf32 is True  # put back
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before
