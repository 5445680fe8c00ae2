"""The module boundaries docs/design.md promises, read off the source's imports: a new
`import subprocess` or `import scipy` in the wrong module fails here, not in review."""
import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "perfgate"

# Which modules may import what (relative to perfgate/).
ALLOWED = {
    "subprocess": {"harness.py", "process.py"},
    "scipy": {"stats.py"},
    "duckdb": {"store.py", "store_common.py", "store_records.py", "lake.py",
               "lake_push.py"},
    "matplotlib": {"plot.py"},
}


def imports() -> dict[str, set[str]]:
    """top-level package imported -> the modules that import it, anywhere in the file."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if "_vendor" in path.parts:
            continue
        rel = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(rel)
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_only_its_own_modules_import(package):
    users = imports().get(package, set())
    assert users, f"nothing imports {package}: is this check still reading the right tree?"
    assert users <= ALLOWED[package], f"{package} imported outside its module: " \
                                      f"{sorted(users - ALLOWED[package])}"


def test_the_check_sees_a_stray_import(tmp_path, monkeypatch):
    stray = tmp_path / "perfgate"
    stray.mkdir()
    (stray / "gate.py").write_text("def f():\n    import scipy.stats\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", stray)
    assert imports() == {"scipy": {"gate.py"}}
