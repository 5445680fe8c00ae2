"""decide(): every reason in plain values, and the properties the gate must never break."""
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from perfgate.contract import from_mapping
from perfgate.gate import Samples, decide


def contract(**over):
    data = {"name": "t", "domain": "cli_startup", "repro": {"script": "x", "measurement_runs": 5},
            "metrics": {"primary": {"name": "wall_time"},
                        "watchdogs": [{"name": "peak_rss", "max_regression_pct": 10}]},
            "threshold": {"type": "pct", "pct_min": 20}}
    for key, value in over.items():
        data[key] = value
    return from_mapping(data, "test")


def samples(wall, rss=None, failures=()):
    return Samples({"wall_time": wall, "peak_rss": rss or [100.0] * len(wall)}, failures)


BASE = [1.00, 1.02, 0.98, 1.01, 0.99]
FAST = [0.50, 0.51, 0.49, 0.52, 0.48]


def test_a_clear_improvement_is_accepted():
    v = decide(samples(BASE), samples(FAST), contract())
    assert v.verdict == "accepted" and v.reasons == ()
    assert v.primary.change_pct == pytest.approx(50.0)
    assert v.primary.p_value == pytest.approx(1 / 252)
    assert v.primary.ci_low <= 0.5 <= v.primary.ci_high


def test_below_threshold():
    v = decide(samples(BASE), samples([x * 0.9 for x in BASE]), contract())
    assert v.verdict == "rejected"
    assert v.reasons == ("wall_time median improved 10.0% (1 s → 0.9 s), below the 20% "
                         "threshold",)


def test_absolute_and_both_thresholds():
    c = contract(threshold={"type": "absolute", "absolute_min": 0.6})
    v = decide(samples(BASE), samples(FAST), c)
    assert v.reasons == ("wall_time median improved by 0.5 s (1 s → 0.5 s), below the absolute "
                         "threshold of 0.6 s",)
    c = contract(threshold={"type": "both", "pct_min": 60, "absolute_min": 0.6})
    assert len(decide(samples(BASE), samples(FAST), c).reasons) == 2


def test_not_significant_and_impossible_n():
    noisy_base = [1.0, 2.0, 1.5, 0.5, 1.2]
    noisy_cand = [0.3, 1.9, 0.5, 1.1, 0.6]
    v = decide(samples(noisy_base), samples(noisy_cand), contract())
    assert any(r.startswith("not significant: one-sided Mann-Whitney") for r in v.reasons)
    v = decide(samples(BASE[:3]), samples(FAST[:3]), contract())
    assert v.reasons[0] == ("not significant and cannot be: with 3 vs 3 runs the smallest "
                            "possible one-sided Mann-Whitney p is 0.05 >= alpha 0.05; use at "
                            "least 4 runs per side")
    # Nor can the watchdog's regression be ruled out with so few runs: undecided too.
    assert v.reasons[1] == ("watchdog peak_rss moved 0.0% better (100 MiB → 100 MiB), but a "
                            "regression of 10% cannot be ruled out with 3 vs 3 runs (the "
                            "smallest possible p is 0.05 >= alpha 0.05); n = 3 vs 3")
    c = contract(threshold={"type": "pct", "pct_min": 20, "significance_required": False})
    assert decide(samples(BASE[:3]), samples(FAST[:3]), c).verdict == "accepted"


def test_mean_2sigma_contract():
    c = contract(significance={"test": "mean_2sigma"})
    assert decide(samples(BASE), samples(FAST), c).verdict == "accepted"


def test_watchdogs_both_directions():
    v = decide(samples(BASE), samples(FAST, [130.0] * 5), contract())
    assert v.reasons == ("watchdog peak_rss regressed 30.0% (100 MiB → 130 MiB), more than its 10% "
                         "limit, significant: p = 0.00397",)
    c = contract(metrics={"primary": {"name": "wall_time"}, "watchdogs": [
        {"name": "rps", "lower_is_better": False, "max_regression_pct": 5}]})
    base = Samples({"wall_time": BASE, "rps": [100.0] * 5})
    cand = Samples({"wall_time": FAST, "rps": [90.0] * 5})
    assert decide(base, cand, c).reasons[0].startswith("watchdog rps regressed 10.0%")
    cand = Samples({"wall_time": FAST, "rps": [120.0] * 5})
    assert decide(base, cand, c).verdict == "accepted"


