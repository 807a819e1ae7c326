"""gradcheck.torch.check_module against torch.autograd.gradcheck on a small MLP and a small CNN.

Both check the parameter gradients autograd computes, in float64, on the same batch: torch's
gradcheck through torch.func.functional_call with the parameters as inputs. Reported: time,
evaluations of the loss, verdict, and for a model with one planted bug (a custom layer whose
backward transposes the weight gradient) whether the bug is found and where.

Run:  python benchmarks/bench_torch.py [--device cuda]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.func import functional_call

from gradcheck import torch as gtorch


class TransposedGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, W):
        ctx.save_for_backward(x, W)
        return x @ W.T

    @staticmethod
    def backward(ctx, g):
        x, W = ctx.saved_tensors
        return g @ W, x.T @ g  # bug: should be g.T @ x


class BuggyLinear(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(n, n) / n**0.5)

    def forward(self, x):
        return TransposedGrad.apply(x, self.weight)


def models(device):
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.Tanh(), torch.nn.Linear(32, 10))
    cnn = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.Tanh(),
        torch.nn.Conv2d(4, 4, 3),
        torch.nn.Tanh(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 4 * 4, 10),
    )
    buggy = torch.nn.Sequential(
        torch.nn.Linear(20, 16),
        torch.nn.Tanh(),
        BuggyLinear(16),
        torch.nn.Tanh(),
        torch.nn.Linear(16, 10),
    )
    X_mlp, X_cnn = torch.randn(32, 20), torch.randn(16, 1, 8, 8)
    y_mlp, y_cnn = torch.randint(0, 10, (32,)), torch.randint(0, 10, (16,))
    return [
        ("MLP 20-32-10", mlp, X_mlp, y_mlp),
        ("CNN 2×conv3 + linear", cnn, X_cnn, y_cnn),
        ("MLP with a planted bug", buggy, X_mlp, y_mlp),
    ]


def torch_check(model, X, y, fast):
    model = model.double()
    names = [n for n, _ in model.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in model.parameters())
    calls = [0]

    def fn(*ps):
        calls[0] += 1
        return torch.nn.functional.cross_entropy(
            functional_call(model, dict(zip(names, ps, strict=True)), (X.double(),)), y
        )

    ok = torch.autograd.gradcheck(fn, params, fast_mode=fast, raise_exception=False)
    return ok, calls[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {card}; torch {torch.__version__}")
    print("| model | parameters | tool | seconds | evaluations | verdict |")
    print("|---|---:|---|---:|---:|---|")
    for name, model, X, y in models(device):
        model, X, y = model.to(device), X.to(device), y.to(device)
        n = sum(p.numel() for p in model.parameters())
        for vectorized, mode in ((True, "full"), (False, "full"), (True, "directional")):
            t0 = time.perf_counter()
            report = gtorch.check_module(
                model,
                torch.nn.functional.cross_entropy,
                X,
                y,
                vectorized=vectorized,
                mode=mode,
                progress=False,
            )
            seconds = time.perf_counter() - t0
            verdict = (
                "pass"
                if report.ok
                else f"fail: {report.mismatched.size} wrong in {sorted({report.layout.block_of([i]) for i in report.mismatched})}, {report.diagnoses[0].kind}"
            )
            how = (
                "vmap batches"
                if any("in batches with torch.func.vmap" in s for s in report.notes)
                else "serial"
            )
            label = f"gradcheck check_module, {mode} ({how})"
            print(
                f"| {name} | {n} | {label} | {seconds:.3f} | {report.evaluations} | {verdict} |",
                flush=True,
            )
        for fast in (False, True):
            t0 = time.perf_counter()
            ok, calls = torch_check(model, X, y, fast)
            seconds = time.perf_counter() - t0
            print(
                f"| {name} | {n} | torch.autograd.gradcheck fast_mode={fast} | {seconds:.3f} | {calls} | {'pass' if ok else 'fail (no location)'} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
