"""check_module on a GPU: an MLP 784-1024-10 in float64 (814,090 parameters) on a batch of 512.

Times, in one run: gradcheck's directional verdict on the correct model, its verdict and
localisation of one planted wrong entry (a first layer whose backward adds an error to one weight's
gradient), torch.autograd.gradcheck's fast mode on the same model, and gradcheck's full check of
every parameter (perturbed parameters built on the GPU, in batches of 1,024, through vmap).

Run: python benchmarks/bench_gpu.py [--device cuda] [--hidden 1024] [--full/--no-full]
     [--try 2048x1 4096x4]   (full central checks with other vmap batch sizes x batches queued
                              per call, timed beside the defaults)
     [--profile]             (the device's kernels during one call of a full check, by time)
(torch's slow mode, a full check of its own, is not run: about 474 s on an H200 per issue 13.)
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch

from gradcheck import torch as gtorch
from gradcheck.adapters.torch import BATCH_POINTS, QUEUED, _Batched, _ModuleLoss
from gradcheck.evaluate import Ledger

ENTRY = (7, 456)  # the planted wrong entry of the first layer's weight


class _PlantedLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, W, b):
        ctx.save_for_backward(x, W)
        return x @ W.T + b

    @staticmethod
    def backward(ctx, g):
        x, W = ctx.saved_tensors
        gW = g.T @ x
        gW[ENTRY] += 1e-3 * gW.abs().max()  # the planted bug
        return g @ W, gW, g.sum(0)


class Planted(torch.nn.Module):
    def __init__(self, layer: torch.nn.Linear) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(layer.weight.detach().clone())
        self.bias = torch.nn.Parameter(layer.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _PlantedLinear.apply(x, self.weight, self.bias)


def timed(label: str, run, n: int) -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    report = run()
    seconds = time.perf_counter() - t0
    if isinstance(report, bool):
        verdict, calls = ("pass" if report else "fail (no location)"), "-"
    else:
        calls = str(report.evaluations)
        verdict = "pass" if report.ok else f"fail: {report.mismatched.tolist()[:3]} wrong"
        if report.diagnoses and not report.ok:
            verdict += f", {report.diagnoses[0].kind}"
        verdict += f"; {seconds - report.seconds_in_f:.2f} s outside the model's calls"
    print(f"| {label} | {n} | {seconds:.3f} | {calls} | {verdict} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--full", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--try",
        dest="variants",
        nargs="*",
        default=[],
        metavar="POINTSxQUEUED",
        help="vmap batch sizes and batches queued per call to time for the full central check "
        "besides the defaults (the GPU's throughput on 1.6 million float64 forward passes, and "
        "how little it waits for the host, decide the 40 s target)",
    )
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    first = torch.nn.Linear(784, args.hidden)
    model = torch.nn.Sequential(first, torch.nn.Tanh(), torch.nn.Linear(args.hidden, 10))
    model = model.double().to(device)
    planted = torch.nn.Sequential(Planted(model[0]), torch.nn.Tanh(), model[2]).to(device)
    X = torch.randn(512, 784, dtype=torch.float64, device=device)
    y = torch.randint(0, 10, (512,), device=device)
    loss = torch.nn.functional.cross_entropy
    n = sum(p.numel() for p in model.parameters())
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"MLP 784-{args.hidden}-10, float64, batch 512, on {name}")
    print("| run | parameters | seconds | calls of f | verdict |")
    print("|---|---:|---:|---:|---|")
    gtorch.check_module(model, loss, X, y, mode="directional")  # warm-up: CUDA, cuBLAS, vmap
    timed(
        "gradcheck directional, correct",
        lambda: gtorch.check_module(model, loss, X, y, mode="directional"),
        n,
    )
    timed(
        "gradcheck directional, one planted wrong entry",
        lambda: gtorch.check_module(planted, loss, X, y, mode="directional"),
        n,
    )

    names = [k for k, _ in model.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in model.parameters())

    def functional(*ps: torch.Tensor) -> torch.Tensor:
        out = torch.func.functional_call(model, dict(zip(names, ps, strict=True)), (X,))
        return loss(out, y)

    timed(
        "torch.autograd.gradcheck fast_mode=True",
        lambda: torch.autograd.gradcheck(functional, params, fast_mode=True, raise_exception=False),
        n,
    )
    # What one evaluation costs here, outside any check: the loss at a point sent from NumPy.
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).cpu().numpy()
    sizes = np.cumsum([p.numel() for p in model.parameters()])[:-1]
    probe = copy.deepcopy(model)
    t0 = time.perf_counter()
    for _ in range(50):
        with torch.no_grad():
            for p, part in zip(probe.parameters(), np.split(flat, sizes), strict=True):
                p.copy_(torch.from_numpy(part).to(device).view_as(p))
            float(loss(probe(X), y))
    each = (time.perf_counter() - t0) / 50
    print(f"| one evaluation from NumPy (mean of 50) | {n} | {each:.4f} | 1 | - |")
    if args.full:
        for method in ("auto", "forward"):
            timed(
                f"gradcheck full (every parameter), method={method!r}",
                lambda m=method: gtorch.check_module(
                    model, loss, X, y, mode="full", method=m, progress=False
                ),
                n,
            )
        defaults = BATCH_POINTS[device.type], QUEUED[device.type]
        for variant in args.variants:
            points, queued = (int(v) for v in variant.split("x"))
            BATCH_POINTS[device.type], QUEUED[device.type] = points, queued
            timed(
                f"gradcheck full (every parameter), method='auto', {points} points per vmap "
                f"batch, {queued} queued per call",
                lambda: gtorch.check_module(model, loss, X, y, mode="full", progress=False),
                n,
            )
        BATCH_POINTS[device.type], QUEUED[device.type] = defaults
    if args.profile:
        profile(model, loss, X, y, device)


def profile(model, loss, X, y, device) -> None:
    """The device's kernels, by total time, during one call of a full check's evaluations."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    losses = _ModuleLoss(torch, model, loss, (X, y))
    batched = _Batched(torch, losses.single, device, losses.cost, losses.x0, Ledger())
    entries = np.arange(batched.batch_size) % losses.x0.size
    values = losses.x0[entries] + 1e-4
    batched.coordinates(losses.x0, entries, values)  # vmap confirmed, x sent, warm
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch_profile(activities=activities) as prof:
        t0 = time.perf_counter()
        batched.coordinates(losses.x0, entries, values)
        seconds = time.perf_counter() - t0
    print(f"\none call of {entries.size} points: {seconds:.3f} s")
    key = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
    print(prof.key_averages().table(sort_by=key, row_limit=14, max_name_column_width=60))


if __name__ == "__main__":
    main()
