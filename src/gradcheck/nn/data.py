"""The embedded data set: UCI's 8×8 handwritten digits, shipped inside the package."""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np


def load_digits(*, scaled: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8×8 handwritten digits of the UCI "Optical Recognition of Handwritten Digits"
    test set (E. Alpaydin and C. Kaynak, 1998; CC BY 4.0), the copy scikit-learn ships.

    Parameters
    ----------
    scaled : bool, default True
        Divide the pixel counts (0..16) by 16 so that the inputs lie in [0, 1].

    Returns
    -------
    X : ndarray of shape (1797, 64), float64
    y : ndarray of shape (1797,), int, digits 0..9

    Examples
    --------
    >>> X, y = load_digits()
    >>> X.shape, y.shape, float(X.max()), sorted(set(y.tolist())) == list(range(10))
    ((1797, 64), (1797,), 1.0, True)
    """
    path = resources.files("gradcheck.nn").joinpath("data/digits.csv.gz")
    with path.open("rb") as raw, gzip.open(raw, "rt") as text:
        data = np.loadtxt(text, delimiter=",")
    X, y = data[:, :-1], data[:, -1].astype(np.intp)
    return (X / 16.0 if scaled else X), y


def train_test_split(
    X: np.ndarray, y: np.ndarray, *, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded random split: ``X_train, X_test, y_train, y_test``.

    Examples
    --------
    >>> X, y = load_digits()
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y)
    >>> len(X_train), len(X_test)
    (1438, 359)
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}.")
    X, y = np.asarray(X), np.asarray(y)
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and y must have the same number of rows, got {X.shape[0]} and {y.shape[0]}."
        )
    order = np.random.default_rng(seed).permutation(X.shape[0])
    n_test = round(test_fraction * X.shape[0])
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]