def test_failures_verify_and_missing_metrics_all_listed():
    v = decide(samples(BASE, failures=["run 2: exit 1: boom"]),
               samples(FAST, failures=["run 4: timed out after 5 s"]), contract())
    assert v.reasons == ("baseline run 2: exit 1: boom", "candidate run 4: timed out after 5 s")
    v = decide(samples(BASE), samples(FAST), contract(),
               verify_failure="verify failed: exit 1, last lines: FAILED test_x")
    assert v.verdict == "rejected" and v.primary is None
    assert v.reasons == ("verify failed: exit 1, last lines: FAILED test_x",)
    v = decide(samples(BASE), Samples({"wall_time": FAST}), contract())
    assert v.reasons == ("candidate has no values for watchdog peak_rss",)


def test_document_is_json_and_matches_the_schema():
    import json

    doc = decide(samples(BASE), samples(FAST), contract()).to_document(
        contract="t", base={"commit": "a", "session": 1},
        candidate={"commit": "b", "tree": "c", "session": 2})
    json.dumps(doc, allow_nan=False)
    assert doc["version"] == 2 and doc["verdict"] == "accepted"
    assert set(doc["primary"]) == {"name", "unit", "lower_is_better", "baseline_median",
                                   "candidate_median", "change_pct", "ci_low", "ci_high",
                                   "p_value", "test", "alpha", "n_baseline", "n_candidate",
                                   "passed", "p_not_worse"}
    _validate(doc, _schema())


def _schema():
    import importlib.resources
    import json

    return json.loads(importlib.resources.files("perfgate.schemas").joinpath(
        "verdict.schema.json").read_text())


def _validate(value, schema, path="$"):
    """The subset of JSON Schema the verdict schema uses: type, required, properties, items."""
    types = schema.get("type")
    if types:
        types = types if isinstance(types, list) else [types]
        pytypes = {"object": dict, "array": list, "string": str, "boolean": bool,
                   "integer": int, "number": (int, float), "null": type(None)}
        assert any(isinstance(value, pytypes[t]) and not (t in ("integer", "number") and
                   isinstance(value, bool)) for t in types), f"{path}: {value!r} not {types}"
    if "enum" in schema:
        assert value in schema["enum"], path
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{path}.{key} missing"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                _validate(value[key], sub, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            _validate(item, schema["items"], f"{path}[{i}]")


values = st.lists(st.floats(0.01, 100.0, allow_nan=False), min_size=4, max_size=10)


@settings(max_examples=80, deadline=None)
@given(values)
def test_identical_samples_never_pass(v):
    assert decide(samples(v), samples(list(v)), contract()).verdict == "rejected"


@settings(max_examples=60, deadline=None)
@given(values, values, st.sampled_from([0.001, 0.5, 3.0, 1000.0]))
def test_scaling_both_samples_never_changes_the_verdict(b, c, k):
    v1 = decide(samples(b), samples(c), contract())
    v2 = decide(samples([x * k for x in b]), samples([x * k for x in c]), contract())
    p = v1.primary
    # Exactly at the threshold, float rounding of the scaled values may tip either way.
    assume(p is None or p.change_pct is None or abs(p.change_pct - 20) > 1e-6)
    assert v1.verdict == v2.verdict


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(1.0, 1.2), min_size=8, max_size=12),
       st.lists(st.floats(0.3, 0.75), min_size=8, max_size=12))
def test_better_by_every_sample_with_enough_n_passes(base, cand):
    """Every candidate value below every baseline value, at least 25% better: accepted."""
    assert decide(samples(base), samples(cand), contract()).verdict == "accepted"


@settings(max_examples=60, deadline=None)
@given(values, values)
# Found by hypothesis: the CI's best case read a ratio below 1 as a loss for higher-is-better
# values even when the baseline was negative (inconclusive one way, rejected the other).
@example([20.0, 27.0, 27.0, 27.0], [1.0, 16.0, 28.0, 28.0])
def test_swapping_direction_mirrors_on_negated_values(b, c):
    """lower_is_better on v and higher_is_better on -v are the same question."""
    low = contract(metrics={"primary": {"name": "wall_time"}, "watchdogs": []})
    high = contract(metrics={"primary": {"name": "wall_time", "lower_is_better": False},
                             "watchdogs": []})
    v1 = decide(Samples({"wall_time": b}), Samples({"wall_time": c}), low)
    v2 = decide(Samples({"wall_time": [-x for x in b]}), Samples({"wall_time": [-x for x in c]}),
                high)
    assert v1.verdict == v2.verdict
    assert v1.primary.p_value == pytest.approx(v2.primary.p_value)


@settings(max_examples=60, deadline=None)
@given(values, values)
def test_every_rejection_has_a_reason(b, c):
    v = decide(samples(b), samples(c), contract())
    assert (v.verdict == "accepted") == (len(v.reasons) == 0)
