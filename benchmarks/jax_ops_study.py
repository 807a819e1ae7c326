"""Verdicts on JAX's own derivatives: ``jax.numpy`` ops through ``gradcheck.jax.check_function``.

For each op, 20 input vectors (seeded; inside the op's domain), the check of
``params ↦ op(params["x"])`` — its vector output checked through a random weighting, JAX's
reverse mode as the analytic side, perturbed parameters evaluated through ``jax.vmap`` once the
evaluator's trial found the batches agreeing with one point at a time (``evaluate.Batching``).

- **False alarm**: a FAIL of JAX's derivative, unless the arbiter — ``jax.test_util.check_grads``
  at order 1 in reverse mode, JAX's own checker — also rejects it.
- **Plants** (at the first five points): the same op behind a ``custom_vjp`` whose backward
  scales one output's cotangent by 1.01, flips its sign, or drops it (``zero``); a **miss** is a
  PASS. A plant on an output that does not depend on x (relu where x < 0, the zeros above a
  Cholesky factor's diagonal) changes nothing; those are counted apart (``jax.jacrev`` of both).

Run:  python benchmarks/jax_ops_study.py [--points 20] [--out benchmarks/results/jax_ops]
"""

from __future__ import annotations

import time

import numpy as np
from _study import run  # the script's folder is on sys.path

N = 12  # entries of x


def ops():
    """(name, op, domain sampler) for elementwise, reduction and matrix ops of jax.numpy."""
    import jax.numpy as jnp

    real = lambda rng: rng.uniform(-2, 2, N)
    pos = lambda rng: rng.uniform(0.2, 3, N)
    unit = lambda rng: rng.uniform(-0.9, 0.9, N)
    mat = lambda f: lambda x: f(x.reshape(3, 4) @ x.reshape(3, 4).T + 3 * jnp.eye(3)).reshape(-1)
    return [
        ("sin", jnp.sin, real), ("cos", jnp.cos, real), ("tan", jnp.tan, unit),
        ("tanh", jnp.tanh, real), ("exp", jnp.exp, real), ("expm1", jnp.expm1, real),
        ("log", jnp.log, pos), ("log1p", jnp.log1p, pos), ("sqrt", jnp.sqrt, pos),
        ("cbrt", jnp.cbrt, pos), ("arcsin", jnp.arcsin, unit), ("arctan", jnp.arctan, real),
        ("arctanh", jnp.arctanh, unit), ("sinh", jnp.sinh, real), ("square", jnp.square, real),
        ("reciprocal", jnp.reciprocal, pos), ("abs", jnp.abs, real),
        ("relu", lambda x: jnp.maximum(x, 0), real), ("erf", __import__("jax").scipy.special.erf, real),
        ("logistic", __import__("jax").nn.sigmoid, real), ("softplus", __import__("jax").nn.softplus, real),
        ("gelu", __import__("jax").nn.gelu, real), ("softmax", __import__("jax").nn.softmax, real),
        ("log_softmax", __import__("jax").nn.log_softmax, real),
        ("logsumexp", lambda x: __import__("jax").scipy.special.logsumexp(x)[None], real),
        ("cumsum", jnp.cumsum, real), ("cumprod", jnp.cumprod, unit), ("sort", jnp.sort, real),
        ("norm", lambda x: jnp.linalg.norm(x)[None], real), ("prod", lambda x: jnp.prod(x)[None], unit),
        ("power 2.5", lambda x: x**2.5, pos), ("x·x outer", lambda x: jnp.outer(x, x).reshape(-1), real),
        ("matmul", lambda x: (x.reshape(3, 4) @ x.reshape(3, 4).T).reshape(-1), real),
        ("inv", mat(jnp.linalg.inv), real), ("det", mat(lambda a: jnp.linalg.det(a)[None]), real),
        ("slogdet", mat(lambda a: jnp.linalg.slogdet(a)[1][None]), real),
        ("cholesky", mat(jnp.linalg.cholesky), real), ("eigvalsh", mat(jnp.linalg.eigvalsh), real),
        ("solve", mat(lambda a: jnp.linalg.solve(a, jnp.arange(3.0))), real),
        ("qr R", lambda x: jnp.linalg.qr(x.reshape(4, 3))[1].reshape(-1), real),
        ("svd values", lambda x: jnp.linalg.svd(x.reshape(3, 4), compute_uv=False), real),
        ("expm", mat(__import__("jax").scipy.linalg.expm), unit),
    ]  # fmt: skip


