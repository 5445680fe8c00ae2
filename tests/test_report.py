"""Pure formatting: what a verdict's limit says per mode, history's sign, warnings."""
from perfgate import report

T = {"type": "pct", "pct_min": 20, "absolute_min": None, "significance_required": True}


def doc(mode, passed=True, warnings=()):
    return {"verdict": "accepted", "mode": mode, "threshold": T, "reasons": [],
            "warnings": list(warnings),
            "primary": {"name": "wall_time", "unit": "s", "baseline_median": 1.0,
                        "candidate_median": 1.01, "change_pct": -1.0, "ci_low": 0.99,
                        "ci_high": 1.03, "p_value": 0.4, "alpha": 0.05, "passed": passed,
                        "test": "mann_whitney", "n_baseline": 5, "n_candidate": 5},
            "watchdogs": [], "sequential": {"adaptive": False}}


def test_the_limit_says_what_the_mode_demands():
    improvement = report.verdict_text(doc("improvement"))
    assert "≥ 20% better, p < 0.05" in improvement
    no_regression = report.verdict_text(doc("no-regression"))
    assert "passes when ≥ 20% worse is ruled out, fails at ≥ 20% worse, p < 0.05" in \
        no_regression and "better" not in no_regression
    md = report.summary_markdown(doc("no-regression"), title="t")
    assert "| limit | passes when ≥ 20% worse is ruled out, fails at ≥ 20% worse, p < 0.05 |" in md


def test_warnings_are_shown_everywhere_the_verdict_is():
    d = doc("improvement", warnings=["the base commit abc measured 0.14 s in this gate but "
                                     "0.42 s in its baseline"])
    assert "warning: the base commit abc" in report.verdict_text(d)
    assert "## Warnings" in report.verdict_markdown("c", d)
    assert "**warning:** the base commit abc" in report.summary_markdown(d, title="t")


def test_history_change_is_positive_when_better():
    cols = ["started", "contract", "commit_sha", "role", "n", "median", "change_pct", "verdict"]
    rows = [("2026-01-01 00:00:00", "c", "abc", "candidate", 5, 0.5, -50.0, "accepted")]
    assert "+50.0%" in report.history_table(cols, rows, "wall_time")
    assert "-50.0%" in report.history_table(cols, rows, "rps", lower_is_better=False)
