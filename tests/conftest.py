import os
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from gradcheck import ex4

# One BLAS/OpenMP thread for the test session: on 2 cores the default threads oversubscribe
# (the suite took ≈ 290 s with them, ≈ 60 s with one). Subprocesses inherit the variables.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
threadpool_limits(1)

# The course's weights lie beside the checkout (../shared/data/ex4/ex4weights.mat); another
# place can be named with GRADCHECK_COURSE_WEIGHTS. A fresh clone has neither: the tests that
# need the file skip, saying why — unless GRADCHECK_REQUIRE_COURSE_DATA=1 (set by .ci/run, where
# the file is there), which turns the skip into a failure.
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
WEIGHTS = Path(
    os.environ.get("GRADCHECK_COURSE_WEIGHTS", SHARED / "data" / "ex4" / "ex4weights.mat")
)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def weights_path():
    if not WEIGHTS.is_file():
        message = (
            f"the course's weights {WEIGHTS} are not here (a clone with nothing beside it): put "
            "ex4weights.mat at ../shared/data/ex4/ or name it with GRADCHECK_COURSE_WEIGHTS"
        )
        if os.environ.get("GRADCHECK_REQUIRE_COURSE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return WEIGHTS


@pytest.fixture(scope="session")
def course_debug():
    """The course's checkNNGradients problem: sizes, X, y and [Theta1(:); Theta2(:)]."""
    X = ex4.debug_initialize_weights(5, 2)
    y = 1 + np.arange(1, 6) % 3
    theta1 = ex4.debug_initialize_weights(5, 3)
    theta2 = ex4.debug_initialize_weights(3, 5)
    return {
        "sizes": (3, 5, 3),
        "X": X,
        "y": y,
        "theta1": theta1,
        "theta2": theta2,
        "params": ex4.unroll(theta1, theta2),
    }