def planted(op, how: str, which: int):
    """``op`` behind a custom_vjp whose backward spoils output ``which``'s cotangent."""
    import jax

    @jax.custom_vjp
    def wrapped(x):
        return op(x)

    def fwd(x):
        y, back = jax.vjp(op, x)
        return y, back

    def bwd(back, g):
        factor = {"x1.01": 1.01, "sign": -1.0, "zero": 0.0}[how]
        g = g.at[which].multiply(factor)
        return back(g)

    wrapped.defvjp(fwd, bwd)
    return wrapped


def study(points: int) -> list[dict]:
    import jax
    import jax.numpy as jnp
    from jax.test_util import check_grads

    from gradcheck import jax as gjax

    records = []
    for name, op, sample in ops():
        for k in range(points):
            rng = np.random.default_rng([k, 31])
            x = sample(rng)
            loss = lambda p, op=op: op(p["x"])
            t0 = time.perf_counter()
            report = gjax.check_function(loss, {"x": jnp.asarray(x)}, seed=k)
            row = {"op": name, "point": k, "plant": "none", "ok": bool(report.ok),
                   "calls": int(report.evaluations), "seconds": time.perf_counter() - t0,
                   "kinds": [d.kind for d in report.diagnoses]}  # fmt: skip
            if not report.ok:
                with jax.enable_x64(True):
                    try:
                        check_grads(op, (jnp.asarray(x, jnp.float64),), order=1, modes=("rev",))
                        row["arbiter_rejects"] = False
                    except AssertionError:
                        row["arbiter_rejects"] = True
            records.append(row)
            if k >= 5 or not report.ok:
                continue  # plants at the first five points where JAX's derivative passes
            with jax.enable_x64(True):
                outputs = int(np.size(op(jnp.asarray(x, jnp.float64))))
            for how in ("x1.01", "sign", "zero"):
                which = int(rng.integers(outputs))
                bad = planted(op, how, which)
                rp = gjax.check_function(
                    lambda p, bad=bad: bad(p["x"]), {"x": jnp.asarray(x)}, seed=k
                )
                with jax.enable_x64(True):  # does the plant change the Jacobian at all?
                    x64 = jnp.asarray(x, jnp.float64)
                    moved = not np.allclose(jax.jacrev(bad)(x64), jax.jacrev(op)(x64), 0, 0)
                records.append({"op": name, "point": k, "plant": how, "output": which,
                                "ok": bool(rp.ok), "effect": moved,
                                "kinds": [d.kind for d in rp.diagnoses]})  # fmt: skip
    return records


def table(records: list[dict]) -> str:
    head = (
        "| ops | checks of JAX's derivative | PASS | FAIL | false alarms (the arbiter accepts) | "
        "plants | caught | missed | plants that change nothing (PASS / FAIL) |"
    )
    right = [r for r in records if r["plant"] == "none"]
    plants = [r for r in records if r["plant"] != "none" and r["effect"]]
    idle = [r for r in records if r["plant"] != "none" and not r["effect"]]
    fails = [r for r in right if not r["ok"]]
    false = [r for r in fails if not r.get("arbiter_rejects")]
    ops_n = len({r["op"] for r in records})
    lines = [
        head,
        "|---|---|---|---|---|---|---|---|---|",
        (
            f"| {ops_n} | {len(right)} | {len(right) - len(fails)} | {len(fails)} | "
            f"{len(false)} | {len(plants)} | {sum(not r['ok'] for r in plants)} | "
            f"{sum(r['ok'] for r in plants)} | "
            f"{sum(r['ok'] for r in idle)} / {sum(not r['ok'] for r in idle)} |"
        ),
    ]
    for r in fails:
        lines.append(
            f"\nFAIL: {r['op']} at point {r['point']}: {r['kinds']}, arbiter rejects: {r.get('arbiter_rejects')}"
        )
    for r in (r for r in plants if r["ok"]):
        lines.append(
            f"\nmissed: {r['op']} at point {r['point']}, {r['plant']} on output {r['output']}"
        )
    return "\n".join(lines)


def main() -> None:
    run(__doc__, study, table, "points", 20, "benchmarks/results/jax_ops")


if __name__ == "__main__":
    main()
