"""Profile parsers on real profiler output and checked-in samples; the hotspot ranking."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfgate.errors import PerfgateError, UsageError
from perfgate.hotspots import rank
from perfgate.profiles import load

DATA = Path(__file__).parent / "data" / "profiles"
DEMO = Path(__file__).parent.parent / "examples" / "demo" / "slow.py"


@pytest.fixture
def project(tmp_path):
    shutil.copy(DATA / "app.py", tmp_path / "app.py")
    return tmp_path


def _copy(project, name):
    shutil.copy(DATA / name, project / name)
    return project / name


@pytest.mark.parametrize("name", ["app.collapsed", "app.speedscope.json", "app.cpuprofile",
                                  "app.pyinstrument.json"])
def test_samples_rank_parse_first_with_library_time_attributed(project, name):
    spots = rank(load(_copy(project, name)), project)
    assert [h.function for h in spots][:2] == ["parse", "render"]
    assert spots[0].file == "app.py" and spots[0].line_start == 4 and spots[0].line_end == 5
    assert spots[0].self_share == pytest.approx(0.7, abs=0.01)


def test_cprofile_on_a_real_program_finds_the_known_hotspot(tmp_path):
    shutil.copy(DEMO, tmp_path / "slow.py")
    subprocess.run([sys.executable, "-m", "cProfile", "-o", "out.pstats", "slow.py"],
                   cwd=tmp_path, check=True, capture_output=True)
    spots = rank(load(tmp_path / "out.pstats"), tmp_path)
    assert spots[0].function == "gap_counts"  # its list comprehension is counted in it
    assert spots[0].self_share > 0.3
    assert spots[0].calls is not None
    assert {h.function for h in spots} >= {"gap_counts", "digest", "is_prime"}


@pytest.mark.skipif(shutil.which("py-spy") is None, reason="py-spy not installed")
def test_py_spy_collapsed_on_a_real_program(tmp_path):
    shutil.copy(DEMO, tmp_path / "slow.py")
    # 40000 (0.47 s, about 150 samples, half or more in gap_counts): at the default 0.17 s
    # a test worker beside two others once left py-spy so few samples that main came first.
    r = subprocess.run(["py-spy", "record", "--format", "raw", "-r", "500", "-o", "out.folded",
                        "--", sys.executable, "slow.py", "40000"], cwd=tmp_path,
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"py-spy cannot trace here: {r.stderr.decode()[-200:]}")
    spots = rank(load(tmp_path / "out.folded"), tmp_path, min_share=0.0)
    assert spots[0].function == "gap_counts", spots[:4]


def test_tried_hotspots_are_not_proposed_again(project):
    prof = load(_copy(project, "app.collapsed"))
    spots = rank(prof, project, exclude={"app.py::parse"})
    assert spots[0].function == "render"


def test_nothing_above_the_minimum_share(project):
    assert rank(load(_copy(project, "app.collapsed")), project, min_share=0.9) == []


@pytest.mark.parametrize("content,why", [
    (b"", "the file is empty"),
    (b"   \n", "the file is empty"),
    (b'{"nodes": [', "invalid .cpuprofile"),
    (b'{"shared": {"frames": []}, "profiles": [], "$schema": "speedscope"}', "no samples"),
    (b'{"hello": 1}', "JSON, but not speedscope, Chrome .cpuprofile or pyinstrument"),
    (b"main;work notanumber\n", "line 1: expected 'frame;frame;... COUNT'"),
    (b"\xff\xfe\x00garbage", "not UTF-8 text"),
    (b"{(\x00\x01", "not a pstats file"),
])
def test_malformed_profiles_are_one_line_errors(tmp_path, content, why):
    p = tmp_path / "bad.prof"
    p.write_bytes(content)
    with pytest.raises(UsageError) as exc:
        load(p)
    assert str(exc.value).startswith(f"{p}: not a readable profile (")
    assert why in str(exc.value) and "\n" not in str(exc.value)


def test_missing_profile(tmp_path):
    with pytest.raises(UsageError, match="the profiler wrote no output there"):
        load(tmp_path / "nope.pstats")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_fuzzed_bytes_parse_or_fail_cleanly(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("fuzz") / "x.prof"
    p.write_bytes(data)
    try:
        load(p)
    except PerfgateError as exc:
        assert str(exc) and "\n" not in str(exc)


def _have(*tools):
    return pytest.mark.skipif(any(shutil.which(t) is None for t in tools),
                              reason=f"needs {', '.join(tools)}")


GO_PROGRAM = """package main

import "fmt"

