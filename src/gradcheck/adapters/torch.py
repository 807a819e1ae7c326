"""PyTorch: check a module's autograd gradients, or a custom ``autograd.Function``, in float64.

Each parameter is a named block (from ``named_parameters()``), so a report says
``fc1.weight[3, 0]``. Checks run on a float64 copy of the model: a float32 model is checked in
float64, and the report says so. Where ``torch.func.vmap`` can batch the model, perturbed points
are evaluated in batches (``vectorized``); otherwise one at a time.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from ..check import check
from ..jacobian import check_jacobian
from ..layout import Layout
from ..report import Report


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
    model: Any, loss_fn: Callable, *batch: Any, batched: bool = True, **check_kwargs: Any
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
    batched : bool, default True
        Evaluate perturbed parameters in batches with ``torch.func.vmap`` when the model allows.
    **check_kwargs
        Passed to :func:`gradcheck.check`.

    Returns
    -------
    Report
        Blocks are the parameter names, e.g. ``fc1.weight``.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    >>> X, y = torch.randn(5, 3, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 1, 0, 1])
    >>> check_module(model, torch.nn.functional.cross_entropy, X, y).ok
    True
    """
    torch = _torch()
    dtypes = {p.dtype for p in model.parameters()}
    model64 = copy.deepcopy(model).double()
    named = [(name, p) for name, p in model64.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("model has no trainable parameters (requires_grad=True) to check.")
    layout = Layout({name: tuple(p.shape) for name, p in named})  # C order, like torch's reshape
    batch64 = tuple(
        b.double() if torch.is_tensor(b) and torch.is_floating_point(b) else b for b in batch
    )
    device = named[0][1].device  # CPU or CUDA: the model runs where it is
    x0 = torch.cat([p.detach().reshape(-1) for _, p in named]).cpu().numpy().copy()

    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        with torch.no_grad():
            for name, p in named:
                p.copy_(torch.from_numpy(x[layout.slice(name)]).to(device).view_as(p))
        model64.zero_grad(set_to_none=True)
        loss = _loss(model64, loss_fn, batch64)
        if loss.numel() != 1:
            raise ValueError(
                f"loss_fn must return a scalar, got a tensor of shape {tuple(loss.shape)}."
            )
        loss.backward()
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for _, p in named]
        return float(loss.detach()), torch.cat([g.reshape(-1) for g in grads]).cpu().numpy().copy()

    notes = []
    if dtypes != {torch.float64}:
        notes.append(
            f"the model's parameters are {', '.join(sorted(str(d) for d in dtypes))}; they were checked on a float64 copy."
        )
    vectorized = (
        _vmapped(torch, model64, layout, loss_fn, batch64, f, x0, device) if batched else None
    )
    if vectorized is not None:
        report = check(
            vectorized,
            x0,
            grad=lambda x: f(x)[1],
            blocks=layout.blocks,
            vectorized=True,
            **check_kwargs,
        )
        notes.append("perturbed parameters were evaluated in batches with torch.func.vmap.")
    else:
        report = check(f, x0, blocks=layout.blocks, **check_kwargs)
    if device.type == "cuda" and any(d.kind == "nondeterministic" for d in report.diagnoses):
        notes.append(
            "on CUDA some kernels (cuDNN convolution backward, scatter/index_add) use atomic adds "
            "and are not deterministic: call torch.use_deterministic_algorithms(True) (and set "
            "CUBLAS_WORKSPACE_CONFIG=:4096:8) before checking."
        )
    return replace(report, notes=[*report.notes, *notes])


def _vmapped(
    torch: Any,
    model: Any,
    layout: Layout,
    loss_fn: Callable,
    batch: tuple,
    f: Callable,
    x0: np.ndarray,
    device: Any,
) -> Callable | None:
    """A (k, n) → (k,) loss function through torch.func.vmap, or None if the model does not allow it."""
    from torch.func import functional_call, vmap

    def single(flat: Any) -> Any:
        params = {
            name: flat[layout.slice(name)].view(shape) for name, shape in layout.blocks.items()
        }
        return _loss(lambda *inputs: functional_call(model, params, inputs), loss_fn, batch)

    batched = vmap(single)

    def losses(X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return (
                batched(torch.from_numpy(np.atleast_2d(X)).to(device)).detach().cpu().numpy().copy()
            )

    try:
        probe = np.stack([x0, x0 + 1e-3])
        got = losses(probe)
        want = np.array([f(p)[0] for p in probe])
        f(x0)  # leave the model at x0
    except Exception:  # noqa: BLE001 (vmap refuses many models; fall back to one point at a time)
        return None
    return losses if np.allclose(got, want, rtol=1e-12, atol=0) else None


def check_function(fn: Callable, *inputs: Any, **check_kwargs: Any) -> Report:
    """Check the backward of ``fn`` (a custom ``autograd.Function``'s ``apply``, or any function
    of tensors) with respect to its floating-point tensor inputs, vector outputs included.

    Inputs are named after ``fn``'s parameters when it has a signature (``x[2, 1]``), else
    ``input0``, ``input1``…; they are cast to float64. A vector output is checked through a
    random weighting of its entries (``gradcheck.check_jacobian`` with a vjp), and wrong
    Jacobian entries are named.

    Examples
    --------
    >>> import torch
    >>> check_function(lambda a, b: (a * b).sin(), torch.ones(3), torch.arange(3.0)).ok
    True
    """
    torch = _torch()
    names = _input_names(fn, len(inputs))
    checked = [k for k, t in enumerate(inputs) if torch.is_tensor(t) and torch.is_floating_point(t)]
    if not checked:
        raise TypeError("check_function needs at least one floating-point tensor among the inputs.")
    layout = Layout({names[k]: tuple(inputs[k].shape) for k in checked})
    device = inputs[checked[0]].device
    x0 = np.concatenate([inputs[k].detach().double().reshape(-1).cpu().numpy() for k in checked])

    def tensors(x: np.ndarray, requires_grad: bool) -> list:
        args = [
            t.double() if torch.is_tensor(t) and torch.is_floating_point(t) else t for t in inputs
        ]
        for k in checked:
            args[k] = (
                torch.from_numpy(x[layout.slice(names[k])].copy())
                .to(device)
                .view(inputs[k].shape)
                .requires_grad_(requires_grad)
            )
        return args

    def forward(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return fn(*tensors(x, False)).detach().reshape(-1).cpu().numpy().copy()

    def vjp(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        args = tensors(x, True)
        out = fn(*args)
        grads = torch.autograd.grad(
            out,
            [args[k] for k in checked],
            grad_outputs=torch.from_numpy(w).to(device).view(out.shape),
            allow_unused=True,
        )
        return np.concatenate(
            [
                (g if g is not None else torch.zeros_like(args[k]))
                .reshape(-1)
                .detach()
                .cpu()
                .numpy()
                for g, k in zip(grads, checked, strict=True)
            ]
        )

    return check_jacobian(forward, x0, vjp=vjp, blocks=layout.blocks, **check_kwargs)


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
