"""PyTorch: check a module's autograd gradients, or a custom ``autograd.Function``, in float64.

Each parameter is a named block (from ``named_parameters()``), so a report says
``fc1.weight[3, 0]``. Checks run on a float64 copy of the model: a float32 model is checked in
float64, and the report says so. Where ``torch.func.vmap`` can batch the model, perturbed points
are evaluated in batches (``vectorized``); otherwise one at a time.
"""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from ..evaluate import AGREED, WROTE, Ledger
from ..jacobian import jacobian_extension, weighted
from ..layout import Layout
from ..pipeline import Extension, Findings, make_settings, run
from ..problem import make_problem
from ..report import Diagnosis, Report


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError('gradcheck.torch needs PyTorch: pip install "gradcheck[torch]"') from None
    return torch


def _loss(model: Any, loss_fn: Callable, batch: tuple) -> Any:
    # batch = (inputs..., target): the loss is loss_fn(model(*inputs), target); a single
    # element is taken as the inputs of a loss_fn(model(inputs)) without target.
    if len(batch) == 1:
        return loss_fn(model(batch[0]))
    return loss_fn(model(*batch[:-1]), batch[-1])


def check_module(
    model: Any,
    loss_fn: Callable,
    *batch: Any,
    vectorized: bool = True,
    batched: bool | None = None,
    **options: Any,
) -> Report:
    """Check the gradients autograd computes for every trainable parameter of ``model``.

    Parameters
    ----------
    model : torch.nn.Module
        Not modified: a float64 deep copy is checked.
    loss_fn : callable
        ``loss_fn(model(*inputs), target)`` (or ``loss_fn(model(inputs))`` for one batch item)
        returns a scalar tensor.
    *batch : tensors
        ``inputs..., target``. Floating tensors are cast to float64.
    vectorized : bool, default True
        Evaluate batches of 16 perturbed parameter vectors or more with ``torch.func.vmap`` when
        the model allows and vmap gives its losses (checked on the first such batch, 4
        evaluations); smaller batches one at a time (``batched=`` is the old name of this
        option, still accepted with a warning).
    **options
        Passed to :func:`gradcheck.check` (``method``, ``step``, ``mode``, ``rtol``, …).

    Returns
    -------
    Report
        Blocks are the parameter names, e.g. ``fc1.weight``. ``evaluations`` counts the points
        at which the loss was evaluated (the gradient's backward passes are not counted).

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    >>> X, y = torch.randn(5, 3, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 1, 0, 1])
    >>> check_module(model, torch.nn.functional.cross_entropy, X, y).ok
    True
    """
    torch = _torch()
    if batched is not None:
        warnings.warn(
            "check_module(batched=...) is now vectorized=...", DeprecationWarning, stacklevel=2
        )
        vectorized = batched
    loss = _ModuleLoss(torch, model, loss_fn, batch)
    settings = make_settings(**options)
    ledger = Ledger()
    if vectorized:
        losses = _Batched(torch, loss.single, loss.device, loss.cost, ledger)
        problem = make_problem(losses, loss.x0, loss.gradient, blocks=loss.layout, vectorized=True)
    else:
        losses = None
        problem = make_problem(loss.cost, loss.x0, loss.gradient, blocks=loss.layout)
    after = partial(_notes_after, losses, loss.device.type == "cuda")
    return run(problem, settings, Extension(tuple(loss.notes()), after), ledger)


