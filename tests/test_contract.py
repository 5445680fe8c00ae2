"""Contract validation: every domain, defaults, and each error path with its exact one-line message."""
import copy
import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from perfgate import contract as c
from perfgate.errors import ContractError

VALID = {
    "version": 1, "name": "api", "domain": "cli_startup",
    "repro": {"script": "python app.py"},
    "metrics": {"primary": {"name": "wall_time", "unit": "s", "lower_is_better": True},
                "watchdogs": [{"name": "peak_rss", "unit": "MB", "lower_is_better": True,
                               "max_regression_pct": 10}]},
}


def load_with(tmp_path, mutate=None, text=None):
    data = copy.deepcopy(VALID)
    if mutate:
        mutate(data)
    p = tmp_path / "api.yaml"
    p.write_text(text if text is not None else yaml.safe_dump(data))
    return c.load(p)


def test_defaults_are_filled_in(tmp_path):
    k = load_with(tmp_path)
    assert k.repro.warmup_runs == 1 and k.repro.measurement_runs == 5
    assert k.threshold.type == "pct" and k.threshold.pct_min == 20
    assert k.threshold.significance_required is True
    assert k.significance.test == "mann_whitney" and k.significance.alpha == 0.05
    assert [m.source for m in k.metrics.all()] == ["builtin", "builtin"]


@pytest.mark.parametrize("domain", c.DOMAINS)
def test_every_domain_validates(tmp_path, domain):
    k = load_with(tmp_path, lambda d: d.update(domain=domain, description="x"))
    assert k.domain == domain


def test_memory_peak_is_an_alias_of_peak_rss(tmp_path):
    k = load_with(tmp_path, lambda d: d["metrics"].update(
        primary={"name": "memory_peak", "unit": "MB"}, watchdogs=[]))
    assert k.metrics.primary.name == "peak_rss" and k.metrics.primary.source == "builtin"


def test_metric_sources(tmp_path):
    k = load_with(tmp_path, lambda d: d["metrics"].update(watchdogs=[
        {"name": "p95", "regex": r"p95: ([0-9.]+) ms", "max_regression_pct": 5},
        {"name": "bundle", "file_size": "dist/*.js", "max_regression_pct": 5},
        {"name": "rps", "lower_is_better": False, "max_regression_pct": 5}]))
    assert [m.source for m in k.metrics.watchdogs] == ["regex", "file_size", "reported"]


def test_digest_changes_with_any_edit(tmp_path):
    a = load_with(tmp_path).digest()
    assert a == load_with(tmp_path).digest()
    assert a != load_with(tmp_path, lambda d: d["repro"].update(measurement_runs=6)).digest()


def _set(path, value):
    def mutate(d):
        *parents, last = path
        for p in parents:
            d = d[p]
        d[last] = value
    return mutate


def _drop(path):
    def mutate(d):
        *parents, last = path
        for p in parents:
            d = d[p]
        del d[last]
    return mutate


