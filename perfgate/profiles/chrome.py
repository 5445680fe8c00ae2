"""Chrome / V8 .cpuprofile (node --cpu-prof): a node tree plus sampled node ids."""
from __future__ import annotations

import json
from pathlib import Path

from perfgate.profiles import Frame, NoSamples, Profile, malformed


def parse(path: Path) -> Profile:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        nodes = {n["id"]: n for n in doc["nodes"]}
        parent = {c: n["id"] for n in doc["nodes"] for c in n.get("children", [])}

        def frame(n: dict) -> Frame:
            cf = n["callFrame"]
            url = str(cf.get("url", "")).removeprefix("file://")
            return Frame(url, int(cf.get("lineNumber", -1)) + 1, cf.get("functionName") or
                         "(anonymous)")

        def stack(node_id: int) -> tuple[Frame, ...]:
            out = []
            while node_id in nodes:
                name = nodes[node_id]["callFrame"].get("functionName")
                if name != "(root)":
                    out.append(frame(nodes[node_id]))
                node_id = parent.get(node_id, -1)
            return tuple(reversed(out))

        prof = Profile(source=str(path), unit="s")
        samples = doc.get("samples") or []
        deltas = doc.get("timeDeltas") or [0] * len(samples)
        if samples:
            # A sample lasts until the next one (deltas are in microseconds); the last one is
            # given the average gap.
            gaps = [max(d, 0) / 1e6 for d in deltas[1:]]
            weights = gaps + [sum(gaps) / len(gaps) if gaps else 0.0]
            if not any(weights):
                weights = [1.0] * len(samples)
                prof.unit = "samples"
            for node_id, w in zip(samples, weights, strict=True):
                if w:
                    prof.stacks.append((stack(node_id), w))
        else:
            prof.unit = "samples"
            for n in doc["nodes"]:
                if n.get("hitCount"):
                    prof.stacks.append((stack(n["id"]), float(n["hitCount"])))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError,
            AttributeError) as exc:
        raise malformed(path, f"invalid .cpuprofile ({exc.__class__.__name__}: {exc})") from None
    prof.stacks = [(s, w) for s, w in prof.stacks if s]
    if not prof.stacks:
        raise NoSamples(path)
    return prof
