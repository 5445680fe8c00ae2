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
    r = subprocess.run(["py-spy", "record", "--format", "raw", "-r", "500", "-o", "out.folded",
                        "--", sys.executable, "slow.py"], cwd=tmp_path, capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"py-spy cannot trace here: {r.stderr.decode()[-200:]}")
    spots = rank(load(tmp_path / "out.folded"), tmp_path, min_share=0.0)
    assert spots[0].function == "gap_counts"


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
