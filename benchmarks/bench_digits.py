"""Digits: gradcheck.nn's 64-25-10 sigmoid network (λ = 1, L-BFGS ≤ 400) vs scikit-learn's MLPClassifier.

Same fixed 80/20 split, same scaled inputs. Run: python benchmarks/bench_digits.py
(needs scikit-learn: pip install -e ".[bench]").
"""

import time
import warnings

import numpy as np

from gradcheck import nn


def main() -> None:
    X, y = nn.load_digits()
    X_train, X_test, y_train, y_test = nn.train_test_split(X, y)
    net = nn.Network((64, 25, 10), lambda_=1.0)
    t0 = time.perf_counter()
    fit = net.fit(X_train, y_train, maxiter=400, rng=0, progress=False)
    ours = time.perf_counter() - t0
    acc = np.mean(net.predict(fit.params, X_test) == y_test)
    print(
        f"gradcheck.nn 64-25-10 sigmoid, λ=1, L-BFGS-B: test accuracy {100 * acc:.1f} %, "
        f"{len(fit.history)} iterations, {ours:.2f} s"
    )

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    for label, kwargs in [
        ("defaults (relu, adam)", {}),
        (
            "logistic, lbfgs, alpha=λ=1",
            {"activation": "logistic", "solver": "lbfgs", "alpha": 1.0, "max_iter": 400},
        ),
    ]:
        clf = MLPClassifier(hidden_layer_sizes=(25,), random_state=0, **kwargs)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X_train, y_train)
        theirs = time.perf_counter() - t0
        print(
            f"sklearn MLPClassifier(25,) {label}: test accuracy {100 * clf.score(X_test, y_test):.1f} %, "
            f"{clf.n_iter_} iterations, {theirs:.2f} s  (time ratio ours/theirs {ours / theirs:.2f})"
        )


if __name__ == "__main__":
    main()