class _ModuleLoss:
    """The loss (``cost``) and its gradient (``gradient``) of a float64 copy of the model, its
    parameters set from a flat vector x."""

    def __init__(self, torch: Any, model: Any, loss_fn: Callable, batch: tuple) -> None:
        self.torch, self.loss_fn = torch, loss_fn
        self.dtypes = {p.dtype for p in model.parameters()}
        self.model = copy.deepcopy(model).double()
        self.named = [(name, p) for name, p in self.model.named_parameters() if p.requires_grad]
        if not self.named:
            raise ValueError("model has no trainable parameters (requires_grad=True) to check.")
        # C order, like torch's reshape
        self.layout = Layout({name: tuple(p.shape) for name, p in self.named})
        self.batch = tuple(
            b.double() if torch.is_tensor(b) and torch.is_floating_point(b) else b for b in batch
        )
        self.device = self.named[0][1].device  # CPU or CUDA: the model runs where it is
        flat = [p.detach().reshape(-1) for _, p in self.named]
        self.x0 = to_numpy(torch.cat(flat))

    def notes(self) -> list[str]:
        if self.dtypes == {self.torch.float64}:
            return []
        found = ", ".join(sorted(str(d) for d in self.dtypes))
        return [f"the model's parameters are {found}; they were checked on a float64 copy."]

    def _set(self, x: np.ndarray) -> Any:
        """The model's parameters set from x; its loss on the batch (a scalar tensor)."""
        torch = self.torch
        with torch.no_grad():
            for name, p in self.named:
                p.copy_(torch.from_numpy(x[self.layout.slice(name)]).to(self.device).view_as(p))
        loss = _loss(self.model, self.loss_fn, self.batch)
        if loss.numel() != 1:
            raise ValueError(
                f"loss_fn must return a scalar, got a tensor of shape {tuple(loss.shape)}."
            )
        return loss

    def cost(self, x: np.ndarray) -> float:
        """The loss alone (no backward pass: what a perturbed point needs)."""
        with self.torch.no_grad():
            return float(self._set(x))

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """The gradient autograd computes, flattened like x."""
        torch = self.torch
        self.model.zero_grad(set_to_none=True)
        self._set(x).backward()
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for _, p in self.named]
        return to_numpy(torch.cat([g.reshape(-1) for g in grads]))

    def single(self, flat: Any) -> Any:
        """The loss for one parameter vector given as a tensor, without touching the model's
        own parameters (``torch.func.functional_call``): what ``vmap`` batches."""
        from torch.func import functional_call

        layout = self.layout
        params = {
            name: flat[layout.slice(name)].view(shape) for name, shape in layout.blocks.items()
        }
        model = self.model
        return _loss(
            lambda *inputs: functional_call(model, params, inputs), self.loss_fn, self.batch
        )


def _notes_after(
    batched: _Batched | None, on_cuda: bool, found: Findings
) -> tuple[list[Diagnosis], list[str]]:
    """What only the end of a check can say: whether vmap was used, and the CUDA hint."""
    note = batched.note() if batched is not None else None
    notes = [note] if note is not None else []
    if on_cuda and any(d.kind == "nondeterministic" for d in found.diagnoses):
        notes.append(
            "on CUDA some kernels (cuDNN convolution backward, scatter/index_add) use atomic "
            "adds and are not deterministic: call torch.use_deterministic_algorithms(True) "
            "(and set CUBLAS_WORKSPACE_CONFIG=:4096:8) before checking."
        )
    return [], notes


VMAP_FROM = 16  # batches of this many points go through vmap; smaller ones one at a time
BATCH_POINTS = {"cuda": 2048, "cpu": 64}  # points per vmap batch of a full check, by device
# vmap batches queued on the device per call, their losses read back once: the host's work
# between calls (bookkeeping, the next batch's Python) then runs while the device computes.
QUEUED = {"cuda": 8, "cpu": 1}