func slow(n int) int {
	t := 0
	for i := 0; i < n; i++ {
		for j := 0; j < i%1000; j++ {
			t += j
		}
	}
	return t
}

func main() {
	fmt.Println(slow(20000))
}
"""


@pytest.mark.slow
@_have("go")
def test_go_pprof_from_a_real_go_test(tmp_path):
    (tmp_path / "go.mod").write_text("module example.com/slowgo\n\ngo 1.19\n")
    (tmp_path / "main.go").write_text(GO_PROGRAM)
    (tmp_path / "main_test.go").write_text(
        'package main\n\nimport "testing"\n\nfunc BenchmarkSlow(b *testing.B) {\n'
        '\tfor i := 0; i < b.N; i++ {\n\t\tslow(20000)\n\t}\n}\n')
    r = subprocess.run(["go", "test", "-run", "^$", "-bench", ".", "-benchtime", "10x",
                        "-cpuprofile", "cpu.pprof", "-o", "t.bin"], cwd=tmp_path,
                       capture_output=True, text=True, )
    assert r.returncode == 0, r.stderr
    prof = load(tmp_path / "cpu.pprof")
    assert prof.unit == "s" and prof.total > 0
    spots = rank(prof, tmp_path)
    assert (spots[0].function, spots[0].file) == ("slow", "main.go")
    assert (spots[0].line_start, spots[0].line_end) == (5, 13)
    assert spots[0].self_share > 0.5      # the rest: Go's runtime and scheduler


C_PROGRAM = """#include <stdio.h>

static unsigned long
collatz_steps(unsigned long n)
{
    unsigned long steps = 0;
    while (n != 1) { n = (n % 2) ? 3 * n + 1 : n / 2; steps++; }
    return steps;
}

int main(void) {
    unsigned long total = 0;
    for (unsigned long i = 1; i < 30000; i++) total += collatz_steps(i);
    printf("%lu\\n", total);
    return 0;
}
"""


@pytest.mark.slow
@_have("valgrind", "cc")
@pytest.mark.parametrize("debug", [True, False])
def test_callgrind_of_a_c_program_with_and_without_debug_info(tmp_path, debug):
    (tmp_path / "main.c").write_text(C_PROGRAM)
    flags = ["-g"] if debug else []
    subprocess.run(["cc", "-O1", *flags, "-fno-inline", "-o", "app", "main.c"], cwd=tmp_path,
                   check=True)
    subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=cg.out", "./app"],
                   cwd=tmp_path, check=True, capture_output=True)
    prof = load(tmp_path / "cg.out")
    assert prof.unit == "instructions" and prof.table
    spots = rank(prof, tmp_path)
    assert (spots[0].function, spots[0].file) == ("collatz_steps", "main.c")
    assert (spots[0].line_start, spots[0].line_end) == (4, 9)
    assert spots[0].self_share > 0.8 and spots[0].calls == 29999


@pytest.mark.slow
@_have("node")
def test_node_cpu_prof_directory_with_functions_from_the_parser(tmp_path):
    (tmp_path / "bench.js").write_text(
        "function fib(n) {\n  return n < 2 ? n : fib(n - 1) + fib(n - 2);\n}\n"
        "const render = (n) => {\n  let s = 0;\n  for (let i = 0; i < 25; i++) s += fib(n);\n"
        "  return s;\n};\nconsole.log(render(22));\n")
    subprocess.run(["node", "--cpu-prof", "--cpu-prof-dir=prof", "bench.js"], cwd=tmp_path,
                   check=True, capture_output=True)
    assert (tmp_path / "prof").is_dir()
    spots = rank(load(tmp_path / "prof"), tmp_path, min_share=0.01)
    assert (spots[0].function, spots[0].line_start, spots[0].line_end) == ("fib", 1, 3)


def test_directories_and_globs_of_profiles(tmp_path):
    from perfgate.profiles import outputs

    (tmp_path / "d").mkdir()
    for i in (1, 2):
        (tmp_path / "d" / f"p{i}.folded").write_text(f"main (app.py:1);parse (app.py:4) {i}0\n")
    assert [p.name for p in outputs(tmp_path, "d")] == ["p1.folded", "p2.folded"]
    assert [p.name for p in outputs(tmp_path, "d/p*.folded")] == ["p1.folded", "p2.folded"]
    assert outputs(tmp_path, "missing.prof") == []
    assert load(tmp_path / "d").total == 30
    (tmp_path / "e").mkdir()
    with pytest.raises(UsageError, match="an empty directory"):
        load(tmp_path / "e")
