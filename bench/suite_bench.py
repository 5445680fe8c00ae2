"""Suites: the error rates of a suite gate over 40 benchmarks, its cost against one gate per
benchmark, and the adapters' parsing speed.

Run: python bench/suite_bench.py [errors|cost|parse|all] [REPETITIONS] [adaptive|fixed] [N]
     (default: all, 20 repetitions, fixed N, the suite's default N)

errors  A real Google Benchmark suite of 40 benchmarks (one binary, built with g++ against
        Debian's libbenchmark-dev) in a scratch git repository; the head commit makes 3 of them
        truly 1.3x faster (1/1.3 of the loop) and leaves 37 unchanged.
        REPETITIONS real `perfgate compare` gates (correction holm, the default N of a suite:
        10 invocations per side, interleaved ABBA, no warmup, fixed N). From the same stored
        samples each gate is decided again with `bh`, with `none`, and with holm over the
        paired signed-rank test (significance.test: wilcoxon), side by side.
        `adaptive` runs the same gates with the interactive default instead: rounds of 10
        more invocations while the suite is undecided, up to 30 per side. N sets
        measurement_runs in the contract instead of leaving the suite's default.
        A false flag: any of the 37 unchanged benchmarks called changed (significant after the
        correction, either way). Detected: all 3 true changes called improved.
cost    The same suite, one gate over all 40 against the naive loop a team without suites would
        write: one contract and one gate per benchmark (`--benchmark_filter`), same N (3 a side,
        enough for a cost figure), wall time of the whole job.
parse   A results file of 1,000 benchmarks in each format (written here in the harness's own
        layout, 20 data points each): the time the adapter takes to parse it (median of 5).
"""
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from _common import git, machine, perfgate  # noqa: E402

K, FAST, FACTOR = 40, (4, 17, 29), 1.3

# A Google Benchmark binary: the cheapest real harness to invoke 20 times per gate on a
# shared machine (no interpreter start-up), built once per worktree into an ignored build/.
# The work sizes come from sizes.txt, so base and head run the very same code: a changed
# binary would move the unchanged benchmarks too (code layout), and they must stay unchanged.
SOURCE = """\
#include <benchmark/benchmark.h>
#include <fstream>
#include <string>
static void work(benchmark::State& st, long n) {
  for (auto _ : st) {
    long s = 0;
    for (long i = 0; i < n; ++i) { s += i % 7; benchmark::DoNotOptimize(s); }
  }
}
int main(int argc, char** argv) {
  std::ifstream in("sizes.txt");
  std::string name;
  long n;
  while (in >> name >> n) benchmark::RegisterBenchmark(name.c_str(), work, n);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
"""


def sizes(fast: bool) -> str:
    out = ""
    for i in range(K):
        n = 2000 + 100 * i
        if fast and i in FAST:
            n = round(n / FACTOR)
        out += f"b{i:02d} {n}\n"
    return out


# Built once per commit, outside the trees, for every contract alike (the naive loop's 40
# contracts too): the comparison is of measuring, not of compiling.
BUILD = Path(tempfile.gettempdir()) / "perfgate-suite-bench-build"
COMMAND = ("B={build}/$(git rev-parse HEAD) && mkdir -p $B && {{ [ -x $B/b ] || {{ g++ -O2 "
           "b.cc -o $B/b.tmp -lbenchmark -lpthread && mv $B/b.tmp $B/b; }}; }} && $B/b {filter}"
           "--benchmark_out={{output}} --benchmark_out_format=json --benchmark_repetitions=3 "
           "--benchmark_min_time=0.002 > /dev/null")

CONTRACT = """\
name: {name}
domain: custom
description: a 40-benchmark Google Benchmark suite
repro: {{warmup_runs: 0, measurement_runs: {n}, timeout_s: 600}}
suite:
  format: google-benchmark
  command: "{command}"
  correction: holm
  primary: geomean
# CPU time per iteration (Google Benchmark's cpu_time): on this shared machine, at a load of
# 10 on 2 cores, real time measures how long the benchmark waited for a core.
metrics:
  primary: {{name: cpu, unit: s}}
threshold: {{pct_min: 1}}
significance: {{adaptive: false}}
"""


