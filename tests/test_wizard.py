"""`perfgate init`: flags, defaults, and the questions asked one at a time."""
import subprocess

from perfgate import contract, wizard
from tests.conftest import perfgate


def test_init_with_flags_writes_a_valid_contract(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    r = perfgate("init", "api", "--yes", "--repro", "python app.py", "--domain", "api_latency",
                 "--runs", "8", "--threshold-pct", "10", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    c = contract.load(tmp_path / "contracts" / "api.yaml")
    assert (c.domain, c.repro.measurement_runs, c.threshold.pct_min) == ("api_latency", 8, 10)
    assert [w.name for w in c.metrics.watchdogs] == ["peak_rss"]  # the domain's default
    r = perfgate("init", "api", "--yes", "--repro", "x", cwd=tmp_path)
    assert r.returncode == 2 and "already exists; --force overwrites it" in r.stderr
    r = perfgate("init", "b", "--yes", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == (
        "Error: init: a repro command is required (--repro 'CMD')")


def test_questions_come_one_at_a_time_with_choices(tmp_path):
    asked = []
    answers = {"Domain": "render_fps", "Repro command": "npm run bench",
               "Primary metric": "fps_min", "Lower is better?": "no",
               "Watchdog frame_p99_ms": "yes", "Watchdog peak_rss": "no"}

    def ask(question, default, choices):
        asked.append((question, default, tuple(choices or ())))
        return next((v for k, v in answers.items() if question.startswith(k)), default)

    path = wizard.create(tmp_path, "fps", {}, ask=ask)
    c = contract.load(path)
    assert asked[0][0] == "Domain" and "render_fps" in asked[0][2]
    assert c.domain == "render_fps" and c.metrics.primary.name == "fps_min"
    assert c.metrics.primary.lower_is_better is False
    assert [w.name for w in c.metrics.watchdogs] == ["frame_p99_ms"]
    assert c.profiler is not None and c.profiler.tool == "chrome-trace"
    assert len(asked) >= 10
