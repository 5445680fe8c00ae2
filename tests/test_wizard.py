"""`perfgate init`: flags, defaults, and the questions asked one at a time."""
import subprocess

from perfgate import contract, wizard
from tests.conftest import PY, perfgate


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


def test_piped_answers_are_used_and_the_rest_take_defaults(tmp_path):
    """The issue: `perfgate init` with piped input asked nothing and took every default."""
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "package.json").write_text("{}")
    (tmp_path / "package-lock.json").write_text("{}")
    answers = "api_latency\ncustom api\nnode server.js\n"     # domain, description, repro
    r = subprocess.run([PY, "-m", "perfgate", "init", "api"], cwd=tmp_path, input=answers,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "defaults for the rest" in r.stderr
    c = contract.load(tmp_path / "contracts" / "api.yaml")
    assert (c.domain, c.description, c.repro.script) == ("api_latency", "custom api",
                                                         "node server.js")
    assert c.setup == "npm ci"                                     # proposed for the stack
    assert c.profiler.command == "node --cpu-prof --cpu-prof-dir=.perfgate/api/cpuprofile server.js"


def test_a_profiler_chosen_by_name_gets_its_own_command(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    r = perfgate("init", "p", "--yes", "--repro", "python app.py", "--profiler", "callgrind",
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    c = contract.load(tmp_path / "contracts" / "p.yaml")
    assert c.profiler.tool == "callgrind"
    assert c.profiler.command.startswith("valgrind --tool=callgrind")   # not cProfile's
    r = perfgate("init", "q", "--yes", "--repro", "python app.py", "--profiler", "vtune",
                 cwd=tmp_path)
    assert r.returncode == 2 and "--profiler-command" in r.stderr
    r = perfgate("init", "q", "--yes", "--repro", "python app.py", "--profiler", "vtune",
                 "--profiler-command", "vtune -collect hotspots", "--profiler-output", "r/",
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert contract.load(tmp_path / "contracts" / "q.yaml").profiler.output_path == "r/"


def test_init_writes_a_dodo_file_so_doit_list_works(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    r = perfgate("init", "w", "--yes", "--repro", f"{PY} -c pass", cwd=tmp_path)
    assert r.returncode == 0 and "dodo.py" in r.stderr
    r = subprocess.run([PY, "-m", "doit", "list"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "baseline" in r.stdout and "gate" in r.stdout
    (tmp_path / "dodo.py").write_text("# mine\n")
    perfgate("init", "x", "--yes", "--repro", "true", cwd=tmp_path)
    assert (tmp_path / "dodo.py").read_text() == "# mine\n"          # never replaced
