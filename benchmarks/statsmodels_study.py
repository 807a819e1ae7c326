"""Verdicts on statsmodels' own score functions: false alarms and misses.

statsmodels writes the gradient of each likelihood by hand (``model.score``) beside the
likelihood (``model.loglike``). For each model below, datasets are drawn with fixed seeds, and
the check runs at the maximum-likelihood estimate (where the score is ~0: a relative error has
nothing to stand on) and at points moved from it by N(0, 0.3²) — ``gradcheck.check`` of
``p ↦ (loglike(p), score(p))``, default options.

- **False alarm**: a FAIL that an independent arbiter does not confirm. The arbiter is
  numdifftools' ``Gradient`` (Richardson extrapolation, not gradcheck's code): the score is
  right when it agrees with it to 1e-6 relative to the gradient's norm.
- **Plants** (at the moved points, where the right score passed): the right score with one
  random entry scaled by 1.01, sign-flipped, zeroed, or moved by 1e-3·max|g|; a **miss** is a
  PASS although the planted error exceeds the report's tolerance for that entry by 10× (a full
  check judges every entry: there is no resolution to hide behind).

Run:  python benchmarks/statsmodels_study.py [--datasets 5] [--mode auto|directional]
      [--out benchmarks/results/statsmodels]
Needs: pip install -e ".[bench]"  (statsmodels, numdifftools)
"""

from __future__ import annotations

import argparse
import time
import warnings
from functools import partial

import numpy as np
from _study import plant_columns, save  # the script's folder is on sys.path

import gradcheck

PLANTS = {
    "x1.01": lambda g, j: 1.01 * g[j],
    "sign": lambda g, j: -g[j] if g[j] != 0 else 1e-3 * np.max(np.abs(g)),
    "zero": lambda g, j: 0.0 if g[j] != 0 else 1e-3 * np.max(np.abs(g)),
    "+1e-3 max|g|": lambda g, j: g[j] + 1e-3 * np.max(np.abs(g)),
}


def _data(seed: int):
    rng = np.random.default_rng(seed)
    import statsmodels.api as sm

    X = sm.add_constant(rng.standard_normal((200, 3)))
    eta = X @ np.array([0.2, 0.5, -0.4, 0.3])
    return rng, X, eta


def models(seed: int):
    """(name, model, loglike, score) for every model of the study on the dataset of ``seed``."""
    import statsmodels.api as sm
    from statsmodels.genmod import families
    from statsmodels.genmod.families import links

    rng, X, eta = _data(seed)
    binary = (rng.random(200) < 1 / (1 + np.exp(-eta))).astype(float)
    counts = rng.poisson(np.exp(eta))
    over = rng.negative_binomial(2, 2 / (2 + np.exp(eta)))
    positive = rng.gamma(2.0, np.exp(eta) / 2.0)
    classes = np.digitize(eta + rng.logistic(size=200), [-0.5, 0.5])
    zeros = np.where(rng.random(200) < 0.3, 0, counts)
    built = {
        "Logit": sm.Logit(binary, X),
        "Probit": sm.Probit(binary, X),
        "Poisson": sm.Poisson(counts, X),
        "NegativeBinomial nb2": sm.NegativeBinomial(over, X, loglike_method="nb2"),
        "NegativeBinomial nb1": sm.NegativeBinomial(over, X, loglike_method="nb1"),
        "NegativeBinomialP p=1.5": sm.NegativeBinomialP(over, X, p=1.5),
        "GeneralizedPoisson": sm.GeneralizedPoisson(counts, X),
        "ZeroInflatedPoisson": sm.ZeroInflatedPoisson(zeros, X),
        "MNLogit (3 classes)": sm.MNLogit(classes, X),
    }
    out = [(name, m, m.loglike, m.score) for name, m in built.items()]
    for name, family in (
        ("GLM Binomial logit", families.Binomial()),
        ("GLM Poisson log", families.Poisson()),
        ("GLM Gamma log", families.Gamma(link=links.Log())),
        ("GLM Gaussian identity", families.Gaussian()),
        ("GLM InverseGaussian log", families.InverseGaussian(link=links.Log())),
    ):
        y = {"GLM Binomial logit": binary, "GLM Poisson log": counts}.get(name, positive)
        m = sm.GLM(y, X, family=family)
        out.append((name, m, lambda p, m=m: m.loglike(p, scale=1.0),
                    lambda p, m=m: m.score(p, scale=1.0)))  # fmt: skip
    return out


