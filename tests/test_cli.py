import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from scipy.io import savemat

from gradcheck.cli import main

MODULE = """
import numpy as np

def cost(x):
    return float(np.sum(np.sin(x) * x)), np.sin(x) + x * np.cos(x)

def wrong(x):
    g = np.sin(x) + x * np.cos(x)
    g[2] *= -1
    return float(np.sum(np.sin(x) * x)), g

def value(x):
    return float(np.sum(np.sin(x) * x))

def gradient(x):
    return np.sin(x) + x * np.cos(x)

def broken(x):
    raise RuntimeError("solver diverged")
"""


@pytest.fixture
def user_module(tmp_path):
    path = tmp_path / "usercode.py"
    path.write_text(MODULE)
    x0 = np.linspace(0.2, 1.4, 6)
    np.save(tmp_path / "x0.npy", x0)
    np.savetxt(tmp_path / "x0.txt", x0)
    savemat(tmp_path / "x0.mat", {"theta": x0[:, None], "other": np.ones(2)})
    return tmp_path


def test_demo_shows_the_course_check_and_the_diagnosis(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "Relative Difference: 2.5" in out  # the course's check on the correct network
    assert "Relative Difference: 0.124776" in out  # the learner's bug, the course's way
    assert "gradcheck FAIL: 3 of 38 entries wrong" in out
    assert "[regularization] Theta2[:, 0] (bias column, 3 entries)" in out


def test_check_passes_a_right_gradient(user_module, capsys):
    code = main(
        ["check", f"{user_module / 'usercode.py'}:cost", "--x0", str(user_module / "x0.npy")]
    )
    assert code == 0
    assert capsys.readouterr().out.startswith("gradcheck PASS")


def test_check_fails_a_wrong_gradient_with_blocks_and_json(user_module, capsys):
    code = main(
        [
            "check",
            f"{user_module / 'usercode.py'}:wrong",
            "--x0",
            str(user_module / "x0.txt"),
            "--blocks",
            "A=2x2,b=2",
            "--json",
        ]
    )
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["mismatched"] == [2]
    assert report["worst"][0]["name"] == "A[1, 0]"
    assert report["diagnoses"][0]["kind"] == "localized"


def test_check_on_worker_processes_with_a_checkpoint(user_module, capsys):
    argv = [
        "check",
        f"{user_module / 'usercode.py'}:wrong",
        "--x0",
        str(user_module / "x0.npy"),
        "--workers",
        "2",
        "--checkpoint",
        str(user_module / "ck.jsonl"),
        "--mode",
        "full",
        "--json",
    ]
    assert main(argv) == 1
    first = json.loads(capsys.readouterr().out)
    assert first["mismatched"] == [2]
    lines = (user_module / "ck.jsonl").read_text().splitlines()
    assert len(lines) == 1 + first["evaluations"] - 3  # a header; all but the three calls at x
    assert main(argv) == 1  # resumed from the checkpoint: same verdict, nothing new saved
    assert json.loads(capsys.readouterr().out)["mismatched"] == [2]
    assert len((user_module / "ck.jsonl").read_text().splitlines()) == len(lines)


def test_check_with_a_separate_gradient_and_a_mat_file(user_module, capsys):
    code = main(
        [
            "check",
            f"{user_module / 'usercode.py'}:value",
            "--grad",
            "gradient",
            "--x0",
            str(user_module / "x0.mat"),
            "--key",
            "theta",
            "--method",
            "central",
            "--step",
            "1e-4",
        ]
    )
    assert code == 0
    assert "step 0.0001 as given" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "usercode.py:nothere", "--x0", "x0.npy"], "has no function 'nothere'"),
        (["check", "usercode.py:cost", "--x0", "missing.npy"], "--x0: no such file"),
        (["check", "usercode.py:cost", "--x0", "x0.mat"], "name one with --key"),
        (["check", "usercode.py:cost", "--x0", "x0.npy", "--workers", "-1"], "--workers must be 0"),
        (
            ["check", "usercode.py:cost", "--x0", "x0.npy", "--blocks", "A=3x3"],
            "blocks add up to 9 entries",
        ),
        (
            ["check", "usercode.py:cost", "--x0", "x0.npy", "--blocks", "A=three"],
            "--blocks expects NAME=ROWSxCOLS",
        ),
        (["check", "usercode.py", "--x0", "x0.npy"], "expected MODULE_OR_FILE:FUNCTION"),
        (["check", "no_such_module_xyz:cost", "--x0", "x0.npy"], "cannot import"),
        (
            ["check", "usercode.py:broken", "--x0", "x0.npy"],
            "f raised RuntimeError: solver diverged gradcheck: raised while evaluating f at x.",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(user_module, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(user_module)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_argparse_errors_also_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["check"])
    assert info.value.code == 2


def test_train_on_the_embedded_digits(capsys):
    assert main(["train", "--maxiter", "30", "--hidden", "10"]) == 0
    out = capsys.readouterr().out
    assert "embedded UCI 8×8 digits — 1438 training, 359 test examples" in out
    accuracy = float(out.split("test accuracy ")[1].split(" %")[0])
    assert accuracy > 85


def test_train_on_a_course_style_mat_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    y = rng.integers(1, 11, 200)
    X = np.eye(10)[y - 1] @ rng.standard_normal((10, 20)) + 0.1 * rng.standard_normal((200, 20))
    savemat(tmp_path / "ex4data1.mat", {"X": X, "y": y[:, None].astype(np.uint8)})
    assert main(["train", "--data", str(tmp_path / "ex4data1.mat"), "--maxiter", "100"]) == 0
    out = capsys.readouterr().out
    assert "network 20-25-10" in out
    assert float(out.split("test accuracy ")[1].split(" %")[0]) > 90


def test_train_with_a_bad_data_file_exits_2(tmp_path, capsys):
    savemat(tmp_path / "bad.mat", {"Z": np.ones(3)})
    assert main(["train", "--data", str(tmp_path / "bad.mat")]) == 2
    assert "no variable(s) ['X', 'y']" in capsys.readouterr().err


def test_the_installed_command_runs_end_to_end():
    exe = shutil.which("gradcheck") or str(
        __import__("pathlib").Path(sys.executable).parent / "gradcheck"
    )
    result = subprocess.run([exe, "demo"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "[regularization] Theta2[:, 0]" in result.stdout
