"""Nothing lost, nothing false under faults: checkpoints of edited functions, corrupted records,
two writers at once, a file size limit, symlinks."""

import json
import subprocess
import sys
import textwrap

import numpy as np

import gradcheck

# Logistic regression at θ = 0: the cost there is log 2 whatever the code, and the gradient
# given is the right one, so the fixed and the buggy cost share the checkpoint's fingerprint.
RNG = np.random.default_rng(5)
A = RNG.standard_normal((40, 6))
Y = np.where(RNG.random(40) < 0.5, -1.0, 1.0)
THETA = np.zeros(6)


def fixed(theta):
    return float(np.mean(np.logaddexp(0.0, -Y * (A @ theta))))


def buggy(theta):
    return float(np.mean(np.logaddexp(0.0, Y * (A @ theta))))  # the sign of the margin


def grad(theta):
    s = 1.0 / (1.0 + np.exp(Y * (A @ theta)))
    return -(A.T @ (Y * s)) / Y.size


def _check(f, path=None):
    return gradcheck.check(f, THETA, grad=grad, checkpoint=path)


def test_an_edited_function_gets_a_fresh_verdict_in_both_directions(tmp_path):
    path = tmp_path / "ck.jsonl"
    fresh_bug, fresh_fix = _check(buggy), _check(fixed)
    assert not fresh_bug.ok
    assert fresh_fix.ok
    assert _check(buggy, path).ok is False
    fixed_rerun = _check(fixed, path)  # edited after a failing run
    assert fixed_rerun.ok
    np.testing.assert_array_equal(fixed_rerun.numeric, fresh_fix.numeric)
    assert any("differs" in n and "f changed" in n for n in fixed_rerun.notes)
    bug_again = _check(buggy, path)  # and back: the failing version resumes its own file
    assert not bug_again.ok
    np.testing.assert_array_equal(bug_again.numeric, fresh_bug.numeric)
    assert [d.kind for d in bug_again.diagnoses] == [d.kind for d in fresh_bug.diagnoses]
    fixed_again = _check(fixed, path)
    assert fixed_again.ok
    np.testing.assert_array_equal(fixed_again.numeric, fresh_fix.numeric)


def test_a_record_changed_by_one_digit_is_skipped_and_the_verdict_unchanged(tmp_path):
    path = tmp_path / "ck.jsonl"
    first = _check(buggy, path)
    lines = path.read_text().splitlines()
    record = json.loads(lines[12])
    text = repr(record["cost"])
    digit = next(i for i in range(len(text) - 1, 0, -1) if text[i].isdigit())
    changed = text[:digit] + str((int(text[digit]) + 1) % 10) + text[digit + 1 :]
    lines[12] = lines[12].replace(text, changed)
    path.write_text("\n".join(lines) + "\n")
    again = _check(buggy, path)
    assert any("1 unreadable line" in n and "checksum" in n for n in again.notes)
    assert again.ok is first.ok is False
    np.testing.assert_array_equal(again.numeric, first.numeric)


WRITER = """
import sys
sys.path.insert(0, {tests!r})
import numpy as np, gradcheck
from test_faults import THETA, grad, buggy, fixed
f = {{"buggy": buggy, "fixed": fixed}}[sys.argv[2]]
report = gradcheck.check(f, THETA, grad=grad, checkpoint=sys.argv[1])
print(int(report.ok))
"""


def _script(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(
        textwrap.dedent(WRITER.format(tests=str(__import__("pathlib").Path(__file__).parent)))
    )
    return script


def test_two_writers_at_once_never_interleave(tmp_path):
    path, script = tmp_path / "ck.jsonl", _script(tmp_path)
    runs = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), which], stdout=subprocess.PIPE, text=True
        )
        for which in ("buggy", "fixed", "buggy", "fixed")
    ]
    verdicts = [run.communicate(timeout=120)[0].strip() for run in runs]
    assert verdicts == ["0", "1", "0", "1"]
    for file in tmp_path.glob("ck*.jsonl"):
        lines = file.read_text().splitlines()
        assert json.loads(lines[0])["format"].startswith("gradcheck-checkpoint")
        assert all("format" not in line for line in lines[1:])  # one header, at the top
        keys = [json.loads(line)["key"] for line in lines[1:]]
        assert len(keys) == len(set(keys))  # one writer: no point written twice
    for f in (buggy, fixed, buggy):
        rerun = _check(f, path)
        assert rerun.ok is _check(f).ok
        np.testing.assert_array_equal(rerun.numeric, _check(f).numeric)


