"""Verdicts on scikit-learn's loss gradients, kinks included: false alarms and misses.

scikit-learn's ``sklearn._loss`` writes each loss and its gradient with respect to the raw
prediction by hand (Cython). For ten losses — three of them with kinks (absolute error, pinball,
Huber) — the check runs on ``raw ↦ (Σ loss(y, raw), gradient(y, raw))`` for 50 samples, 20 seeds;
for the kinked losses five raw predictions sit exactly on their kink (raw = y, where the loss
has no derivative and scikit-learn returns one side's slope or 0).

- **False alarm**: a FAIL of scikit-learn's gradient. Away from kinks the gradient is right
  (scikit-learn tests it); at a kink, the check must pass with a ``kink`` warning when the
  gradient lies between the one-sided slopes, as a subgradient does.
- **Plants**: one random entry away from the kinks scaled by 1.01, sign-flipped, zeroed, or
  moved by 1e-3·max|g|; a **miss** is a PASS although the planted error exceeds 10× the
  report's tolerance for that entry.

Run:  python benchmarks/sklearn_losses_study.py [--seeds 20] [--out benchmarks/results/sklearn_losses]
"""

from __future__ import annotations

from functools import partial

import numpy as np
from _study import plant_columns, run  # the script's folder is on sys.path

import gradcheck

N = 50
KINKED = 5  # raw predictions placed exactly on the kink, for the kinked losses
PLANTS = {
    "x1.01": lambda g: 1.01 * g,
    "sign": lambda g: -g,
    "zero": lambda g: 0.0 * g,
    "+1e-3 max|g|": None,  # g_j + 1e-3·max|g|: needs the whole gradient
}


def losses(rng: np.random.Generator):
    """(name, loss, y, whether it has a kink at raw = y)."""
    from sklearn._loss import loss as sk

    normal, counts = rng.standard_normal(N), rng.poisson(2.0, N).astype(float)
    positive, binary = rng.gamma(2.0, 1.0, N), (rng.random(N) < 0.5).astype(float)
    return [
        ("HalfSquaredError", sk.HalfSquaredError(), normal, False),
        ("AbsoluteError", sk.AbsoluteError(), normal, True),
        ("PinballLoss q=0.3", sk.PinballLoss(quantile=0.3), normal, True),
        ("HuberLoss q=0.9", sk.HuberLoss(quantile=0.9), normal, False),
        ("HalfPoissonLoss", sk.HalfPoissonLoss(), counts, False),
        ("HalfGammaLoss", sk.HalfGammaLoss(), positive, False),
        ("HalfTweedieLoss p=1.5", sk.HalfTweedieLoss(power=1.5), positive, False),
        ("HalfTweedieLossIdentity p=0", sk.HalfTweedieLossIdentity(power=0), normal, False),
        ("HalfBinomialLoss", sk.HalfBinomialLoss(), binary, False),
        ("ExponentialLoss", sk.ExponentialLoss(), binary, False),
    ]


def _fg(loss, y, j, plant, raw):
    g = np.array(loss.gradient(y, raw), dtype=float)
    if plant is not None:
        g[j] = g[j] + 1e-3 * np.max(np.abs(g)) if PLANTS[plant] is None else PLANTS[plant](g[j])
    return float(np.sum(loss.loss(y, raw))), g


def study(seeds: int) -> list[dict]:
    records = []
    for seed in range(seeds):
        rng = np.random.default_rng([seed, 7])
        for name, loss, y, kinked in losses(rng):
            raw = rng.standard_normal(N) + (y if "Identity" in name else 0.0)
            if kinked:
                raw[:KINKED] = y[:KINKED]
            r = gradcheck.check(partial(_fg, loss, y, 0, None), raw, seed=seed)
            records.append({"loss": name, "seed": seed, "plant": "none", "ok": bool(r.ok),
                            "kinks": kinked, "calls": int(r.evaluations),
                            "kinds": [d.kind for d in r.diagnoses]})  # fmt: skip
            g = np.array(loss.gradient(y, raw), dtype=float)
            for plant in PLANTS:
                j = int(rng.integers(KINKED if kinked else 0, N))
                rp = gradcheck.check(partial(_fg, loss, y, j, plant), raw, seed=seed)
                error = abs(_fg(loss, y, j, plant, raw)[1][j] - g[j])
                tol = float(rp.tolerance[j]) if np.isfinite(rp.tolerance[j]) else np.inf
                records.append({"loss": name, "seed": seed, "plant": plant, "entry": j,
                                "ok": bool(rp.ok), "named": rp.mismatched.tolist(),
                                "error": error, "tolerance": tol})  # fmt: skip
    return records


def table(records: list[dict]) -> str:
    head = (
        "| loss | checks of the right gradient | PASS | of them with a `kink` warning | "
        "false alarms | plants | caught (the entry named alone) | PASS, error < 10× tolerance | "
        "missed | other entries named |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["loss"] for r in records):
        right = [r for r in records if r["loss"] == name and r["plant"] == "none"]
        plants = [r for r in records if r["loss"] == name and r["plant"] != "none"]
        passed = [r for r in right if r["ok"]]
        warned = [r for r in passed if "kink" in r["kinds"]]
        caught, small, missed, others = plant_columns(plants)
        lines.append(
            f"| {name} | {len(right)} | {len(passed)} | {len(warned)} | "
            f"{len(right) - len(passed)} | {len(plants)} | {caught} | {small} | "
            f"{missed} | {others} |"
        )
    return "\n".join(lines)


def main() -> None:
    run(__doc__, study, table, "seeds", 20, "benchmarks/results/sklearn_losses")


if __name__ == "__main__":
    main()
