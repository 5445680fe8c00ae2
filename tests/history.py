"""Real git histories whose repro's speed steps at known commits (for bisect and detect).

Commit i holds size.txt = sizes[i]: work.py does that much sleep-free CPU work, so the speed
steps exactly where the sizes do. A commit in `broken` fails verify, one in `crash` crashes
the repro, one in `unbuildable` fails the contract's build step (when `build=True`); `noise`
makes each run do up to that fraction more work, at random.
"""
from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

from tests.conftest import PY, git

WORK = textwrap.dedent("""\
    import os, random, sys
    if os.path.exists("CRASH"):
        sys.exit("crashed on purpose")
    n = int(open("size.txt").read())
    noise = float(open("noise.txt").read()) if os.path.exists("noise.txt") else 0.0
    n = int(n * (1 + noise * random.random()))
    total = 0
    for i in range(n):
        total += i * i % 7
    print("ok")
""")
CHECK = "import os, sys\nsys.exit(1 if os.path.exists('BROKEN') else 0)\n"
BUILD = "import os, sys\nsys.exit('cannot build' if os.path.exists('NOBUILD') else 0)\n"


def contract(name: str = "h", *, runs: int = 5, max_runs: int = 15, warmup: int = 0,
             pct: float = 15, verify: bool = True, metric: str = "wall_time",
             build: bool = False, test: str = "mann_whitney", extra: str = "") -> str:
    return textwrap.dedent(f"""\
        version: 1
        name: {name}
        domain: cli_startup
        repro: {{script: {PY} work.py, warmup_runs: {warmup}, measurement_runs: {runs},
                 max_measurement_runs: {max_runs}, timeout_s: 60}}
        metrics:
          primary: {{name: {metric}, unit: s, lower_is_better: true}}
        threshold: {{type: pct, pct_min: {pct:g}}}
        significance: {{adaptive: true, test: {test}}}
        """) + (f"verify: {PY} check.py\n" if verify else "") + \
        (f"build: {PY} build.py\n" if build else "") + extra


def make(root: Path, sizes: Sequence[int], *, broken: Iterable[int] = (),
         crash: Iterable[int] = (), unbuildable: Iterable[int] = (), noise: float = 0.0,
         **contract_kw) -> list[str]:
    """The repository at root, one commit per size (oldest first); returns their shas."""
    broken, crash, unbuildable = set(broken), set(crash), set(unbuildable)
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    (root / "work.py").write_text(WORK)
    (root / "check.py").write_text(CHECK)
    (root / "build.py").write_text(BUILD)
    if noise:
        (root / "noise.txt").write_text(f"{noise}\n")
    shas = []
    for i, size in enumerate(sizes):
        (root / "size.txt").write_text(f"{size}\n")
        for name, which in (("BROKEN", broken), ("CRASH", crash), ("NOBUILD", unbuildable)):
            if i in which:
                (root / name).write_text("1\n")
            else:
                (root / name).unlink(missing_ok=True)
        git(root, "add", "-A")
        git(root, "commit", "-q", "--allow-empty", "-m", f"commit {i}: size {size}")
        shas.append(git(root, "rev-parse", "HEAD"))
    (root / "contracts").mkdir(exist_ok=True)
    (root / "contracts" / "h.yaml").write_text(contract(**contract_kw))
    return shas
