"""The PyTorch adapter; oracle: torch.autograd.gradcheck."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch extra is part of the dev install")

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


def test_check_function_batches_with_vmap_and_gives_the_same_numbers():
    x, W, b = _inputs()
    fn = lambda x, W, b: torch.tanh(x @ W.T + b)
    batched = gtorch.check_function(fn, x, W, b)
    serial = gtorch.check_function(fn, x, W, b, vectorized=False)
    assert batched.ok
    assert serial.ok
    assert any("torch.func.vmap" in n for n in batched.notes)
    np.testing.assert_allclose(batched.numeric, serial.numeric, rtol=1e-6, atol=1e-10)
    # a custom Function without a vmap rule falls back to one point at a time
    plain = gtorch.check_function(_make(None).apply, x, W, b)
    assert plain.ok
    assert not any("in batches with torch.func.vmap" in n for n in plain.notes)
    assert any("torch.func.vmap could not batch this function" in n for n in plain.notes)


def _coordinates(x, entries, values):
    """Points of x with one entry changed each, as the evaluator hands a model's loss."""
    from gradcheck.evaluate import Points

    return Points(
        x, entries.size, lambda k: (entries[k], values[k]), str, coordinates=(entries, values)
    )


def test_a_refused_vmap_evaluates_coordinates_one_point_at_a_time():
    """When vmap cannot batch the function, a batch of (entry, value) changes is evaluated one
    point at a time from one buffer: never a (batch, n) matrix, and the right values."""
    import tracemalloc

    from gradcheck.adapters.torch import _Batched
    from gradcheck.evaluate import REFUSED, Evaluator, Ledger

    def refuses(flat):
        raise RuntimeError("no vmap rule")

    n = 200_000
    x = np.linspace(-1.0, 1.0, n)
    ledger = Ledger()
    batched = _Batched(torch, refuses, torch.device("cpu"), lambda p: float(p @ p), ledger)
    entries, values = np.arange(0, 64_000, 1_000), np.full(64, 3.0)
    ev = Evaluator(batched, vectorized=True, ledger=ledger)
    tracemalloc.start()
    try:
        got = ev.costs(_coordinates(x, entries, values)).values
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    expected = x @ x - x[entries] ** 2 + 9.0
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert ledger.batches == REFUSED
    assert ledger.calls == 2 + 64  # the refused batch of two, counted; then one at a time
    assert peak < 4 * 8 * n  # the trial's 2 points, one buffer and its copy: not 64 points of n
    assert "could not batch" in (batched.note() or "")


def test_coordinates_reuse_one_buffer_of_points_and_restore_it():
    """Batches of (entry, value) changes are written into one kept buffer of copies of x and
    put back after each batch: every loss is the one at its own point, and the buffer is x
    again after each call."""
    from gradcheck.adapters.torch import _Batched
    from gradcheck.evaluate import AGREED, Evaluator, Ledger

    n = 5_000
    x = np.linspace(-1.0, 1.0, n)
    ledger = Ledger()
    batched = _Batched(torch, lambda p: p @ p, torch.device("cpu"), lambda p: float(p @ p), ledger)
    ev = Evaluator(batched, vectorized=True, ledger=ledger)
    rng = np.random.default_rng(0)
    for _ in range(3):  # three calls, each over several vmap batches
        entries = rng.integers(0, n, 3 * batched.vmap_points + 5)
        values = rng.standard_normal(entries.size)
        got = ev.costs(_coordinates(x, entries, values)).values
        np.testing.assert_allclose(got, x @ x - x[entries] ** 2 + values**2, rtol=1e-12)
        kept = batched._device[2].numpy()
        assert np.array_equal(kept, np.broadcast_to(x, kept.shape))
    assert ledger.batches == AGREED
    assert batched.note() == "perturbed points were evaluated in batches with torch.func.vmap."


def test_a_model_that_changes_its_parameters_in_place_is_evaluated_one_point_at_a_time():
    """A forward pass that halves a weight in place would halve the kept buffer of points of a
    vmap batch, and every later batch with it: the vmap probe sees its input changed, points are
    evaluated one at a time, and the numbers agree with the check that never batched."""

    class Halving(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(40, 3)

        def forward(self, x):
            with torch.no_grad():
                self.lin.weight.mul_(0.5)
            return self.lin(x)

    torch.manual_seed(3)
    X, y = torch.randn(8, 40), torch.randint(0, 3, (8,))
    loss = torch.nn.functional.cross_entropy
    model = Halving()  # check_module works on a copy: the same model for both checks
    batched = gtorch.check_module(model, loss, X, y, mode="full")
    serial = gtorch.check_module(model, loss, X, y, mode="full", vectorized=False)
    assert any("changed its parameters in place" in n for n in batched.notes)
    assert not any("in batches with torch.func.vmap" in n for n in batched.notes)
    np.testing.assert_array_equal(batched.numeric, serial.numeric)
    assert (batched.ok, serial.ok) == (False, False)  # autograd misses the halving: scale 0.5
    assert batched.diagnoses[0].kind == "scale"


def test_a_batch_that_raises_leaves_no_changed_rows_behind():
    """When the model raises in the middle of a call (out of memory, Ctrl-C), the kept buffer
    may hold that batch's entries: it is dropped, and the next call's losses are right."""
    from gradcheck.adapters.torch import _Batched
    from gradcheck.evaluate import Evaluator, Ledger

    traced = []

    def single(p):
        traced.append(1)  # one trace per vmap call: the trial, then each batch
        if len(traced) == 3:
            raise RuntimeError("CUDA out of memory")
        return p @ p

    n = 1_000
    x = np.linspace(-1.0, 1.0, n)
    ledger = Ledger()
    batched = _Batched(torch, single, torch.device("cpu"), lambda p: float(p @ p), ledger)
    ev = Evaluator(batched, vectorized=True, ledger=ledger)
    size = 2 * batched.vmap_points
    with pytest.raises(RuntimeError, match="out of memory"):
        ev.costs(_coordinates(x, np.arange(size), np.full(size, 7.0)))
    entries = np.arange(size, 2 * size)  # other entries: a left-over 7.0 would show
    got = ev.costs(_coordinates(x, entries, np.zeros(size))).values
    np.testing.assert_allclose(got, x @ x - x[entries] ** 2, rtol=1e-12)
