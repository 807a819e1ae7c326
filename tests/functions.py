"""Functions with known gradients for the checker's tests (module level, so processes can pickle them)."""

import numpy as np


def sum_of_squares(x):
    return float(x @ x), 2 * x


def smooth(x):
    """Σ exp(sin x_i) + ½ Σ x_i x_{i+1}: smooth, coupled, every entry different."""
    f = np.sum(np.exp(np.sin(x))) + 0.5 * np.sum(x[:-1] * x[1:])
    g = np.cos(x) * np.exp(np.sin(x))
    g[:-1] += 0.5 * x[1:]
    g[1:] += 0.5 * x[:-1]
    return float(f), g


def smooth_complex(x):
    """``smooth`` written so that it works on complex input (for the complex step)."""
    f = np.sum(np.exp(np.sin(x))) + 0.5 * np.sum(x[:-1] * x[1:])
    g = np.cos(x) * np.exp(np.sin(x))
    g[:-1] += 0.5 * x[1:]
    g[1:] += 0.5 * x[:-1]
    return f, np.real(g)