def _start(model):
    """The maximum-likelihood estimate (statsmodels' own fit), or None when it fails."""
    try:
        params = np.asarray(model.fit(disp=0, maxiter=200).params, dtype=float).reshape(-1)
    except TypeError:
        params = np.asarray(model.fit(maxiter=200).params, dtype=float).reshape(-1)
    except Exception:  # noqa: BLE001 (a model that cannot be fitted on this data is skipped)
        return None
    return params if np.all(np.isfinite(params)) else None


def _arbiter(loglike, p: np.ndarray, score: np.ndarray) -> bool:
    """Whether statsmodels' score is right at p: numdifftools' Richardson gradient agrees."""
    import numdifftools as nd

    numeric = nd.Gradient(loglike, order=4)(p)
    scale = max(float(np.linalg.norm(numeric)), 1e-300)
    return float(np.max(np.abs(numeric - score))) <= 1e-6 * scale


def _flat(score, q):
    return np.asarray(score(q), dtype=float).reshape(-1)


def _as_given(loglike, shape, q):
    """loglike of the flat vector q (MNLogit's parameters are a matrix)."""
    return float(loglike(q.reshape(shape) if len(shape) > 1 else q))


def _planted(loglike, score, shape, p, j, wrong, q):
    """The right (loglike, score) with entry j of the score planted wrong."""
    g = _flat(score, q)
    g[j] = float(wrong(g, j))
    return _as_given(loglike, shape, q), g


def one_model(name, loglike, score, points, rng, records, mode="auto"):
    for k, p in enumerate(points):
        shape = np.shape(score(p))
        g, x = _flat(score, p), p.reshape(-1)
        if not (np.all(np.isfinite(g)) and np.isfinite(loglike(p))):
            continue
        value = partial(_as_given, loglike, shape)
        t0 = time.perf_counter()
        r = gradcheck.check(lambda q, value=value: (value(q), _flat(score, q)), x, mode=mode)
        row = {"model": name, "point": k, "plant": "none", "ok": bool(r.ok),
               "calls": int(r.evaluations), "seconds": time.perf_counter() - t0,
               "kinds": [d.kind for d in r.diagnoses]}  # fmt: skip
        if not r.ok:
            row["arbiter_says_right"] = _arbiter(value, x, g)
        records.append(row)
        if not r.ok or k == 0:
            continue  # plants where the right score passes, away from the MLE (score ≈ 0)
        for plant, wrong in PLANTS.items():
            j = int(rng.integers(g.size))
            rp = gradcheck.check(
                partial(_planted, loglike, score, shape, p, j, wrong), x, mode=mode
            )
            tol = float(rp.tolerance[j]) if np.isfinite(rp.tolerance[j]) else np.inf
            records.append({"model": name, "point": k, "plant": plant, "entry": j,
                            "ok": bool(rp.ok), "named": rp.mismatched.tolist(),
                            "error": abs(float(wrong(g, j)) - g[j]), "tolerance": tol,
                            "calls": int(rp.evaluations)})  # fmt: skip


def table(records: list[dict]) -> str:
    names = list(dict.fromkeys(r["model"] for r in records))
    head = (
        "| model | points | right score: PASS | FAIL | false alarms | plants | caught "
        "(the entry named alone) | PASS, error < 10× tolerance | missed (error > 10× "
        "tolerance) | other entries named | median calls |"
    )
    lines = [
        head,
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        right = [r for r in records if r["model"] == name and r["plant"] == "none"]
        plants = [r for r in records if r["model"] == name and r["plant"] != "none"]
        fails = [r for r in right if not r["ok"]]
        false = [r for r in fails if r.get("arbiter_says_right")]
        caught, small, missed, others = plant_columns(plants)
        calls = int(np.median([r["calls"] for r in right])) if right else 0
        lines.append(
            f"| {name} | {len(right)} | {len(right) - len(fails)} | {len(fails)} | "
            f"{len(false)} | {len(plants)} | {caught} | {small} | {missed} | "
            f"{others} | "
            f"{calls} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=int, default=5)
    parser.add_argument("--mode", default="auto", help="check's mode= (auto: full here)")
    parser.add_argument("--out", default="benchmarks/results/statsmodels")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    records: list[dict] = []
    t0 = time.perf_counter()
    for seed in range(args.datasets):
        rng = np.random.default_rng([seed, 99])
        for name, model, loglike, score in models(seed):
            mle = _start(model)
            if mle is None:
                continue
            points = [mle] + [mle + 0.3 * rng.standard_normal(mle.shape) for _ in range(2)]
            one_model(name, loglike, score, points, rng, records, args.mode)
    seconds = time.perf_counter() - t0
    text = f"{len(records)} checks, mode={args.mode}, {seconds:.0f} s\n\n{table(records)}\n"
    save(records, text, args.out)


if __name__ == "__main__":
    main()
