"""The command line: help for every command, fast start, one-line errors with their exit codes."""
import subprocess
import time

import pytest

from perfgate.cli import cli
from tests.conftest import PY, perfgate


def test_every_command_has_help():
    for name, cmd in cli.commands.items():
        assert cmd.help and cmd.help.strip(), f"{name} has no help"


def test_help_starts_fast_without_heavy_imports():
    code = ("import sys, time; t = time.perf_counter(); from perfgate.cli import cli; "
            "heavy = [m for m in ('scipy', 'duckdb', 'matplotlib', 'pydantic', 'doit') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    best = min(_time([PY, "-m", "perfgate", "--help"]) for _ in range(3))
    assert best < 0.25, f"perfgate --help took {best:.3f} s"


def _time(argv):
    t = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True)
    return time.perf_counter() - t


def test_python_dash_m_works(tmp_path):
    r = perfgate("--help", cwd=tmp_path)
    assert r.returncode == 0 and "baseline" in r.stdout


def test_check_prints_effective_contract(repo):
    r = perfgate("check", "work", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert "measurement_runs: 3" in r.stdout and "significance_required: true" in r.stdout


def test_bad_contract_is_one_line_exit_2(repo):
    (repo / "contracts" / "work.yaml").write_text("version: 1\nname: work\nthreshold: {pct_min: -5}\n")
    r = perfgate("check", "work", cwd=repo)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"Error: {repo / 'contracts' / 'work.yaml'}: domain: required"]
    assert "Traceback" not in r.stderr


def test_schema_is_json(tmp_path):
    import json

    r = perfgate("schema", cwd=tmp_path)
    assert json.loads(r.stdout)["title"] == "Contract"


def test_unknown_option_is_usage_error(tmp_path):
    r = perfgate("measure", "--runs", "zero", "--", "true", cwd=tmp_path)
    assert r.returncode == 2 and "Error:" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("args", [["baseline", "nope"], ["approve", "nope"], ["scope", "nope"]])
def test_missing_contract_exit_2(repo, args):
    r = perfgate(*args, cwd=repo)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == (f"Error: {repo / 'contracts' / 'nope.yaml'}: "
                                "no such contract file")


def test_a_contract_outside_contracts_is_accepted(repo):
    """Any contract path works; hints name it by its path, and doit's own words never show."""
    (repo / "contracts" / "work.yaml").rename(repo / "mine.yaml")
    r = perfgate("scope", "./mine.yaml", "--yes", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert "approved work; next: perfgate baseline mine.yaml" in r.stderr
    r = perfgate("baseline", "mine.yaml", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert "doit" not in r.stderr and (repo / ".perfgate" / "work" / "baseline.md").exists()
