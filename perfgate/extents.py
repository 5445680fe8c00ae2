"""Where a function starts and ends in the project's source, per language: Python's ast,
JavaScript and TypeScript through a real parser (the vendored @babel/parser, run by node),
and the brace languages (Rust, Go, C, C++, Java, C#, Dart, ...) by a scanner that skips
strings and comments. A profile names one line; the fixer needs the whole function.
"""
from __future__ import annotations

import ast
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

PY = (".py", ".pyw")
JS = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".mts", ".cts")
BRACES = (".rs", ".go", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx", ".java",
          ".cs", ".dart", ".kt", ".swift", ".zig", ".scala")
JS_HELPER = Path(__file__).parent / "js" / "extents.js"


@dataclass(frozen=True)
class Function:
    name: str
    start: int     # first line (decorators and attributes included where the parser knows)
    end: int
    receiver: str = ""   # Go's method receiver type, a Rust impl's type: for symbol matching


_CACHE: dict[tuple[Path, int, int], list[Function]] = {}
_NOTES: list[str] = []      # why a parser was not used (node missing), said once


def functions(path: Path) -> list[Function]:
    """Every function in the file with its extent, cached while the file is unchanged."""
    try:
        st = path.stat()
    except OSError:
        return []
    key = (path, st.st_mtime_ns, st.st_size)
    if key not in _CACHE:
        _CACHE[key] = _parse(path)
    return _CACHE[key]


def notes() -> list[str]:
    return list(dict.fromkeys(_NOTES))


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _parse(path: Path) -> list[Function]:
    suffix = path.suffix.lower()
    if suffix in PY:
        return _python(path)
    if suffix in JS:
        found = _javascript(path)
        if found is not None:
            return found
    if suffix in JS or suffix in BRACES:
        text = _text(path)
        return _braces(text, suffix) if text is not None else []
    return []


def enclosing(path: Path, line: int, name: str | None = None) -> Function | None:
    """The innermost function whose extent holds `line` (of several starting there, the one
    called `name`)."""
    inside = [f for f in functions(path) if f.start <= line <= f.end]
    if not inside:
        return None
    best_start = max(f.start for f in inside)
    innermost = [f for f in inside if f.start == best_start]
    named = [f for f in innermost if f.name == name]
    return (named or sorted(innermost, key=lambda f: f.end - f.start))[0]


def extent(path: Path, name: str, line: int) -> tuple[int, int]:
    """The extent of the function `name` nearest to `line`, or (line, line) if unknown."""
    same = [f for f in functions(path) if f.name == name]
    if not same:
        return line, line
    best = min(same, key=lambda f: (not (f.start <= line <= f.end), abs(f.start - line)))
    return best.start, best.end


# -- Python ---------------------------------------------------------------------------------

def _python(path: Path) -> list[Function]:
    text = _text(path)
    try:
        tree = ast.parse(text or "")
    except (SyntaxError, ValueError):
        return []
    out = []
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([n.lineno] + [d.lineno for d in n.decorator_list])
            out.append(Function(n.name, start, n.end_lineno or n.lineno))
    return out


# -- JavaScript and TypeScript ----------------------------------------------------------------

def _javascript(path: Path) -> list[Function] | None:
    """The vendored @babel/parser through node; None when node is missing or fails (then the
    brace scanner gives a coarser answer)."""
    from perfgate import harness

    node = shutil.which("node")
    if node is None:
        _NOTES.append("node is not installed: JavaScript/TypeScript function extents come from "
                      "a brace scanner, not a parser")
        return None
    res = harness.call([node, str(JS_HELPER), str(path)], cwd=path.parent, timeout_s=60)
    try:
        found = json.loads(res.stdout.decode()).get(str(path))
    except (ValueError, AttributeError):
        found = None
    if res.returncode != 0 or not isinstance(found, list):
        why = found.get("error") if isinstance(found, dict) else harness.explain(
            res.stderr.decode(errors="replace"))
        _NOTES.append(f"{path.name}: the JavaScript parser failed ({why}); brace scanner used")
        return None
    return [Function(str(f["name"]), int(f["start"]), int(f["end"])) for f in found]


# -- brace languages --------------------------------------------------------------------------

