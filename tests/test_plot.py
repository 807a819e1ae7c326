"""Figures and HTML (Agg backend): the right axes, titles and data, and a page that parses."""

from html.parser import HTMLParser

import numpy as np
import pytest

import gradcheck
from gradcheck import ex4, plot
from gradcheck.cli import main
from gradcheck.examples import question_cost_function

matplotlib = pytest.importorskip("matplotlib", reason="the plot extra is part of the dev install")


X, Y = ex4.debug_initialize_weights(5, 2), 1 + np.arange(1, 6) % 3
POINT = np.r_[
    ex4.debug_initialize_weights(5, 3).ravel(), ex4.debug_initialize_weights(3, 5).ravel()
]
ARGS = (3, 5, 3, X, Y, 3.0)


@pytest.fixture(scope="module")
def question_report():
    return gradcheck.check(
        question_cost_function, POINT, args=ARGS, blocks={"Theta1": (5, 4), "Theta2": (3, 6)}
    )


def _outlined(ax):
    from matplotlib.patches import Rectangle

    return sorted(
        (round(p.get_y() + 0.5), round(p.get_x() + 0.5))
        for p in ax.patches
        if isinstance(p, Rectangle) and p.get_edgecolor()[:3] == (1.0, 0.0, 0.0)
    )


def test_heatmap_outlines_exactly_the_mismatched_entries(question_report):
    fig = question_report.plot("heatmap")
    axes = {ax.get_title(): ax for ax in fig.axes if ax.get_title()}
    assert set(axes) == {"Theta1 (5×4)", "Theta2 (3×6)"}
    assert _outlined(axes["Theta1 (5×4)"]) == []
    assert _outlined(axes["Theta2 (3×6)"]) == [(0, 0), (1, 0), (2, 0)]  # Theta2's bias column
    image = axes["Theta2 (3×6)"].images[0].get_array()
    assert image.shape == (3, 6)
    rel = question_report.relative_errors[question_report.layout.slice("Theta2")].reshape(3, 6)
    np.testing.assert_allclose(image, np.log10(np.maximum(rel, 1e-16)))


def test_the_heatmap_title_says_why_when_no_entry_is_wrong(question_report):
    assert question_report.plot("heatmap")._suptitle.get_text() == (
        "gradcheck FAIL: 3 wrong (outlined in red)"
    )
    fg = lambda w: (float(w @ w), 2 * w)
    drifted = gradcheck.check(fg, np.arange(1.0, 5.0), cost=lambda w: float(w @ w) + 1.0)
    title = drifted.plot("heatmap")._suptitle.get_text().replace("\n", " ")  # wrapped
    assert title == "gradcheck FAIL: inconsistent; every entry checked agrees"


def test_scatter_shows_the_ratio_so_a_factor_stands_out(question_report):
    ax = question_report.plot("scatter").axes[0]
    agree, wrong = ax.collections[0].get_offsets(), ax.collections[1].get_offsets()
    assert len(agree) == 35
    assert len(wrong) == 3
    r = question_report
    np.testing.assert_allclose(
        np.sort(wrong[:, 1]), np.sort(r.analytic[[20, 26, 32]] / r.numeric[[20, 26, 32]])
    )
    np.testing.assert_allclose(agree[:, 1], 1.0, atol=1e-5)  # right entries sit at 1
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "symlog")
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("|numeric derivative|", "analytic / numeric")


def test_a_factor_of_two_sits_at_two_in_the_scatter():
    f = lambda x: (float(x @ x), 4 * x)
    ax = gradcheck.check(f, np.arange(1.0, 5.0)).plot("scatter").axes[0]
    np.testing.assert_allclose(ax.collections[1].get_offsets()[:, 1], 2.0)


def test_error_versus_step_shows_round_off_and_truncation(question_report):
    ax = question_report.plot("steps", f=question_cost_function, x=POINT, args=ARGS).axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert "Theta2[1, 0] (wrong)" in labels
    assert "slope −1 (round-off)" in labels
    assert "slope 2 (truncation)" in labels
    good = [
        line
        for line in ax.get_lines()
        if line.get_label()[0] != "_"
        and "(" not in line.get_label()
        and line.get_label() != "step the check used"
    ]
    assert len(good) == 1
    errors = np.asarray(good[0].get_ydata())
    # a well-behaved entry: large error at tiny steps (round-off), small in between, growing again
    assert errors[0] > 100 * errors.min()
    assert errors[-1] > 10 * errors.min()
    wrong = next(line for line in ax.get_lines() if line.get_label() == "Theta2[1, 0] (wrong)")
    assert np.min(wrong.get_ydata()) > 0.05  # a wrong entry never converges


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_html_report_parses_and_holds_every_block_and_diagnosis(question_report, tmp_path):
    page = question_report.to_html(f=question_cost_function, x=POINT, args=ARGS)
    parser = _Collector()
    parser.feed(page)
    text = " ".join(parser.text)
    assert parser.tags.count("img") == 3
    assert "Theta1" in text
    assert "Theta2" in text
    for d in question_report.diagnoses:
        assert d.message in text
    assert page.startswith("<!DOCTYPE html>")


def test_repr_html_shows_the_heatmap_inline(question_report):
    assert question_report._repr_html_().count("data:image/png;base64,") == 1


def test_cli_writes_html_and_pngs(tmp_path, capsys):
    module = tmp_path / "m.py"
    module.write_text("import numpy as np\ndef f(x):\n    return float(x @ x), x\n")
    np.save(tmp_path / "x0.npy", np.arange(1.0, 7.0))
    code = main(
        [
            "check",
            f"{module}:f",
            "--x0",
            str(tmp_path / "x0.npy"),
            "--blocks",
            "A=2x3",
            "--html",
            str(tmp_path / "r.html"),
            "--png",
            str(tmp_path / "png"),
        ]
    )
    assert code == 1
    assert (tmp_path / "r.html").read_text().count("<img") == 3
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [
        "heatmap.png",
        "scatter.png",
        "steps.png",
    ]
    assert (tmp_path / "png" / "heatmap.png").read_bytes()[:4] == b"\x89PNG"


def test_hidden_units_grid_and_training_plots(tmp_path, capsys):
    W = np.arange(6 * 16.0).reshape(6, 16)
    fig = plot.hidden_units(W)
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == 6
    np.testing.assert_array_equal(images[2], W[2].reshape(4, 4))
    with pytest.raises(ValueError, match="does not hold 16 inputs"):
        plot.hidden_units(W, image_shape=(3, 3))
    assert main(["train", "--maxiter", "20", "--hidden", "9", "--plot", str(tmp_path)]) == 0
    assert (tmp_path / "cost.png").exists()
    assert (tmp_path / "hidden_units.png").exists()


def test_unknown_kind_is_a_clear_error(question_report):
    with pytest.raises(ValueError, match=r"kind must be one of \('heatmap', 'scatter', 'steps'\)"):
        question_report.plot("pie")


def test_the_steps_figure_needs_the_function(question_report):
    with pytest.raises(TypeError, match=r"pass f= and x="):
        question_report.plot("steps")
    assert question_report.to_html().count("<img") == 2  # heatmap and scatter only