def scratch(root: Path, n: int | None = None) -> tuple[Path, str, str]:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text(".perfgate/\n")
    (root / "b.cc").write_text(SOURCE)
    (root / "sizes.txt").write_text(sizes(False))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "A")
    a = git(root, "rev-parse", "HEAD")
    (root / "sizes.txt").write_text(sizes(True))
    git(root, "commit", "-qam", "B: three benchmarks 1.3x faster")
    b = git(root, "rev-parse", "HEAD")
    (root / "contracts").mkdir(exist_ok=True)
    # The default N of a suite (contract.SUITE_RUNS): measurement_runs left out, unless n.
    text = CONTRACT.format(name="suite", n=n or 10, command=COMMAND.format(filter="",
                                                                          build=BUILD))
    (root / "contracts" / "suite.yaml").write_text(
        text if n else text.replace("measurement_runs: 10, ", ""))
    return root, a, b


PAIRED = "holm, wilcoxon"   # Holm over the signed-rank test on invocations paired by round


def redecide(root: Path, doc: dict, correction: str) -> dict:
    """The same stored samples, decided with another correction (or, for PAIRED, Holm over
    significance.test: wilcoxon)."""
    from perfgate import suite_gate
    from perfgate.workspace import Project

    ws = Project(root).workspace("suite")
    update = {"suite": ws.contract.suite.model_copy(
        update={"correction": "holm" if correction == PAIRED else correction})}
    if correction == PAIRED:
        update["significance"] = ws.contract.significance.model_copy(update={"test": "wilcoxon"})
    c = ws.contract.model_copy(update=update)
    c._source = ws.contract.source
    b, cnd = suite_gate.stored_samples(ws.project.store(), [doc["base"]["session"],
                                                            doc["candidate"]["session"]], c)
    v = suite_gate.decide(b, cnd, c)
    return {x.name: x.status for x in v.benchmarks}


def errors(reps: int, adaptive: bool = False, n: int | None = None) -> None:
    fast = {f"b{i:02d}" for i in FAST}
    started = time.monotonic()
    tally = {m: {"false": 0, "found": 0, "per": {f: 0 for f in sorted(fast)}}
             for m in ("holm", "bh", "none", PAIRED)}
    with tempfile.TemporaryDirectory() as tmp:
        root, a, b = scratch(Path(tmp) / "s", n)
        if adaptive:   # the interactive default: rounds of 10 while undecided, up to 30
            path = root / "contracts" / "suite.yaml"
            path.write_text(path.read_text().replace("adaptive: false", "adaptive: true"))
        load, per_side = [], []
        for rep in range(reps):
            import os

            load.append(os.getloadavg()[0])
            r = perfgate("compare", "suite", "--base", a, "--head", b, "--yes", "--json",
                         cwd=root, check=False)
            if not r.stdout:
                raise SystemExit(f"gate {rep + 1} failed: {r.stderr.strip()[-400:]}")
            doc = json.loads(r.stdout)
            per_side.append(doc["sequential"]["runs_per_side"])
            if not doc["benchmarks"]:
                raise SystemExit(f"gate {rep + 1} measured nothing: {doc['reasons'][:1]}")
            shown = {}
            for method in tally:
                status = ({x["name"]: x["status"] for x in doc["benchmarks"]} if method == "holm"
                          else redecide(root, doc, method))
                flagged = {n for n, s in status.items() if s in ("improved", "slower",
                                                                   "regressed")}
                shown[method] = sorted(flagged)
                t = tally[method]
                t["false"] += bool(flagged - fast)
                t["found"] += all(status[f] == "improved" for f in fast)
                for f in fast:
                    t["per"][f] += status[f] == "improved"
            print(f"  gate {rep + 1}/{reps}: {doc['verdict']}; changed with holm "
                  f"{shown['holm']}, with none {shown['none']}", file=sys.stderr)
    took = time.monotonic() - started
    print(f"machine: {machine()} (mean load {statistics.fmean(load):.2f} during the run); "
          f"{K} benchmarks (Google Benchmark), {len(FAST)} truly {FACTOR}x faster; "
          + ("adaptive: 10 invocations per side, then rounds of 10 up to 30 while undecided "
             f"(mean {statistics.fmean(per_side):.1f} per side)" if adaptive else
             f"N = {n or 'the default'} invocations per side (fixed)")
          + f", interleaved; {reps} gates in {took:.0f} s\n")
    print("| correction | family-wise false flags | all 3 true changes found | each true change |")
    print("|---|---|---|---|")
    for method, t in tally.items():
        each = ", ".join(f"{v}/{reps}" for v in t["per"].values())
        print(f"| {method} | {t['false']}/{reps} = {100 * t['false'] / reps:.0f}% | "
              f"{t['found']}/{reps} = {100 * t['found'] / reps:.0f}% | {each} |")


