"""The documentation runs: the tutorial notebook executes, the HTML report renders in a browser."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import gradcheck
from gradcheck import ex4
from gradcheck.examples import nnCost

ROOT = Path(__file__).resolve().parents[1]


def _executed(name: str) -> str:
    """A notebook of docs/, executed: the text and data of its code cells' outputs."""
    nbformat = pytest.importorskip("nbformat", reason="part of the dev install")
    nbclient = pytest.importorskip("nbclient", reason="part of the dev install")
    notebook = nbformat.read(ROOT / "docs" / name, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    return "\n".join(
        output.get("text", "") + json.dumps(output.get("data", {}))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def test_the_tutorial_notebook_runs_and_tells_the_story():
    text = _executed("tutorial.ipynb")
    assert "Relative Difference: 0.124776" in text
    assert "[regularization] Theta2[:, 0] (bias column, 3 entries)" in text
    assert "image/png" in text  # the heatmap
    assert "gradcheck PASS" in text  # the fix
    assert "κ = 2·λ/m" in text
    assert "exit status 0" in text


BROWSER_CHECK = """
<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => i.complete ? i.naturalWidth : -1);
  const sections = [...document.querySelectorAll("h2")].map(h => h.textContent);
  const captions = document.querySelectorAll("figcaption").length;
  const wrong = document.querySelectorAll("tr.wrong").length;
  document.body.setAttribute(
    "data-seen", JSON.stringify({images, sections, captions, wrong}));
});
</script>
"""


def test_the_html_report_renders_in_a_headless_browser(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium here (.ci/run installs Debian's chromium package)")
    X, y = ex4.debug_initialize_weights(5, 2), 1 + np.arange(1, 6) % 3
    p = np.r_[
        ex4.debug_initialize_weights(5, 3).ravel(), ex4.debug_initialize_weights(3, 5).ravel()
    ]
    args = (X, y, 3.0, 3, 5, 3)
    report = gradcheck.check(nnCost, p, args=args, blocks={"Theta1": (5, 4), "Theta2": (3, 6)})
    page = report.to_html(f=nnCost, x=p, args=args).replace("</body>", BROWSER_CHECK + "</body>")
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",
        "--dump-dom",
    ]
    result = subprocess.run(
        [browser, *flags, path.as_uri()], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    start = result.stdout.index('data-seen="') + len('data-seen="')
    seen = json.loads(result.stdout[start : result.stdout.index('"', start)].replace("&quot;", '"'))
    assert len(seen["images"]) == 3
    assert all(width > 0 for width in seen["images"])  # every figure decoded
    assert seen["sections"] == ["Verdict", "Diagnoses", "Blocks", "Worst entries", "Figures"]
    assert seen["captions"] == 3
    assert seen["wrong"] == 1 + 3  # the Theta2 block row and its three entries


def test_the_readmes_course_one_liners_run_as_written(capsys):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Your course in one line")
    code = text[start:].split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md (Your course in one line)", "exec"), {})  # noqa: S102
    assert capsys.readouterr().out.split() == ["True", "True", "True"]


def test_the_cs231n_tutorial_runs_and_finds_each_bug():
    text = _executed("tutorial-cs231n.ipynb")
    assert "scale b 0.25" in text  # the mean for a sum, in b, 1/4
    assert "stride 1: gradcheck PASS" in text
    assert "configs: gradcheck FAIL" in text
    assert "regularization W2 0.3" in text
