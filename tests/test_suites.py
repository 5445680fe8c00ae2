"""Suites: the contract's suite: section and each format's adapter. The adapters read files the
real harnesses wrote (tests/data/suites, trimmed), and are fuzzed like the profile parsers:
whatever the bytes, a parser returns results or raises its own one-line ParseError."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfgate import contract as contract_mod
from perfgate import suites
from perfgate.errors import ContractError
from perfgate.suites import spec

DATA = Path(__file__).parent / "data" / "suites"
FILES = {"pytest-benchmark": "pytest-benchmark.json", "hyperfine": "hyperfine.json",
         "google-benchmark": "google-benchmark.json", "go-test": "go-test.txt",
         "mitata": "mitata.json", "asv": "asv-results.json"}


def read(fmt: str) -> suites.Results:
    return suites.parse(fmt, (DATA / FILES[fmt]).read_text())


def test_every_format_has_an_adapter_and_a_real_file():
    assert set(suites.ADAPTERS) == set(spec.FORMATS) == set(FILES)


def test_pytest_benchmark_rounds_in_seconds():
    r = read("pytest-benchmark")
    assert sorted(r) == ["test_join", "test_sum[100]", "test_sum[10]"]
    raw = json.loads((DATA / FILES["pytest-benchmark"]).read_text())["benchmarks"][0]
    assert r["test_join"]["time"] == raw["stats"]["data"]


def test_hyperfine_each_run_of_each_command():
    r = read("hyperfine")
    assert sorted(r) == ["fast", "slow"] and len(r["slow"]["time"]) == 3
    assert all(0.009 < t < 1 for t in r["slow"]["time"])


def test_google_benchmark_repetitions_without_the_aggregates():
    r = read("google-benchmark")
    assert sorted(r) == ["BM_Sum/100", "BM_Sum/1000"]
    assert len(r["BM_Sum/100"]["time"]) == 3 and len(r["BM_Sum/100"]["cpu"]) == 3
    assert all(1e-9 < t < 1e-3 for t in r["BM_Sum/1000"]["time"])   # ns converted to s


def test_go_test_lines_per_count_with_benchmem():
    r = read("go-test")
    assert sorted(r) == ["BenchmarkJoin", "BenchmarkSum/n=10", "BenchmarkSum/n=1000"]
    assert r["BenchmarkJoin"]["time"] == pytest.approx([90.21e-9, 85.07e-9])
    assert r["BenchmarkJoin"]["allocs_per_op"] == [1.0, 1.0]


def test_go_test_qualifies_names_shared_by_two_packages():
    text = ("pkg: a\nBenchmarkX-2  10  5 ns/op\npkg: b\nBenchmarkX-2  10  7 ns/op\n"
            "BenchmarkY-2  10  1 ns/op\n")
    assert sorted(suites.parse("go-test", text)) == ["BenchmarkY", "a.BenchmarkX", "b.BenchmarkX"]


def test_mitata_samples_in_seconds():
    r = read("mitata")
    assert sorted(r) == ["join", "sum 1000"] and len(r["join"]["time"]) == 20


def test_asv_params_expand_into_names():
    r = read("asv")
    assert sorted(r) == ["bench.TimeSuite.time_range(10)", "bench.TimeSuite.time_range(100)",
                         "bench.time_sum"]
    assert len(r["bench.time_sum"]["time"]) == 10


@pytest.mark.parametrize("fmt, text, message", [
    ("pytest-benchmark", "{", "not valid JSON (line 1)"),
    ("pytest-benchmark", "{}", "benchmarks: missing"),
    ("pytest-benchmark", '{"benchmarks": [{"name": "a", "stats": {}}]}',
     "benchmarks[0].stats.median: missing"),
    ("pytest-benchmark", '{"benchmarks": [{"name": "a", "stats": {"median": "x"}}]}',
     "benchmarks[0].stats.median: must be a number, got str"),
    ("hyperfine", '{"results": [{"command": "a", "times": [1, NaN]}]}',
     "results[0].times[1]: must be a finite number, got nan"),
    ("hyperfine", '{"results": [{"command": "a", "median": 1}, {"command": "a", "median": 2}]}',
     "results[1]: benchmark 'a' appears twice"),
    ("google-benchmark", '{"benchmarks": [{"name": "a", "real_time": 1, "cpu_time": 1, '
     '"time_unit": "fortnights"}]}',
     "benchmarks[0].time_unit: must be one of ns, us, ms, s, got 'fortnights'"),
    ("google-benchmark", '{"benchmarks": [{"name": "a", "error_occurred": true, '
     '"error_message": "boom"}]}', "benchmarks[0]: benchmark a failed: boom"),
    ("go-test", "PASS\nok  x 0.1s\n", "no benchmark result lines"),
    ("mitata", '{"benchmarks": [{"runs": [{"name": "a", "error": "bad", "stats": {}}]}]}',
     "benchmarks[0].runs[0]: benchmark a threw: bad"),
    ("asv", '{"result_columns": ["result"], "results": {"b.time_x": [null]}}',
     "results.b.time_x.result[0]: benchmark b.time_x failed in this run"),
    ("asv", '{"result_columns": ["result", "params"], "results": {"b.time_x": [[1, 2], [[1]]]}}',
     "results.b.time_x.result: has 2 values for 1 parameter combinations"),
    ("hyperfine", '{"results": []}', "no benchmark results in the file"),
])
def test_a_results_file_that_does_not_parse_names_the_field(fmt, text, message):
    with pytest.raises(suites.ParseError) as exc:
        suites.parse(fmt, text)
    assert str(exc.value).startswith(message)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["benchmarks", "results", "name", "stats", "median", "data", "times",
                         "command", "runs", "samples", "p50", "real_time", "cpu_time",
                         "time_unit", "run_type", "result_columns", "result", "params",
                         "fullname", "error", "run_name"]), inner, max_size=5),
    max_leaves=25)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(spec.FORMATS), json_values)
def test_fuzzed_json_either_parses_or_is_a_parse_error(fmt, value):
    try:
        text = json.dumps(value)
    except ValueError:
        return
    try:
        out = suites.parse(fmt, text)
    except suites.ParseError:
        return
    for metrics in out.values():
        for values in metrics.values():
            assert values and all(isinstance(v, float) for v in values)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(spec.FORMATS), st.text(max_size=300))
def test_fuzzed_text_either_parses_or_is_a_parse_error(fmt, text):
    try:
        suites.parse(fmt, text)
    except suites.ParseError:
        pass


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.from_regex(r"Benchmark[A-Z][a-z]{0,6}", fullmatch=True),
                          st.integers(1, 10**6), st.floats(0.01, 1e9)), min_size=1, max_size=8))
def test_go_lines_round_trip(rows):
    text = "".join(f"{n}-2 \t {i} \t {v!r} ns/op\n" for n, i, v in rows)
    out = suites.parse("go-test", text)
    for n, _, v in rows:
        assert any(t == pytest.approx(v * 1e-9) for t in out[n]["time"])


# -- the contract's suite: section -----------------------------------------------------------

BASE = {"name": "s", "domain": "cli_startup"}


def load(suite) -> contract_mod.Contract:
    return contract_mod.from_mapping({**BASE, "suite": suite}, "contracts/s.yaml")


def test_params_expand_into_one_benchmark_per_combination():
    c = load({"benchmarks": [{"name": "sort_{n}_{kind}", "script": "python s.py {n} {kind} ${HOME}",
                              "params": {"n": [10, 1000], "kind": ["a", "b"]}},
                             {"name": "plain", "script": "true"}]})
    got = [(e.name, e.script) for e in spec.expand(c.suite.benchmarks)]
    assert got[0] == ("sort_10_a", "python s.py 10 a ${HOME}")
    assert [n for n, _ in got] == ["sort_10_a", "sort_10_b", "sort_1000_a", "sort_1000_b",
                                   "plain"]
    # A suite needs no repro script; its default N is larger (see contract.SUITE_RUNS).
    assert c.repro.script is None and c.repro.measurement_runs == contract_mod.SUITE_RUNS
    assert c.metrics.primary.name == "wall_time"
    assert load({"format": "go-test", "command": "go test -bench . > {output}"}
                ).metrics.primary.name == "time"


def test_include_exclude_and_limits():
    c = load({"format": "hyperfine", "command": "hyperfine --export-json {output} a",
              "include": ["parse_*", "load"], "exclude": ["parse_slow*"],
              "limits": {"parse_*": {"max_regression_pct": 25}, "parse_big": {"pct_min": 3}},
              "max_regression_pct": 5})
    s = c.suite
    assert [n for n in ("parse_a", "parse_slow1", "load", "other") if s.selected(n)] == \
        ["parse_a", "load"]
    assert s.limit("parse_big", 20) == (3, 25) and s.limit("load", 20) == (20, 5)


@pytest.mark.parametrize("suite, message", [
    ({"format": "nope", "command": "x {output}"},
     "suite.format: must be one of 'pytest-benchmark', 'asv', 'hyperfine', 'google-benchmark', "
     "'go-test' or 'mitata', got 'nope'"),
    ({"format": "hyperfine"}, "suite.command: required with format hyperfine"),
    ({"format": "hyperfine", "command": "hyperfine a"}, "suite.command: must contain {output}"),
    ({}, "suite.format: give either benchmarks (perfgate's own list) or format and command"),
    ({"benchmarks": [{"name": "a", "script": "x"}], "format": "asv", "command": "asv run"},
     "suite.format: give either benchmarks or format and command, not both"),
    ({"benchmarks": [{"name": "a", "script": "x", "params": {"n": [1, 2]}}]},
     "suite.benchmarks[0].name: must contain {n} so that each combination"),
    ({"benchmarks": [{"name": "a_{n}", "script": "x", "params": {"n": [1]}},
                     {"name": "a_1", "script": "y"}]},
     "suite.benchmarks[1].name: 'a_1' expands to 'a_1', which benchmarks[0] already names"),
    ({"benchmarks": [{"name": "a_{n}", "script": "x", "params": {"n": []}}]},
     "suite.benchmarks[0].params: n: needs at least one value"),
    ({"benchmarks": [{"name": "a", "script": "x"}], "primary": "b"},
     "suite.primary: no benchmark named 'b' (the suite has a); or write geomean"),
    ({"benchmarks": [{"name": "a", "script": "x"}], "correction": "bonferroni"},
     "suite.correction: must be one of 'holm', 'bh' or 'none', got 'bonferroni'"),
    ({"benchmarks": []}, "suite.benchmarks: needs at least one benchmark"),
    ({"benchmarks": [{"name": "a", "script": "x"}], "limits": {"a": {"pct_min": -1}}},
     "suite.limits.a.pct_min: must be >= 0, got -1"),
])
def test_a_bad_suite_is_one_line_naming_the_field(suite, message):
    with pytest.raises(ContractError) as exc:
        load(suite)
    text = str(exc.value)
    assert "\n" not in text and text.startswith("contracts/s.yaml: " + message), text


# -- the command line ------------------------------------------------------------------------

def _project(tmp_path: Path, suite: str) -> Path:
    from tests.conftest import git

    root = tmp_path / "p"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "x.txt").write_text("x\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "x")
    (root / "contracts").mkdir()
    (root / "contracts" / "s.yaml").write_text(
        "name: s\ndomain: cli_startup\nrepro: {warmup_runs: 0, measurement_runs: 3}\n" + suite)
    return root


def test_a_results_file_that_does_not_parse_is_exit_2_naming_file_and_field(tmp_path):
    from tests.conftest import perfgate

    root = _project(tmp_path, "suite: {format: hyperfine, command: 'echo \"{\" > {output}'}\n")
    r = perfgate("measure", "--suite", "s", "-n", "1", "-w", "0", cwd=root)
    assert r.returncode == 2
    assert r.stderr.strip() == (f"Error: {root}/contracts/s.yaml: suite.format: hyperfine "
                                "results do not parse: not valid JSON (line 2)")


def test_a_command_that_writes_no_results_is_exit_2(tmp_path):
    from tests.conftest import perfgate

    root = _project(tmp_path, "suite: {format: go-test, command: 'true {output}'}\n")
    r = perfgate("measure", "--suite", "s", "-n", "1", "-w", "0", cwd=root)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "suite.format: go-test results: the command exited 0 but wrote no results file" \
        in r.stderr


def test_check_reports_a_bad_suite_in_one_line(tmp_path):
    from tests.conftest import perfgate

    root = _project(tmp_path, "suite: {format: criterion, command: 'x {output}'}\n")
    r = perfgate("check", "s", cwd=root)
    assert r.returncode == 2 and r.stderr.startswith(
        f"Error: {root}/contracts/s.yaml: suite.format: must be one of 'pytest-benchmark'")


def test_measure_takes_a_suite_like_hyperfine_takes_several_commands(tmp_path):
    from tests.conftest import perfgate

    py = __import__("sys").executable
    root = _project(tmp_path, "suite:\n  benchmarks:\n    - {name: 'n{k}', script: '"
                    + py + " -c pass', params: {k: [1, 2]}}\n")
    r = perfgate("measure", "--suite", "s", "-n", "2", "-w", "0", "--json", cwd=root)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert len(doc["invocations"]) == 2
    assert sorted(doc["invocations"][0]["benchmarks"]) == ["n1", "n2"]
    assert doc["invocations"][0]["benchmarks"]["n1"]["wall_time"] > 0


def test_init_offers_the_harness_recon_finds(tmp_path):
    from perfgate import recon, wizard

    root = tmp_path / "r"
    root.mkdir()
    (root / "go.mod").write_text("module x\n\ngo 1.19\n")
    (root / "a_test.go").write_text("package x\nimport \"testing\"\nfunc BenchmarkX(b *testing.B) {}\n")
    assert recon.suite_for(root)["format"] == "go-test"
    asked = []

    def ask(question, default, choices):
        asked.append(question)
        return default
    path = wizard.create(root, "perf", {}, ask=ask)
    c = contract_mod.load(path)
    assert c.suite.format == "go-test" and c.repro.script is None
    assert c.metrics.primary.name == "time" and c.repro.measurement_runs == 10
    assert any(q.startswith("Gate the existing go-test suite") for q in asked)
    # --repro wins over the harness; --suite where there is none is an error.
    path = wizard.create(root, "one", {"repro": "true"}, ask=None)
    assert contract_mod.load(path).suite is None
    empty = tmp_path / "e"
    empty.mkdir()
    with pytest.raises(Exception, match="--suite: no benchmark harness found here"):
        wizard.create(empty, "perf", {"suite": True}, ask=None)