_DEFS = {
    ".rs": re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:default\s+)?(?:const\s+)?(?:async\s+)?"
                      r"(?:unsafe\s+)?(?:extern\s+\"[^\"]*\"\s+)?fn\s+(?P<name>\w+)"),
    ".go": re.compile(r"^func\s+(?:\(\s*(?:\w+\s+)?\*?\s*(?P<recv>\w+)(?:\[[^\]]*\])?\s*\)\s*)?"
                      r"(?P<name>\w+)\s*[\[(]"),
    ".js": re.compile(r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*"
                      r"(?P<name>[\w$]+)\s*\(|^\s*(?:export\s+)?(?:const|let|var)\s+(?P<var>[\w$]+)"
                      r"\s*=\s*(?:async\s+)?(?:function\b|\([^)]*\)\s*=>|[\w$]+\s*=>)"),
    # C and C++: a definition starts at column 0 (a call continued on the next line would
    # look the same when indented); `Class::method` keeps its class as the receiver.
    "c": re.compile(r"^(?!(?:if|for|while|switch|return|else|do|case|sizeof|catch|typedef)\b)"
                    r"(?:[A-Za-z_][\w\*&:<>,~]*[\s\*&]+)*(?P<name>~?[A-Za-z_][\w:~]*)\s*\([^;]*$"),
}
_IMPL = re.compile(r"^\s*impl\b(?:\s*<[^>]*>)?\s+(?:[\w:<>, ]+\s+for\s+)?(?P<type>\w+)")


def _braces(text: str, suffix: str) -> list[Function]:
    """Function definitions found by pattern, each extended to its matching close brace."""
    pattern = _DEFS.get(suffix) or (_DEFS[".js"] if suffix in JS else _DEFS["c"])
    lines = text.splitlines()
    ends = _block_ends(text)
    out: list[Function] = []
    impls: list[tuple[int, int, str]] = []
    if suffix == ".rs":
        for i, line in enumerate(lines, 1):
            m = _IMPL.match(line)
            if m:
                end = _end_from(ends, lines, i)
                if end:
                    impls.append((i, end, m["type"]))
    for i, line in enumerate(lines, 1):
        m = pattern.match(line)
        if not m:
            continue
        name = m.groupdict().get("name") or m.groupdict().get("var")
        end = _end_from(ends, lines, i)
        if not name or end is None:
            continue
        recv = m.groupdict().get("recv")
        if "::" in name:
            recv, _, name = name.rpartition("::")
        start = i
        while start > 1 and re.match(r"^\s*(#\[|@|///|//!)", lines[start - 2]):
            start -= 1   # attributes, annotations and doc comments belong to the function
        recv = recv or next((t for s, e, t in reversed(impls) if s < i <= e), "")
        out.append(Function(name, start, end, recv or ""))
    return out


def _end_from(ends: dict[int, int], lines: list[str], line: int) -> int | None:
    """The line closing the first block opened on `line` or within the next few lines (a
    signature may wrap); None for a declaration without a body."""
    for candidate in range(line, min(line + 12, len(lines)) + 1):
        if candidate in ends:
            return ends[candidate]
        if candidate > line and lines[candidate - 1].rstrip().endswith(";"):
            return None
        if candidate == line and lines[line - 1].rstrip().endswith(";"):
            return None
    return None


def _block_ends(text: str) -> dict[int, int]:
    """{line of an opening brace: line of its match}, for the first brace opened on a line;
    strings, characters and comments are skipped."""
    ends: dict[int, int] = {}
    stack: list[tuple[int, bool]] = []    # (line it opened on, the first opened on that line)
    last_open = 0
    line, i, n = 1, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        elif ch == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif ch == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += text.count("\n", i, j)
            i = j
            continue
        elif ch in "\"`":
            j = _string_end(text, i, ch)
            line += text.count("\n", i, j)
            i = j
            continue
        elif ch == "'":
            # a char literal ('a', '\n', '\u{1F600}'); otherwise a Rust lifetime or label
            if text.startswith("\\", i + 1):
                j = text.find("'", i + 2)
                i = i + 1 if j < 0 or j - i > 12 else j + 1
                continue
            if i + 2 < n and text[i + 2] == "'":
                i += 3
                continue
        elif ch == "{":
            stack.append((line, last_open != line))
            last_open = line
        elif ch == "}" and stack:
            opened, first = stack.pop()
            if first:
                ends[opened] = line
        i += 1
    return ends


def _string_end(text: str, i: int, quote: str) -> int:
    """The index after the string starting at i (escapes honoured; a raw Go string has none)."""
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and quote != "`":
            j += 2
            continue
        if c == quote:
            return j + 1
        j += 1
    return len(text)
