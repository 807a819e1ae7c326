"""The package's own hygiene: types check and lint passes, so a regression shows up in CI."""

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
