"""`perfgate status`: each contract's stage, epoch and latest sessions, as text."""
from __future__ import annotations

from perfgate import artifacts, report
from perfgate import state as state_mod
from perfgate.errors import PerfgateError
from perfgate.workspace import Project


def status_rows(project: Project) -> list[list[str]]:
    rows = []
    store = project.store() if project.store_path.exists() else None
    for path in project.contract_files():
        ws = project.workspace(str(path))
        try:
            name = ws.name
        except PerfgateError as exc:
            rows.append([path.stem, "invalid", "–", "–", "–", "–", str(exc).split(": ", 1)[-1],
                         "–"])
            continue
        state = state_mod.read(ws.state_path, name)
        scoping = artifacts.read_artifact(ws.artifact("scoping"))
        stage = state.status if state.status != "scoping" or scoping else "not scoped"
        if scoping is not None and scoping.meta.get("contract_digest") != ws.contract.digest():
            stage += " (contract edited: re-scope)"
        latest = "–"
        if store is not None:
            sessions = store.sessions_overview(name, limit=3)
            latest = ", ".join(f"#{s['id']} {s['role']} {s['status']}" for s in sessions) or "–"
        last = state.tried[-1] if state.tried else None
        verdict = "–" if last is None else f"{last.verdict} ({last.name})"
        calibrated = "–"
        if store is not None:
            cal = store.latest_calibration(name)
            if cal is not None:
                cv = "n/a" if cal["cv"] is None else f"{100 * cal['cv']:.1f}%"
                mde = "n/a" if cal["mde_pct"] is None else f"{report.num(cal['mde_pct'], 3)}%"
                calibrated = (f"false accepts {cal['false_accepts']}/{cal['gates']}, CV {cv}, "
                              f"MDE {mde}, "
                              f"N {cal['recommended_runs'] or '–'}")
        rows.append([name, stage, str(state.epoch), str(state.iteration), verdict,
                     (state.base_commit or "–")[:12], latest, calibrated])
    return rows


def status_text(project: Project) -> str:
    rows = status_rows(project)
    if not rows:
        return f"no contracts in {project.contracts_dir}; create one with `perfgate init`"
    return report.plain_table(("contract", "stage", "epoch", "iteration", "last verdict", "base",
                               "latest sessions", "calibration"), rows)
