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

def scaled(x, a, offset=0.0):
    return a * float(np.sum(np.sin(x) * x)) + offset, a * (np.sin(x) + x * np.cos(x))

def regularised(x):
    return float(np.sum(np.sin(x) * x)) + 0.05 * float(x @ x)
"""


@pytest.fixture
def user_module(tmp_path):
    path = tmp_path / "usercode.py"
    path.write_text(MODULE)
    (tmp_path / "syntaxerror.py").write_text("def cost(x):\n    return x +\n")
    (tmp_path / "importerror.py").write_text("import not_a_module_xyz\n")
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


def test_check_with_a_cost_only_path_that_drifted(user_module, capsys):
    target = f"{user_module / 'usercode.py'}:cost"
    x0 = str(user_module / "x0.npy")
    assert main(["check", target, "--x0", x0, "--cost", "value"]) == 0
    assert "cost= agreed" in capsys.readouterr().out
    assert main(["check", target, "--x0", x0, "--cost", "regularised"]) == 1
    out = capsys.readouterr().out
    assert "[inconsistent]" in out
    assert "κ = 0.1 at every point" in out


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
            ["check", "syntaxerror.py:cost", "--x0", "x0.npy"],
            "cannot import syntaxerror.py: SyntaxError: invalid syntax",
        ),
        (
            ["check", "importerror.py:cost", "--x0", "x0.npy"],
            "cannot import importerror.py: ModuleNotFoundError: No module named 'not_a_module_xyz'",
        ),
        (["check", "usercode.py:cost", "--x0", "x0.npy", "--arg", "nope"], "--arg expects NAME="),
        (
            ["check", "usercode.py:cost", "--x0", "x0.npy", "--arg", "scale=2"],
            "has no parameter 'scale'; after x it takes (nothing)",
        ),
        (
            ["check", "usercode.py:scaled", "--x0", "x0.npy"],
            "needs a after x: pass them with --args FILE",
        ),
        (["check", "usercode.py:cost", "--x0", "x0.npy", "--args", "x0.txt"], "--args must be"),
        (["check", "usercode.py:cost", "--x0", "x0.npy", "--rtol", "-1"], "rtol must be None"),
        (["course", "usercode.py:cost"], "does not look like the course's nnCostFunction"),
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


def test_an_exception_in_f_exits_3_with_one_line(user_module, capsys, monkeypatch):
    monkeypatch.chdir(user_module)
    assert main(["check", "usercode.py:broken", "--x0", "x0.npy"]) == 3
    err = capsys.readouterr().err
    assert err == (
        "gradcheck: your function raised RuntimeError: solver diverged "
        "(raised while evaluating f at x) at usercode.py:19; --traceback shows the whole "
        "traceback\n"
    )
    assert main(["check", "usercode.py:broken", "--x0", "x0.npy", "--traceback"]) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert 'raise RuntimeError("solver diverged")' in err


def test_module_function_imports_from_the_current_folder(user_module, capsys, monkeypatch):
    monkeypatch.chdir(user_module)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(user_module))])
    assert main(["check", "usercode:cost", "--x0", "x0.npy"]) == 0  # no .py: a module name
    assert capsys.readouterr().out.startswith("gradcheck PASS")


def test_named_arguments_from_a_file_and_the_command_line(user_module, capsys, monkeypatch):
    monkeypatch.chdir(user_module)
    np.savez(user_module / "data.npz", a=np.array(2.5))
    savemat(user_module / "data.mat", {"a": 2.5, "offset": 1.0})
    for extra in (["--args", "data.npz"], ["--args", "data.mat"], ["--arg", "a=2.5"]):
        argv = ["check", "usercode.py:scaled", "--x0", "x0.npy", "--json", *extra]
        assert main(argv) == 0, extra
        report = json.loads(capsys.readouterr().out)
        expected = 2.5 * float(np.sum(np.sin(np.linspace(0.2, 1.4, 6)) * np.linspace(0.2, 1.4, 6)))
        assert report["cost"] == pytest.approx(expected + (1.0 if "data.mat" in extra else 0.0))


def test_tolerance_and_budget_flags_reach_the_check(user_module, capsys, monkeypatch):
    monkeypatch.chdir(user_module)
    argv = ["check", "usercode.py:cost", "--x0", "x0.npy", "--json", "--rtol", "1e-4"]
    assert main([*argv, "--atol", "1e-9", "--mode", "directional", "--budget", "50"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["tolerances"]["rtol"] == 1e-4
    assert d["tolerances"]["atol"] == 1e-9
    assert d["mode"] == "directional"


def test_python_dash_m_gradcheck_runs(user_module):
    result = subprocess.run(
        [sys.executable, "-m", "gradcheck", "check", "usercode.py:wrong", "--x0", "x0.npy"],
        cwd=user_module,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout.startswith("gradcheck FAIL")


def test_help_documents_every_flag_and_the_exit_codes(capsys):
    for command in ("check", "course", "train"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        flags = [w for w in text.split() if w.startswith("--") and w != "--help"]
        assert flags, command
        if command != "train":
            assert "3 your function raised" in " ".join(text.split())
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "--lambda L" in text
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("--")]
    assert all(len(line.split(None, 2)) >= 2 for line in lines)  # every flag has words


# ----- gradcheck course ---------------------------------------------------------------------------


def test_course_on_the_questions_code_exits_1_and_explains_two_lambda_over_m(capsys):
    assert main(["course", "gradcheck.examples:nnCost", "--order", "C"]) == 1
    out = capsys.readouterr().out
    assert "passed by name" in out
    assert "λ = 0 ── the course's check: Relative Difference 2.5" in out
    assert "gradcheck: PASS" in out
    assert "λ = 3 ── the course's check: Relative Difference 0.124776" in out
    assert "[regularization] Theta2[:, 0] (bias column, 3 entries)" in out
    assert "κ = 2·λ/m: your cost counts Theta2's bias column twice" in out


def test_course_in_the_other_order_says_which_order_the_entries_fit(capsys):
    assert main(["course", "gradcheck.examples:nnCost"]) == 1  # default: the course's F order
    out = capsys.readouterr().out
    assert "Relative Difference 0.116547" in out
    assert "These entries are Theta2[:, 0] (bias column, 3 entries) if the blocks are" in out
    assert "did you mean order='C'?" in out


def test_course_on_the_fixed_code_and_on_the_course_port_exits_0(capsys):
    assert main(["course", "gradcheck.examples:nnCost_fixed", "--order", "C"]) == 0
    assert main(["course", "gradcheck.ex4:nn_cost_function", "--json"]) == 0
    out = capsys.readouterr().out
    d = json.loads(out[out.index("{") :])
    assert d["ok"] is True
    assert [c["lambda"] for c in d["checks"]] == [0.0, 3.0]
    assert d["checks"][0]["relative_difference"] < 1e-9
    assert d["binding"]["lambda"] == "lambda_"


def _malformed(folder):
    """Every kind of broken input file a user has fed the CLI, by name."""
    import pickle

    x = np.linspace(0.2, 1.4, 6)
    np.save(folder / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    (folder / "pickle.npy").write_bytes(pickle.dumps(x))
    (folder / "random.npy").write_bytes(np.random.default_rng(0).bytes(300))
    np.save(folder / "whole.npy", x)
    (folder / "truncated.npy").write_bytes((folder / "whole.npy").read_bytes()[:100])
    np.save(folder / "strings.npy", np.array(["a", "b"]))
    (folder / "broken.mat").write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    (folder / "bad.csv").write_text("1,2,three\n4,,6\n")
    (folder / "latin1.txt").write_bytes("0.5 é 1.5\n".encode("latin-1"))
    np.save(folder / "complex.npy", x + 1j)
    bad_args = folder / "args.npz"
    bad_args.write_bytes(b"PK\x03\x04 not a zip")
    return ["objects.npy", "pickle.npy", "random.npy", "truncated.npy", "strings.npy",
            "broken.mat", "bad.csv", "latin1.txt", "complex.npy"]  # fmt: skip


def test_every_malformed_file_is_one_line_and_exit_2(user_module, capsys):
    target = f"{user_module / 'usercode.py'}:cost"
    for name in _malformed(user_module):
        code = main(["check", target, "--x0", str(user_module / name)])
        err = capsys.readouterr().err
        assert code == 2, name
        assert err.count("\n") == 1, (name, err)  # one line, no traceback
        assert "--x0" in err
        assert name in err
    code = main(["check", target, "--x0", str(user_module / "x0.npy"), "--args",
                 str(user_module / "args.npz")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "args.npz" in err
    code = main(["check", target, "--x0", str(user_module / "x0.npy"), "--checkpoint",
                 str(user_module)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "checkpoint must be a file path" in err


def _cli(*argv, env=None, **kw):
    import os

    return subprocess.run(
        [sys.executable, "-m", "gradcheck", *argv],
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
        **kw,
    )


def test_a_closed_pipe_exits_quietly_with_the_verdicts_code(user_module):
    target = f"{user_module / 'usercode.py'}:cost"
    x0 = str(user_module / "x0.npy")
    line = (
        f"{sys.executable} -m gradcheck check {target} --x0 {x0} | head -1; exit ${{PIPESTATUS[0]}}"
    )
    out = subprocess.run(
        ["bash", "-c", line], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0
    assert out.stdout.startswith("gradcheck PASS")
    assert "Traceback" not in out.stderr
    assert "BrokenPipe" not in out.stderr


def test_a_console_that_cannot_print_epsilon_gets_ascii(user_module):
    target = f"{user_module / 'usercode.py'}:wrong"
    out = _cli("check", target, "--x0", str(user_module / "x0.npy"),
               env={"PYTHONIOENCODING": "cp1252"}, encoding="cp1252")  # fmt: skip
    assert out.returncode == 1
    assert "gradcheck FAIL" in out.stdout
    assert "(noise eps_f = " in out.stdout  # ε spelt in ASCII
    assert "Traceback" not in out.stderr


def test_json_is_strict(user_module, capsys):
    target = f"{user_module / 'usercode.py'}:wrong"
    code = main(["check", target, "--x0", str(user_module / "x0.npy"), "--json"])
    out = capsys.readouterr().out

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    data = json.loads(out, parse_constant=refuse)
    assert code == 1
    assert data["ok"] is False
    assert data["mismatched"] == [2]


def test_ctrl_c_exits_130_and_says_where_the_work_is(user_module):
    import os
    import signal
    import time

    (user_module / "slow.py").write_text(
        "import time, numpy as np\n"
        "def cost(x):\n    time.sleep(0.05)\n    return float(np.sum(x**2)), 2*x\n"
    )
    np.save(user_module / "big.npy", np.linspace(-1, 1, 200))
    ck = user_module / "ck.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-m", "gradcheck", "check", f"{user_module / 'slow.py'}:cost", "--x0",
         str(user_module / "big.npy"), "--mode", "full", "--checkpoint", str(ck)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a shell that runs the tests in the background ignores SIGINT for its children, and a
        # Python started with SIGINT ignored installs no Ctrl-C handler: restore the default
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )  # fmt: skip
    time.sleep(3)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 130, err
    assert "interrupted" in err
    assert str(ck) in err
    assert "Traceback" not in err
    assert os.path.getsize(ck) > 0


def test_course_with_a_separate_gradient_function(tmp_path, capsys):
    (tmp_path / "split.py").write_text("from tests.test_course import cost_only, grad_only\n")
    import sys as _sys

    _sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    code = main(["course", f"{tmp_path / 'split.py'}:cost_only", "--grad", "grad_only"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "gradcheck: PASS" in out


def test_show_output_lets_what_f_prints_through(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GRADCHECK_SHOW_OUTPUT", raising=False)
    (tmp_path / "chatty.py").write_text(
        "import numpy as np\n"
        "def cost(x):\n"
        "    print('J =', float(x @ x))\n"
        "    return float(x @ x), 2 * x\n"
    )
    np.save(tmp_path / "x0.npy", np.ones(3))
    argv = ["check", f"{tmp_path / 'chatty.py'}:cost", "--x0", str(tmp_path / "x0.npy")]
    assert main(argv) == 0
    quiet = capsys.readouterr().out
    assert quiet.count("J =") == 3  # only the first lines, in the note that counts them
    assert "--show-output" in quiet
    assert main([*argv, "--show-output"]) == 0
    assert capsys.readouterr().out.count("J =") >= 17  # every call's line, then the note's