def cost() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root, a, b = scratch(Path(tmp) / "s")
        (root / "contracts" / "suite.yaml").write_text(CONTRACT.format(
            name="suite", n=3, command=COMMAND.format(filter="", build=BUILD)))
        for i in range(K):
            (root / "contracts" / f"b{i:02d}.yaml").write_text(CONTRACT.format(
                name=f"b{i:02d}", n=3, command=COMMAND.format(
                    build=BUILD, filter=f"--benchmark_filter=^b{i:02d}$ ")))
        load0 = machine()
        t0 = time.monotonic()
        r = perfgate("compare", "suite", "--base", a, "--head", b, "--yes", "--json", cwd=root,
                     check=False)
        suite_s = time.monotonic() - t0
        assert r.stdout, r.stderr
        t0 = time.monotonic()
        for i in range(K):
            r = perfgate("compare", f"b{i:02d}", "--base", a, "--head", b, "--yes", "--json",
                         cwd=root, check=False)
            assert r.stdout, r.stderr
        naive_s = time.monotonic() - t0
    print(f"machine: {load0}; {K} benchmarks (Google Benchmark), N = 3 invocations per side, "
          "no warmup, one after the other in one run\n")
    print("| job | wall time | ratio |")
    print("|---|---|---|")
    print(f"| one suite gate over all {K} | {suite_s:.1f} s | 1 |")
    print(f"| naive loop: {K} gates, one per benchmark | {naive_s:.1f} s | "
          f"{naive_s / suite_s:.1f}x |")


def files(k: int = 1000, n: int = 20) -> dict[str, str]:
    """A results file of k benchmarks in each harness's own layout."""
    pts = [1e-4 * (1 + j / 100) for j in range(n)]
    return {
        "pytest-benchmark": json.dumps({"benchmarks": [
            {"name": f"test_{i}", "fullname": f"t.py::test_{i}",
             "stats": {"median": pts[n // 2], "data": pts}} for i in range(k)]}),
        "hyperfine": json.dumps({"results": [
            {"command": f"cmd {i}", "median": pts[n // 2], "times": pts, "user": 0.1,
             "system": 0.01} for i in range(k)]}),
        "google-benchmark": json.dumps({"benchmarks": [
            {"name": f"BM_{i}/{r}", "run_name": f"BM_{i}", "run_type": "iteration",
             "real_time": p * 1e9, "cpu_time": p * 1e9, "time_unit": "ns"}
            for i in range(k) for r, p in enumerate(pts)]}),
        "go-test": "pkg: x\n" + "".join(f"BenchmarkB{i}-2 \t 1000 \t {p * 1e9:.1f} ns/op \t "
                                        "16 B/op \t 1 allocs/op\n"
                                        for i in range(k) for p in pts),
        "mitata": json.dumps({"benchmarks": [
            {"alias": f"b{i}", "runs": [{"name": f"b{i}", "stats": {
                "samples": [p * 1e9 for p in pts], "p50": pts[n // 2] * 1e9}}]}
            for i in range(k)]}),
        "asv": json.dumps({"version": 2, "result_columns": ["result", "params", "samples"],
                           "results": {f"b.time_{i}": [[pts[n // 2]], [], [pts]]
                                       for i in range(k)}}),
    }


def parse() -> None:
    from perfgate import suites

    print(f"machine: {machine()}; 1,000 benchmarks per file, 20 data points each; "
          "median of 5 parses; CPU time is the parse's own cost, wall time what it took on "
          "this machine as loaded\n")
    print("| format | file size | parse, CPU time | parse, wall time | target |")
    print("|---|---|---|---|---|")
    for fmt, text in files().items():
        cpu, wall = [], []
        for _ in range(5):
            c0, t0 = time.process_time(), time.perf_counter()
            out = suites.parse(fmt, text)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - t0)
        assert len(out) == 1000, (fmt, len(out))
        print(f"| {fmt} | {len(text) / 1e6:.2f} MB | {statistics.median(cpu) * 1000:.0f} ms | "
              f"{statistics.median(wall) * 1000:.0f} ms | < 200 ms |")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    if what in ("parse", "all"):
        parse()
        print()
    if what in ("errors", "all"):
        errors(reps, adaptive=len(sys.argv) > 3 and sys.argv[3] == "adaptive",
               n=int(sys.argv[4]) if len(sys.argv) > 4 else None)
        print()
    if what in ("cost", "all"):
        cost()
