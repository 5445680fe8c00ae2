"""The issue's Node scenario, measured: marked 4.0.9 -> 4.0.10 (the regex denial-of-service fix)
with an ignored node_modules, then a comment-only commit; each gate a real `perfgate compare`
with `setup: npm ci`. Prints the verdicts and medians, and what set-up costs the first time
against the second gate of the same commits (cached per worktree).

Run: python bench/marked_bench.py [ROUNDS]   (needs node, npm and the npm registry)
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import PY, git, machine  # noqa: E402

BENCH_JS = """const { marked } = require('marked');

function render(n) {
  return marked.parse(`[x]:${' '.repeat(n)}x ${' '.repeat(n)} x`);
}

console.log(render(Number(process.argv[2]) || 350).length);
"""
CONTRACT = """version: 1
name: perf
domain: cli_startup
repro: {script: node bench.js 350, warmup_runs: 1, measurement_runs: 5, timeout_s: 120}
setup: npm ci
metrics:
  primary: {name: wall_time, unit: s, lower_is_better: true}
threshold: {type: pct, pct_min: 20}
"""


def npm(root: Path, env: dict, *args: str) -> None:
    subprocess.run(["npm", *args], cwd=root, env=env, check=True, capture_output=True)


def repo(tmp: Path, env: dict) -> tuple[Path, str, str, str]:
    root = tmp / "proj"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text("node_modules/\n")
    (root / "package.json").write_text('{"name": "b", "version": "1.0.0", "private": true}')
    (root / "bench.js").write_text(BENCH_JS)
    commits = []
    npm(root, env, "install", "--package-lock-only", "--save-exact", "marked@4.0.9")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "4.0.9")
    commits.append(git(root, "rev-parse", "HEAD"))
    npm(root, env, "install", "--package-lock-only", "--save-exact", "marked@4.0.10")
    git(root, "commit", "-qam", "4.0.10")
    commits.append(git(root, "rev-parse", "HEAD"))
    (root / "bench.js").write_text("// a comment\n" + BENCH_JS)
    git(root, "commit", "-qam", "comment")
    commits.append(git(root, "rev-parse", "HEAD"))
    npm(root, env, "ci")          # the user's own node_modules: 4.0.10
    (root / "contracts").mkdir()
    (root / "contracts" / "perf.yaml").write_text(CONTRACT)
    return root, *commits


def compare(root: Path, env: dict, base: str, head: str) -> tuple[dict, float]:
    t = time.monotonic()
    r = subprocess.run([PY, "-m", "perfgate", "compare", "perf", "--base", base, "--head", head,
                        "--yes", "--json", "--adaptive"], cwd=root, env=env,
                       capture_output=True, text=True)
    if r.returncode not in (0, 1, 4):
        sys.exit(f"compare failed: {r.stderr}")
    return json.loads(r.stdout), time.monotonic() - t


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "npm_config_cache": str(Path(tmp) / "npm-cache"),
               "npm_config_audit": "false", "npm_config_fund": "false"}
        root, v9, v10, comment = repo(Path(tmp), env)
        print(f"machine: {machine()}; N = 5 runs per side, adaptive up to 30; "
              f"{rounds} round(s) of the three gates")
        print("| gate | verdict | runs per side | base median s | head median s | change | "
              "gate time s |")
        print("|---|---|---|---|---|---|---|")
        for _ in range(rounds):
            for label, base, head in (("4.0.9 -> 4.0.10", v9, v10),
                                      ("4.0.9 -> 4.0.10 again (cached set-up)", v9, v10),
                                      ("4.0.10 -> comment only", v10, comment)):
                doc, took = compare(root, env, base, head)
                p = doc["primary"] or {}
                print(f"| {label} | {doc['verdict']} | {doc['sequential']['runs_per_side']} | "
                      f"{p.get('baseline_median', 0):.4f} | "
                      f"{p.get('candidate_median', 0):.4f} | {p.get('change_pct', 0):+.1f}% | "
                      f"{took:.1f} |")


if __name__ == "__main__":
    main()
