"""Checkpoints belong to one problem, survive a torn line and a kill -9, and resume."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import gradcheck
from gradcheck.checkpoint import FORMAT

from . import functions
from .functions import Counting

X = np.linspace(-1, 1, 20)


def _wrong(x):
    value, g = functions.smooth(x)
    g = g.copy()
    g[4] *= -1
    return value, g


def test_the_file_starts_with_the_problems_fingerprint(tmp_path):
    path = tmp_path / "ck.jsonl"
    gradcheck.check(functions.smooth, X, checkpoint=path)
    header = json.loads(path.read_text().splitlines()[0])
    assert header["format"] == FORMAT
    assert header["cost"] == functions.smooth(X)[0]
    assert len(header["signature"]) == 3
    assert len(header["key"]) == 64


def test_another_functions_checkpoint_is_never_reused(tmp_path):
    path = tmp_path / "ck.jsonl"
    first = gradcheck.check(functions.smooth, X, checkpoint=path)
    assert first.ok
    before = path.read_text()
    wrong = Counting(_wrong)
    report = gradcheck.check(wrong, X, checkpoint=path)
    assert not report.ok  # not a silent PASS from the other function's costs
    assert report.mismatched.tolist() == [4]
    # All evaluated again; the wrong entry costs 2 calls at half its step and 4 more for the
    # test that f is not flat at x (compare._flat) before it is accused.
    assert wrong.calls == report.evaluations == first.evaluations + 6
    assert any("belongs to another problem" in n for n in report.notes)
    assert path.read_text() == before  # the other problem's file is untouched
    beside = [p for p in tmp_path.iterdir() if p != path]
    assert len(beside) == 1
    again = Counting(_wrong)  # the same wrong function again resumes from the file beside
    rerun = gradcheck.check(again, X, checkpoint=path)
    # Only the calls at x and the first points saved (the noise line, 8 calls), evaluated again
    # to verify that the file is this function's: the refinement was saved too.
    assert again.calls == 3 + 8
    np.testing.assert_array_equal(rerun.numeric, report.numeric)


def test_other_settings_are_another_problem(tmp_path):
    path = tmp_path / "ck.jsonl"
    gradcheck.check(functions.smooth, X, checkpoint=path)
    f = Counting(functions.smooth)
    gradcheck.check(f, X, checkpoint=path, method="forward")
    assert f.calls > len(X)


def test_a_torn_last_line_is_skipped_and_the_point_evaluated_again(tmp_path):
    path = tmp_path / "ck.jsonl"
    first = gradcheck.check(functions.smooth, X, checkpoint=path)
    text = path.read_text()
    path.write_text(text[: len(text) - 25])  # a kill in the middle of writing the last line
    f = Counting(functions.smooth)
    report = gradcheck.check(f, X, checkpoint=path)
    assert report.ok
    # The calls at x, the noise line (verifying the file), and the one point whose line was torn
    assert f.calls == 3 + 8 + 1
    assert any("1 unreadable line" in n for n in report.notes)
    np.testing.assert_array_equal(report.numeric, first.numeric)
    f = Counting(functions.smooth)
    gradcheck.check(f, X, checkpoint=path)  # the file is whole again
    assert f.calls == 3 + 8


SCRIPT = """
import sys, time
import numpy as np
import gradcheck

def slow(x):
    time.sleep(0.002)
    return float(np.sum(np.exp(np.sin(x)))), np.cos(x) * np.exp(np.sin(x))

report = gradcheck.check(slow, np.linspace(-1, 1, 400), checkpoint=sys.argv[1], mode="full")
print("finished", report.evaluations)
"""


def test_kill_9_mid_run_then_rerun_gives_the_same_verdict_with_fewer_calls(tmp_path):
    path, script = tmp_path / "ck.jsonl", tmp_path / "run.py"
    script.write_text(textwrap.dedent(SCRIPT))
    child = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) > 200:
            break
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    saved = len(path.read_text().splitlines()) - 1

    def slow(x):
        return float(np.sum(np.exp(np.sin(x)))), np.cos(x) * np.exp(np.sin(x))

    f = Counting(slow)
    resumed = gradcheck.check(f, np.linspace(-1, 1, 400), checkpoint=path, mode="full")
    fresh = gradcheck.check(slow, np.linspace(-1, 1, 400), mode="full")
    assert resumed.ok == fresh.ok is True
    np.testing.assert_array_equal(resumed.numeric, fresh.numeric)
    # What was saved is not evaluated again, except the first points met (the noise line: 8)
    assert f.calls <= fresh.evaluations - saved + 1 + 8
    assert saved > 200


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_that_dies_on_one_point_is_named_and_the_rest_kept(workers):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    x = np.linspace(-1, 1, 8)
    f = functions.DiesAt(x, entry=3)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        report = gradcheck.check(f, x, executor=pool, workers=workers, mode="full")
    assert not report.ok  # no verdict that was not earned
    assert "a worker process died evaluating f at x + " in report.incomplete
    assert "at entry x[3]" in report.incomplete
    assert report.summary().startswith("gradcheck FAIL: a worker process died")
    assert any("died twice evaluating f" in n and "x[3]" in n for n in report.notes)
    serial = gradcheck.check(functions.smooth, x, mode="full")
    kept = [i for i in range(8) if i != 3]
    assert report.checked.tolist() == kept
    np.testing.assert_array_equal(report.numeric[kept], serial.numeric[kept])


def test_checkpoint_resumes_without_redoing_evaluations(tmp_path):
    path = tmp_path / "check.jsonl"
    calls = []

    def f(x):
        calls.append(1)
        return functions.smooth(x)

    x = np.linspace(-1, 1, 20)
    first = gradcheck.check(f, x, checkpoint=path)
    n_first = len(calls)
    assert path.exists()
    # a header, then every evaluation but the three at x (two probes and the history probe)
    assert len(path.read_text().splitlines()) == 1 + n_first - 3
    second = gradcheck.check(f, x, checkpoint=path)
    # The calls at x (which also return the gradient) and the first saved points met, the noise
    # line, evaluated again to verify that the file is this function's.
    assert len(calls) - n_first == 3 + 8
    np.testing.assert_array_equal(first.numeric, second.numeric)
