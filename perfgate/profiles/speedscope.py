"""speedscope JSON (https://www.speedscope.app/file-format-schema.json): sampled or evented."""
from __future__ import annotations

import json
from pathlib import Path

from perfgate.profiles import Frame, NoSamples, Profile, malformed


def parse(path: Path) -> Profile:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        frames = [Frame(str(f.get("file", "")), int(f.get("line", 0) or 0), str(f["name"]))
                  for f in doc["shared"]["frames"]]
        prof = Profile(source=str(path), unit="s")
        for p in doc["profiles"]:
            if p["type"] == "sampled":
                prof.unit = p.get("unit", "samples")
                for sample, weight in zip(p["samples"], p["weights"], strict=True):
                    prof.stacks.append((tuple(frames[i] for i in sample), float(weight)))
            elif p["type"] == "evented":
                prof.unit = p.get("unit", "s")
                open_stack: list[int] = []
                last = float(p["startValue"])
                for ev in p["events"]:
                    at = float(ev["at"])
                    if open_stack and at > last:
                        prof.stacks.append((tuple(frames[i] for i in open_stack), at - last))
                    last = at
                    if ev["type"] == "O":
                        open_stack.append(int(ev["frame"]))
                    elif open_stack:
                        open_stack.pop()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, IndexError, TypeError,
            ValueError, AttributeError) as exc:
        raise malformed(path, f"invalid speedscope JSON ({exc.__class__.__name__}: {exc})") \
            from None
    if not prof.stacks:
        raise NoSamples(path)
    return prof
