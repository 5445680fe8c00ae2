"""Stage 4, proposing: rank the project's hotspots in the profile; `none` ends the loop."""
from __future__ import annotations

import json

from perfgate import approval, artifacts, report
from perfgate import state as state_mod
from perfgate.artifacts import Artifact
from perfgate.errors import UsageError
from perfgate.hotspots import HOTSPOTS_VERSION, rank
from perfgate.profiles import load
from perfgate.state import Status
from perfgate.workspace import Workspace


def run(ws: Workspace, *, progress=None) -> Artifact:
    state = approval.require(ws)
    prof_art = state.current(artifacts.read_artifact(ws.artifact("profiling")))
    if prof_art is None:
        raise UsageError(f"no current profile of {ws.name}: run the profiling stage first")
    profile = load(ws.root / prof_art.meta["profile"])
    spots = rank(profile, ws.work_tree, min_share=ws.contract.loop.min_share_pct / 100,
                 exclude=state.tried_hotspots())
    doc = {"version": HOTSPOTS_VERSION, "contract": ws.name, "profile": prof_art.meta["profile"],
           "unit": profile.unit, "total": profile.total,
           "hotspots": [h.to_dict() for h in spots]}
    artifacts.write_atomic(ws.dir / "hotspots.json", json.dumps(doc, indent=2) + "\n")
    ws.project.store().record_hotspots(ws.name, state.iteration + 1,
                                       [h.to_dict() for h in spots])
    rows = [[str(i), f"`{h.function}`", f"{h.file}:{h.line_start}-{h.line_end}",
             f"{h.self_share * 100:.1f}%", f"{h.inclusive_share * 100:.1f}%",
             "–" if h.calls is None else str(h.calls)] for i, h in enumerate(spots, 1)]
    body = [f"# Hotspots: {ws.name}", "",
            f"From `{prof_art.meta['profile']}`; library time is counted in its nearest "
            f"caller in the project. Already tried: {len(state.tried_hotspots())}.", ""]
    body += [report.markdown_table(("#", "function", "where", "self", "inclusive", "calls"),
                                   rows) if rows else
             f"No function of the project reaches {ws.contract.loop.min_share_pct:g}% of the "
             "profile: nothing left to propose."]
    state.status = Status.PROPOSING
    state_mod.write(ws.state_path, state)
    art = Artifact({"epoch": state.epoch, "result": "done" if spots else "none",
                    "contract": ws.name, "hotspots": len(spots)}, "\n".join(body) + "\n")
    artifacts.write_artifact(ws.artifact("hotspots"), art)
    return art
