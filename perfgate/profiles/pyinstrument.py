"""pyinstrument JSON (`pyinstrument -r json`): a tree of frames with inclusive times."""
from __future__ import annotations

import json
from pathlib import Path

from perfgate.profiles import Frame, NoSamples, Profile, malformed


def _frame(node: dict) -> Frame:
    if "identifier" in node and "function" not in node:
        # identifier is "function\x00file\x00line"
        func, _, rest = str(node["identifier"]).partition("\x00")
        file, _, line = rest.partition("\x00")
        return Frame(file, int(line or 0), func)
    return Frame(str(node.get("file_path", "")), int(node.get("line_no", 0) or 0),
                 str(node.get("function", "?")))


def parse(path: Path) -> Profile:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        root = doc["root_frame"]
        prof = Profile(source=str(path), unit="s")
        todo = [(root, ())]
        while todo:
            node, above = todo.pop()
            here = (*above, _frame(node))
            children = node.get("children") or []
            own = float(node["time"]) - sum(float(c["time"]) for c in children)
            if own > 0:
                prof.stacks.append((here, own))
            todo += [(c, here) for c in children]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError,
            AttributeError) as exc:
        raise malformed(path, f"invalid pyinstrument JSON ({exc.__class__.__name__}: {exc})") \
            from None
    if not prof.stacks:
        raise NoSamples(path)
    return prof
