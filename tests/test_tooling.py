"""The package's own hygiene: types check and lint passes, so a regression shows up in CI."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUFF = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(
            [sys.executable, "-m", "mypy", "--no-error-summary", "src/gradcheck"], id="mypy"
        ),
        pytest.param([RUFF, "check", "src", "tests", "benchmarks"], id="ruff"),
    ],
)
def test_the_tool_finds_nothing(command):
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_clone_without_the_course_weights_skips_those_tests_and_passes(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("GRADCHECK_REQUIRE_COURSE_DATA",)}
    env["GRADCHECK_COURSE_WEIGHTS"] = str(tmp_path / "absent.mat")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_ex4.py"]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 skipped" in result.stdout
    env["GRADCHECK_REQUIRE_COURSE_DATA"] = "1"  # what .ci/run sets: the file must be there
    strict = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert strict.returncode == 1
    assert "the course's weights" in strict.stdout