def test_a_file_size_limit_never_ends_the_check(tmp_path):
    path, script = tmp_path / "ck.jsonl", _script(tmp_path)
    limited = (
        "import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000)); "
        "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    for which, ok in (("buggy", "0"), ("fixed", "1")):
        out = subprocess.run(
            [sys.executable, "-c", limited, str(script), str(path), which],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == ok
    assert path.stat().st_size <= 2000


def test_a_symlink_is_not_written_through(tmp_path):
    target = tmp_path / "elsewhere" / "target.jsonl"
    link = tmp_path / "ck.jsonl"
    link.symlink_to(target)  # dangling
    report = _check(buggy, link)
    assert not report.ok
    assert not target.exists()
    assert link.is_symlink()
    assert any("symbolic link" in n for n in report.notes)
    beside = [p for p in tmp_path.glob("ck-*.jsonl") if not p.is_symlink()]
    assert len(beside) == 1


# ----- executors and the command line under faults ------------------------------------------

SLOW = """
import time
import numpy as np

def cost(x):
    time.sleep({sleep})
    if {hang} >= 0 and x[{hang}] > 1.0 + 1e-9:
        time.sleep(3600)  # never returns
    with open(__file__ + ".calls", "a") as log:  # one line per finished evaluation
        log.write(f"{{time.time()}}\\n")
    return float(np.sum(x ** 2)), 2 * x
"""


def _user(tmp_path, sleep=0.0, hang=3, n=8):
    (tmp_path / "slow.py").write_text(SLOW.format(sleep=sleep, hang=hang))
    np.save(tmp_path / "x0.npy", np.ones(n))
    # The installed command (``python -m gradcheck`` would import a user's gradcheck.py first)
    command = str(__import__("pathlib").Path(sys.executable).parent / "gradcheck")
    return [command, "check", f"{tmp_path / 'slow.py'}:cost",
            "--x0", str(tmp_path / "x0.npy"), "--mode", "full"]  # fmt: skip


def _children(pid):
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_timeout_names_the_call_and_exits_3(tmp_path):
    for workers in ("0", "2"):
        out = subprocess.run(
            [*_user(tmp_path), "--timeout", "1", "--workers", workers],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tmp_path,
        )
        assert out.returncode == 3, (workers, out.stderr)
        assert "did not return within timeout=1 s" in out.stderr
        assert "entry x[3]" in out.stderr
        assert "Traceback" not in out.stderr


def test_ctrl_c_with_a_hung_call_on_workers_exits_130_within_5_s(tmp_path):
    import signal
    import time

    child = subprocess.Popen(
        [*_user(tmp_path), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        # SIGINT's default restored: a background shell leaves it ignored (see test_cli.py)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    time.sleep(8)  # the workers started, one is inside the call that never returns
    workers = _children(child.pid)
    child.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    _, err = child.communicate(timeout=30)
    assert time.monotonic() - t0 < 5
    assert child.returncode == 130, err
    time.sleep(1)
    assert not [p for p in workers if p.is_running() and p.status() != "zombie"]


def test_kill_9_with_workers_leaves_no_process_and_loses_little(tmp_path):
    import signal
    import time

    ck = tmp_path / "ck.jsonl"
    child = subprocess.Popen(
        [*_user(tmp_path, sleep=0.02, hang=-1, n=150), "--workers", "2", "--checkpoint",
         str(ck)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and (not ck.exists() or ck.stat().st_size < 3000):
        time.sleep(0.05)
    workers = _children(child.pid)
    time.sleep(1.5)  # then a kill -9 in the middle of the work
    saved_before = len(ck.read_text().splitlines())
    os_kill = __import__("os").kill
    killed_at = time.time()
    os_kill(child.pid, signal.SIGKILL)
    child.wait()
    saved = len(ck.read_text().splitlines()) - 1  # records, after the header
    assert saved + 1 >= saved_before  # what was finished before the kill is on disk
    time.sleep(5)
    assert workers
    assert not [p for p in workers if p.is_running() and p.status() != "zombie"]
    finished = [float(t) for t in (tmp_path / "slow.py.calls").read_text().split()]
    done = sum(t <= killed_at for t in finished) - 3  # before the kill; the 3 at x: not saved
    # Work lost: evaluations finished before the kill but not saved, 0.02 s each on 2 workers.
    lost_seconds = (done - saved) * 0.02 / 2
    assert saved > 100
    print(
        f"kill -9 with 2 workers: {done} evaluations done, {saved} saved, {lost_seconds:.2f} s lost"
    )
    assert lost_seconds <= 0.5, (done, saved)


def test_a_users_random_py_does_not_break_the_workers(tmp_path):
    (tmp_path / "random.py").write_text("raise ImportError('the user random.py was imported')\n")
    (tmp_path / "gradcheck.py").write_text("raise ImportError('the user gradcheck.py')\n")
    out = subprocess.run(
        [*_user(tmp_path, hang=-1), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("gradcheck PASS")


def _kills_at_entry_7(x):
    import os

    if x[7] > 0.7 + 1e-12:  # the +step point of entry 7 (and points past it) kill the worker
        os._exit(1)
    g = np.cos(x)
    g[3] *= -1  # a planted bug elsewhere
    return float(np.sum(np.sin(x))), g


def test_a_point_that_kills_its_dask_worker_is_named_and_the_rest_checked():
    from . import functions

    x = np.linspace(0, 2.9, 30)  # x[7] = 0.7
    with functions.dask_client(processes=True) as client:
        report = gradcheck.check(_kills_at_entry_7, x, executor=client, mode="full")
    assert not report.ok
    assert report.mismatched.tolist() == [3]  # the planted bug found
    assert report.checked.size == 29  # every entry but the killer's
    assert "entry x[7]" in report.incomplete
    lost = [n for n in report.notes if "died twice" in n]
    assert len(lost) == 1  # one point named, no other blamed
    assert "x + " in lost[0]


def test_a_read_only_checkpoint_of_this_problem_is_read_not_written(tmp_path, monkeypatch):
    import os as _os

    path = tmp_path / "ck.jsonl"
    first = _check(buggy, path)
    before = path.read_text()
    real_open = _os.open

    def read_only(file, flags, *args):  # as a read-only file would answer (we run as root here)
        if str(file) == str(path) and flags & _os.O_EXCL:
            raise FileExistsError(17, "File exists", str(file))  # EEXIST comes before EACCES
        if str(file) == str(path) and flags & (_os.O_RDWR | _os.O_WRONLY):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, flags, *args)

    monkeypatch.setattr(_os, "open", read_only)
    again = _check(buggy, path)
    assert again.ok is first.ok is False
    np.testing.assert_array_equal(again.numeric, first.numeric)
    assert any("read-only: read, not written to" in n for n in again.notes)
    assert path.read_text() == before
