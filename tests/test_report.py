"""Report and Diagnosis: plain data (it pickles), a fixed vocabulary, text, JSON and HTML."""

import json
import pickle

import numpy as np
import pytest

import gradcheck
from gradcheck.differences import METHODS
from gradcheck.directional import DIRECTIONS
from gradcheck.report import MODES, SEVERITY, STEP_POLICIES, Diagnosis

from . import functions


def _buggy_report():
    x = np.linspace(-1, 1, 10)

    def f(x):
        value, g = functions.smooth(x)
        return value, g * np.r_[np.ones(6), 1.0, 1.0, 1.0, -1.0]

    return gradcheck.check(f, x, blocks={"A": (2, 3), "b": (4,)})


def test_str_names_entries_and_blocks():
    text = str(_buggy_report())
    first, second = text.splitlines()[:2]
    # what is wrong and where first; how the check was made on the second line
    assert first == "gradcheck FAIL: 1 of 10 entries wrong — localized in b[3]"
    assert "evaluations" in second
    assert "relative difference (Ng)" in second
    assert "b[3]" in text
    assert "✗" in text
    assert "  A           2×3" in text
    assert len(text.splitlines()) < 40  # never whole tensors


def test_to_dict_is_json_and_matches_the_report():
    report = _buggy_report()
    d = json.loads(json.dumps(report.to_dict()))
    assert d["ok"] is False
    assert d["mismatched"] == [9]
    assert d["evaluations"] == report.evaluations
    assert d["worst"][0]["name"] == "b[3]"
    assert d["worst"][0]["mismatched"] is True
    assert [b["name"] for b in d["blocks"]] == ["A", "b"]
    rows = _buggy_report().blocks()  # rows with fields, read by name too
    assert [(r.name, r.shape, r.wrong) for r in rows] == [
        (b["name"], tuple(b["shape"]), b["wrong"]) for b in d["blocks"]
    ]
    assert rows[1]["wrong"] == rows[1].wrong == rows[1][3] == 1
    with pytest.raises(KeyError):
        rows[0]["nope"]
    assert d["blocks"][1]["wrong"] == 1
    # one entry negated in a block of four is no block-wide pattern: localised, in block b
    assert (d["diagnoses"][0]["kind"], d["diagnoses"][0]["block"]) == ("localized", "b")
    assert d["diagnoses"][0]["indices"] == [9]


def test_repr_html_has_the_verdict_and_the_tables():
    page = _buggy_report()._repr_html_()
    assert "FAIL" in page
    assert "<table>" in page
    assert "b[3]" in page


def test_a_report_of_a_lambda_pickles():
    report = gradcheck.check(lambda x: (float(x @ x), 2 * x), np.array([1.0, -2.0]))
    again = pickle.loads(pickle.dumps(report))
    assert again.to_dict() | {"seconds": 0} == report.to_dict() | {"seconds": 0}
    assert not hasattr(report, "function")
    assert not hasattr(report, "x")


@pytest.mark.parametrize(
    ("options", "method", "mode", "policy"),
    [
        ({}, "auto", "full", "chosen"),
        ({"method": "central", "step": 1e-4}, "central", "full", "given"),
        ({"method": "forward"}, "forward", "full", "chosen"),
        ({"mode": "directional"}, "auto", "directional", "chosen"),
        ({"mode": "sample"}, "auto", "sample", "chosen"),
    ],
)
def test_method_mode_and_step_policy_are_fixed_words(options, method, mode, policy):
    d = gradcheck.check(functions.smooth, np.linspace(-1, 1, 6), **options).to_dict()
    assert (d["method"], d["mode"], d["step_policy"]) == (method, mode, policy)
    assert d["method"] in METHODS
    assert d["mode"] in MODES
    assert d["step_policy"] in STEP_POLICIES
    assert d["directions"] == (DIRECTIONS if mode == "directional" else 0)


def test_nothing_compared_is_said_in_the_fixed_words():
    with np.errstate(invalid="ignore", divide="ignore"):
        report = gradcheck.check(lambda x: (float(np.log(x[0] - 1)), 1 / x), np.array([0.5, 2.0]))
    d = report.to_dict()
    assert (d["mode"], d["step_policy"], d["checked"]) == ("none", "none", 0)
    assert report.summary().startswith("gradcheck FAIL: f(x) is nan, so nothing could be checked")


def test_diagnosis_kinds_and_severities_are_the_vocabulary():
    with pytest.raises(ValueError, match="kind must be one of"):
        Diagnosis("typo", "message")
    with pytest.raises(ValueError, match="severity must be 'fail' or 'warning'"):
        Diagnosis("nondeterministic", "message", severity="maybe")
    assert Diagnosis("kink", "m").severity == "warning"
    assert Diagnosis("nondeterministic", "m", severity="warning").severity == "warning"
    assert set(SEVERITY) >= {"stateful", "nondeterministic", "regularization", "layout"}


def test_the_public_words_are_one_row_each_and_keep_their_spelling():
    """DESIGN.md's vocabulary: kinds and modes are added, never renamed. Each hypothesis
    carries its kind's row (severity, meaning), the one the report reads."""
    from gradcheck import diagnose, pipeline
    from gradcheck.vocabulary import KINDS

    assert set(SEVERITY) == {
        "nondeterministic", "stateful", "mutates_input", "nonfinite", "inconsistent", "sign",
        "scale", "layout",
        "regularization", "zero", "localized", "transpose", "noisy", "precision", "kink",
        "degenerate",
    }  # fmt: skip
    assert [h.kind.name for h in diagnose.HYPOTHESES] == [
        "sign", "zero", "scale", "layout", "regularization"
    ]  # fmt: skip
    for h in diagnose.HYPOTHESES:
        assert h.kind is KINDS[h.kind.name]
        assert SEVERITY[h.kind.name] == h.kind.severity == "fail"
    from gradcheck.render import PROBE_KINDS

    assert set(PROBE_KINDS) == {
        "stateful", "nondeterministic", "mutates_input", "nonfinite", "inconsistent"
    }  # fmt: skip
    assert MODES == ("full", "directional", "sample", "none")
    assert pipeline.MODES == ("auto", "full", "directional", "sample")


def test_allowed_relative_error_is_next_to_the_relative_error():
    d = _buggy_report().to_dict()
    for row in d["worst"]:
        if row["rel_error"] and row["allowed_rel_error"]:
            # an entry is wrong exactly when its relative error exceeds the allowed one
            assert row["mismatched"] == (row["rel_error"] > row["allowed_rel_error"])


def test_the_notebook_fragment_is_styled_and_scoped():
    report = gradcheck.check(lambda x: (float(x @ x), x), np.array([1.0, 2.0, 3.0]))
    fragment = report._repr_html_()
    assert fragment.startswith("<style>")
    assert ".gradcheck-report .verdict.fail{color:#cf222e}" in fragment  # the verdict in red
    assert ".gradcheck-report tr.wrong td{" in fragment  # wrong rows tinted
    assert ".gradcheck-report img{max-width:100%}" in fragment  # no overflowing figure
    assert "body{" not in fragment  # the notebook's own page is left alone
    assert ".gradcheck-report td,.gradcheck-report th{" in fragment  # every selector scoped
