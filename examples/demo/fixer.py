"""The demo's scripted fixer: applies the prepared fix for the hotspot it is handed, if any.

perfgate runs it as `python -m perfgate._demo.fixer {worktree} {hotspot_json}`; any program
that edits the work tree can stand in its place (a coding agent, a person, a script).
"""
import json
import subprocess
import sys
from pathlib import Path

FIXES = Path(__file__).parent / "fixes"


def main(argv: list[str]) -> int:
    worktree, hotspot = Path(argv[1]), json.loads(argv[2])
    patch = next(iter(sorted(FIXES.glob(f"*-{hotspot['function']}.patch"))), None)
    if patch is None:
        print(f"no prepared fix for {hotspot['function']}; leaving the code as it is")
        return 0
    subprocess.run(["git", "apply", str(patch)], cwd=worktree, check=True)
    print(f"applied {patch.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