class _Batched:
    """A function of one flat vector (``single``, a tensor in and out) on a (k, n) batch of
    vectors through ``torch.func.vmap``; and, for a model's loss, on a batch of (entry, value)
    changes of one vector, built on the model's device — so that a full check of a model with
    millions of parameters never moves millions of points.

    It declares :class:`gradcheck.evaluate.Batching`: the evaluator uses its batches only once
    two points of the first batch of ``VMAP_FROM`` or more gave ``serial``'s values and came
    back unchanged (four evaluations, counted there); smaller batches — a directional check's
    six points — and every batch when vmap refuses the function, disagrees or writes into its
    input, go through ``serial`` one point at a time, so that a directional verdict costs its 8
    calls. The trial's verdict is the ledger's (``note`` says it)."""

    # It copies what it reads (to the device, into the model) and neither writes into nor keeps
    # the points it is given (a function that writes into its input is refused by the trial):
    # the evaluator hands it a batch's rows without a private copy.
    reads_only = True
    batch_from = VMAP_FROM

    def __init__(
        self,
        torch: Any,
        single: Callable,
        device: Any,
        serial: Callable[[np.ndarray], Any],
        ledger: Ledger,
    ) -> None:
        from torch.func import vmap

        self.torch, self.batched, self.device = torch, vmap(single), device
        self.serial, self.ledger = serial, ledger
        self.vmap_points = BATCH_POINTS.get(device.type, BATCH_POINTS["cpu"])
        # what the evaluator hands ``coordinates`` at a time
        self.batch_size = self.vmap_points * QUEUED.get(device.type, 1)
        # (x, x on the device, vmap_points rows of copies of it): x is sent once per x
        self._device: tuple[np.ndarray, Any, Any] | None = None

    def note(self) -> str | None:
        verdict = self.ledger.batches
        if verdict == AGREED:
            return "perturbed points were evaluated in batches with torch.func.vmap."
        if verdict == WROTE:
            return (
                "the model changed its parameters in place during a forward pass (seen on the "
                "points handed to torch.func.vmap): points were evaluated one at a time."
            )
        if verdict is not None:
            return (
                "torch.func.vmap could not batch this function (it refused, or its values "
                "differed from one-at-a-time evaluation at two points of the first batch): "
                "points were evaluated one at a time."
            )
        return None

    def __call__(self, X: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return to_numpy(self.batched(self.torch.from_numpy(np.atleast_2d(X)).to(self.device)))

    def coordinates(self, x: np.ndarray, entries: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Losses at x with ``entries`` set to ``values``, one point per pair: the points are
        built on the device, ``vmap_points`` at a time, all queued before the losses are read
        back (one wait per call, not one per vmap batch).

        The points of a batch are rows of one buffer of copies of x, kept while x is: each
        batch sets its entries and puts x's values back once the model has run (in the
        device's order), instead of writing ``vmap_points`` copies of x again (the device time
        this saves: benchmarks/RESULTS.md, the GPU section). Safe because a function that changes its input in
        place is never given a batch (the evaluator's trial refuses it)."""
        torch = self.torch
        if self._device is None or self._device[0] is not x:
            base = torch.tensor(x, device=self.device)
            self._device = (x, base, base.unsqueeze(0).repeat(self.vmap_points, 1))
        _, base, points = self._device
        with torch.no_grad():
            where = torch.from_numpy(entries).to(self.device)
            value = torch.from_numpy(values).to(self.device)
            losses = []
            try:
                for start in range(0, entries.size, self.vmap_points):
                    w = where[start : start + self.vmap_points]
                    rows = torch.arange(w.numel(), device=self.device)
                    points[rows, w] = value[start : start + self.vmap_points]
                    losses.append(self.batched(points[: w.numel()]).reshape(-1))
                    points[rows, w] = base[w]
            except BaseException:  # the model raised, or Ctrl-C: the rows may hold a batch
                self._device = None
                raise
            return to_numpy(torch.cat(losses))


def check_function(fn: Callable, *inputs: Any, vectorized: bool = True, **options: Any) -> Report:
    """Check the backward of ``fn`` (a custom ``autograd.Function``'s ``apply``, or any function
    of tensors) with respect to its floating-point tensor inputs, vector outputs included.

    Inputs are named after ``fn``'s parameters when it has a signature (``x[2, 1]``), else
    ``input0``, ``input1``…; they are cast to float64. A vector output is checked through a
    random weighting of its entries (``gradcheck.check_jacobian`` with a vjp), and wrong
    Jacobian entries are named. With ``vectorized=True`` (the default) perturbed inputs are
    evaluated in batches with ``torch.func.vmap`` when ``fn`` allows it, one at a time otherwise.

    Examples
    --------
    >>> import torch
    >>> check_function(lambda a, b: (a * b).sin(), torch.ones(3), torch.arange(3.0)).ok
    True
    """
    torch = _torch()
    of = _FunctionOf(torch, fn, inputs)
    ledger = Ledger()
    batched = _Batched(torch, of.single, of.device, of.forward, ledger) if vectorized else None
    seed = int(options.pop("seed", 0))
    probe = make_problem(of.forward, of.x0, blocks=of.layout)
    problem, transpose = weighted(probe, ("vjp", of.vjp), batched, seed)
    late = partial(_notes_after, batched, of.device.type == "cuda")
    extension = jacobian_extension(of.forward, transpose, late_notes=late)
    return run(problem, make_settings(seed=seed, **options), extension, ledger)


class _FunctionOf:
    """A function of tensors seen as a function of one flat float64 vector: forward, vjp, and a
    batched forward through ``torch.func.vmap``."""

    def __init__(self, torch: Any, fn: Callable, inputs: tuple) -> None:
        self.torch, self.fn, self.inputs = torch, fn, inputs
        self.names = _input_names(fn, len(inputs))
        self.checked = [
            k for k, t in enumerate(inputs) if torch.is_tensor(t) and torch.is_floating_point(t)
        ]
        if not self.checked:
            raise TypeError(
                "check_function needs at least one floating-point tensor among the inputs."
            )
        self.layout = Layout({self.names[k]: tuple(inputs[k].shape) for k in self.checked})
        self.device = inputs[self.checked[0]].device
        self.x0 = np.concatenate(
            [to_numpy(inputs[k].detach().double().reshape(-1)) for k in self.checked]
        )
        self.base = [
            t.double() if torch.is_tensor(t) and torch.is_floating_point(t) else t for t in inputs
        ]

    def tensors(self, x: Any, requires_grad: bool = False) -> list:
        """The inputs with the checked ones taken from ``x`` (a NumPy vector or a tensor)."""
        torch, args = self.torch, list(self.base)
        for k in self.checked:
            part = x[self.layout.slice(self.names[k])]
            if isinstance(part, np.ndarray):
                part = torch.from_numpy(part.copy()).to(self.device)
            part = part.view(self.inputs[k].shape)
            args[k] = part.requires_grad_(True) if requires_grad else part
        return args

    def forward(self, x: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return to_numpy(self.fn(*self.tensors(x)).reshape(-1))

    def vjp(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        torch, args = self.torch, self.tensors(x, True)
        out = self.fn(*args)
        grads = torch.autograd.grad(
            out,
            [args[k] for k in self.checked],
            grad_outputs=torch.from_numpy(w).to(self.device).view(out.shape),
            allow_unused=True,
        )
        parts = [
            to_numpy(g.reshape(-1)) if g is not None else np.zeros(args[k].numel())
            for g, k in zip(grads, self.checked, strict=True)
        ]
        return np.concatenate(parts)

    def single(self, flat: Any) -> Any:
        """The output for one flat input tensor, flattened: what ``vmap`` batches."""
        return self.fn(*self.tensors(flat)).reshape(-1)


def to_numpy(t: Any) -> np.ndarray:
    """A tensor's values as a new NumPy array on the host, whatever its dtype: bfloat16 (which
    NumPy lacks) as float32, which holds every bfloat16 exactly; autograd's ZeroTensor (the
    gradient of an op whose derivative is known to be 0, ``sgn`` of a real input) as zeros."""
    t = t.detach()
    if getattr(t, "_is_zerotensor", lambda: False)():
        return np.zeros(
            tuple(t.shape), dtype=str(t.dtype).removeprefix("torch.").replace("bfloat16", "float32")
        )
    if str(t.dtype) == "torch.bfloat16":
        t = t.float()
    return t.cpu().resolve_conj().resolve_neg().numpy().copy()


def _input_names(fn: Callable, count: int) -> list[str]:
    # A custom autograd.Function's apply has no signature; its forward(ctx, ...) has.
    owner = getattr(fn, "__self__", None)
    target = owner.forward if isinstance(owner, type) and hasattr(owner, "forward") else fn
    try:
        params = [
            p.name
            for p in inspect.signature(target).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    if target is not fn:
        params = params[1:]  # ctx
    if len(params) >= count and len(set(params[:count])) == count:
        return params[:count]
    return [f"input{k}" for k in range(count)]