CASES = [
    (_set(["threshold"], {"pct_min": -5}), "threshold.pct_min: must be >= 0, got -5"),
    (_set(["threshold"], {"pct_min": 5000}), "threshold.pct_min: must be <= 1000, got 5000"),
    (_set(["threshold"], {"pct_min": 150}),
     "threshold.pct_min: a lower-is-better metric cannot improve by 100% or more, got 150"),
    (_set(["threshold"], {"type": "absolute"}),
     "threshold.absolute_min: required when type is absolute"),
    (_set(["threshold"], {"type": "both", "absolute_min": None}),
     "threshold.absolute_min: required when type is both"),
    (_set(["threshold"], {"type": "absolute", "absolute_min": -1}),
     "threshold.absolute_min: must be >= 0, got -1"),
    (_set(["threshold"], {"type": "ratio"}),
     "threshold.type: must be one of 'pct', 'absolute' or 'both', got 'ratio'"),
    (_set(["threshold"], {"significance_required": "maybe"}),
     "threshold.significance_required: must be true or false, got 'maybe'"),
    (_set(["domain"], "web"), "domain: must be one of 'api_latency', 'cli_startup', "
     "'render_fps', 'build_time', 'bundle_size', 'memory_peak', 'db_query' or 'custom', got 'web'"),
    (_set(["domain"], "custom"), "description: required when domain is custom"),
    (_drop(["domain"]), "domain: required"),
    (_drop(["name"]), "name: required"),
    (_drop(["repro"]), "repro: required"),
    (_drop(["metrics"]), "metrics: required"),
    (_drop(["metrics", "primary"]), "metrics.primary: required"),
    (_set(["repro"], "python app.py"), "repro: must be a mapping, got str"),
    (_set(["repro", "script"], ""), "repro.script: must not be empty"),
    (_set(["repro", "measurement_runs"], 2), "repro.measurement_runs: must be >= 3, got 2"),
    (_set(["repro", "measurement_runs"], "many"),
     "repro.measurement_runs: must be an integer, got 'many'"),
    (_set(["repro", "warmup_runs"], -1), "repro.warmup_runs: must be >= 0, got -1"),
    (_set(["repro", "timeout_s"], 0), "repro.timeout_s: must be > 0, got 0"),
    (_set(["repro", "runs"], 5), "repro.runs: unknown key (check the spelling; see `perfgate "
     "schema`)"),
    (_set(["treshold"], {}), "treshold: unknown key (check the spelling; see `perfgate schema`)"),
    (_set(["metrics", "primary"], [{"name": "a"}, {"name": "b"}]),
     "metrics.primary: exactly one primary metric, got a list of 2"),
    (_drop(["metrics", "watchdogs", 0, "max_regression_pct"]),
     "metrics.watchdogs[0].max_regression_pct: required"),
    (_set(["metrics", "watchdogs", 0, "max_regression_pct"], -3),
     "metrics.watchdogs[0].max_regression_pct: must be >= 0, got -3"),
    (_set(["metrics", "watchdogs"], {"name": "x"}),
     "metrics.watchdogs: must be a list, got dict"),
    (lambda d: d["metrics"]["watchdogs"][0].update(name="wall_time", unit="s"),
     "metrics: metric wall_time is listed twice"),
    (_set(["metrics", "primary", "unit"], "ms"),
     "metrics.primary.unit: wall_time is measured in s, got 'ms'; write s or leave it out"),
    (_set(["metrics", "watchdogs", 0, "unit"], "GB"),
     "metrics.watchdogs[0].unit: peak_rss is measured in MiB, got 'GB'; write MiB or leave "
     "it out"),
    (_set(["metrics", "primary", "source"], "magic"),
     "metrics.primary.source: unknown key (check the spelling; see `perfgate schema`)"),
    (_set(["metrics", "primary"], {"name": "p95", "regex": "(unclosed"}),
     "metrics.primary.regex: not a valid regular expression (missing ), unterminated subpattern "
     "at position 0)"),
    (_set(["metrics", "primary"], {"name": "p95", "regex": "p95: [0-9]+"}),
     "metrics.primary.regex: needs exactly one capture group, has 0"),
    (_set(["metrics", "primary"], {"name": "p95", "regex": "(a)", "file_size": "x"}),
     "metrics.primary.file_size: give either regex or file_size, not both"),
    (_set(["metrics", "primary"], {"name": "wall_time", "regex": "(a)"}),
     "metrics.primary.name: wall_time is measured by perfgate itself; remove regex/file_size"),
    (_set(["metrics", "primary"], {"name": "p 95"}),
     "metrics.primary.name: must be a name made of letters, digits, _ and ., got 'p 95'"),
    (_set(["significance"], {"test": "t_test"}),
     "significance.test: must be one of 'mann_whitney', 'wilcoxon' or 'mean_2sigma', got 't_test'"),
    (_set(["significance"], {"alpha": 0}), "significance.alpha: must be > 0, got 0"),
    (_set(["significance"], {"alpha": 0.9}), "significance.alpha: must be <= 0.5, got 0.9"),
    (_set(["profiler"], {"tool": "cprofile", "command": "python -m cProfile x.py"}),
     "profiler.output_path: required"),
    (_set(["version"], 2),
     "version: 2 is newer than this perfgate understands (1); upgrade perfgate"),
    (_set(["version"], 0), "version: must be >= 1, got 0"),
    (_set(["name"], "../etc/passwd"), "name: must be a safe file name (letters, digits, _ . -, "
     "at most 64), got '../etc/passwd'"),
    (_set(["name"], "a b"), "name: must be a safe file name (letters, digits, _ . -, at most 64),"
     " got 'a b'"),
    (_set(["secrets_file_path"], 5), "secrets_file_path: must be a string, got 5"),
]


@pytest.mark.parametrize("mutate,message", CASES, ids=[m for _, m in CASES])
def test_error_messages(tmp_path, mutate, message):
    with pytest.raises(ContractError) as exc:
        load_with(tmp_path, mutate)
    assert str(exc.value) == f"{tmp_path / 'api.yaml'}: {message}"


@pytest.mark.parametrize("text,message", [
    ("name: [unclosed\n", "YAML syntax error at line 2, column 1: expected ',' or ']', "
                          "but got '<stream end>'"),
    ("a: 1\n b: 2\n", "YAML syntax error at line 2, column 3: mapping values are not allowed here"),
    ("", "must be a YAML mapping, got NoneType"),
    ("- 1\n- 2\n", "must be a YAML mapping, got list"),
])
def test_yaml_errors_name_line_and_column(tmp_path, text, message):
    with pytest.raises(ContractError) as exc:
        load_with(tmp_path, text=text)
    assert str(exc.value) == f"{tmp_path / 'api.yaml'}: {message}"


def test_missing_file(tmp_path):
    with pytest.raises(ContractError, match="no such contract file"):
        c.load(tmp_path / "nope.yaml")


def test_json_schema_describes_the_contract():
    schema = c.json_schema()
    assert schema["additionalProperties"] is False
    assert {"repro", "metrics", "threshold", "significance"} <= set(schema["properties"])
    json.dumps(schema)


@settings(max_examples=150, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda kids: st.lists(kids, max_size=3)
                    | st.dictionaries(st.sampled_from(["name", "repro", "metrics", "domain",
                                                       "threshold", "script", "primary", "x"]),
                                      kids, max_size=4), max_leaves=12))
def test_fuzzed_mappings_never_escape_as_tracebacks(data):
    try:
        c.from_mapping(data, "fuzz.yaml")
    except ContractError as exc:
        assert str(exc).startswith("fuzz.yaml: ") and "\n" not in str(exc)


@pytest.mark.parametrize("mutate,message", CASES, ids=[m for _, m in CASES])
def test_cli_check_says_it_in_one_line_with_exit_2(tmp_path, capsys, mutate, message):
    from perfgate.cli import main

    data = copy.deepcopy(VALID)
    mutate(data)
    path = tmp_path / "api.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SystemExit) as exc:
        main(["check", str(path)])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err == f"Error: {path}: {message}\n"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_fuzzed_yaml_text_never_escapes_as_a_traceback(tmp_path_factory, text):
    p = tmp_path_factory.mktemp("y") / "c.yaml"
    p.write_bytes(text.encode("utf-8", errors="replace"))
    try:
        c.load(p)
    except ContractError as exc:
        assert str(exc).startswith(f"{p}: ") and "\n" not in str(exc)
