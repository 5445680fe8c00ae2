"""state.yaml: where one contract's loop stands, as a typed record (status, epoch, commits).

An artifact whose epoch is not the state's current epoch drives nothing: every transition
that must not be replayed (a decision, a new scoping) bumps the epoch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from perfgate.artifacts import Artifact, write_atomic
from perfgate.errors import UsageError

STATE_VERSION = 2


class Status(StrEnum):
    """The last thing that happened to the contract (what `perfgate status` shows)."""

    SCOPING = "scoping"
    APPROVED = "approved"
    BASELINE = "baseline"          # measuring the baseline right now (or interrupted in it)
    BASELINED = "baselined"
    PROFILING = "profiling"
    PROPOSING = "proposing"
    FIXING = "fixing"
    MEASURING = "measuring"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    INCONCLUSIVE = "inconclusive"
    COMPLETE = "complete"


@dataclass(frozen=True)
class Approval:
    """The user's yes to one scoping: valid only for that epoch and that exact contract."""

    epoch: int
    contract_digest: str
    approved_at: str


@dataclass
class Attempt:
    """One hotspot or candidate the loop tried, and what became of it."""

    verdict: str                    # accepted | rejected | inconclusive | no change | failed
    hotspot: str | None = None
    label: str | None = None
    iteration: int | None = None
    change_pct: float | None = None
    p_value: float | None = None
    reason: str | None = None
    commit: str | None = None       # accepted: the commit on perfgate/<name>
    patch: str | None = None        # otherwise: where the diff was archived
    ref: str | None = None

    @property
    def name(self) -> str:
        return self.hotspot or self.label or "candidate"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class State:
    contract: str
    status: Status = Status.SCOPING
    epoch: int = 0
    base_commit: str | None = None
    accepted_commit: str | None = None     # the last accepted commit on perfgate/<name>
    scoping_epoch: int | None = None       # the epoch scoping.md was written in
    approval: Approval | None = None
    baseline_session: int | None = None
    hotspot: str | None = None             # the hotspot a fixer is working on (resumable)
    iteration: int = 0
    tried: list[Attempt] = field(default_factory=list)

    @property
    def head(self) -> str | None:
        """The code every new candidate is measured against: the last accepted, else the base."""
        return self.accepted_commit or self.base_commit

    @property
    def accepts(self) -> int:
        return sum(t.verdict == "accepted" for t in self.tried)

    def tried_hotspots(self) -> set[str]:
        return {t.hotspot for t in self.tried if t.hotspot}

    def current(self, art: Artifact | None) -> Artifact | None:
        """The artifact if it belongs to this epoch, else None: stale artifacts drive nothing."""
        return art if art is not None and art.epoch == self.epoch else None

    def to_dict(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "contract": self.contract,
                "status": self.status.value, "epoch": self.epoch,
                "base_commit": self.base_commit, "accepted_commit": self.accepted_commit,
                "scoping_epoch": self.scoping_epoch,
                "approval": asdict(self.approval) if self.approval else None,
                "baseline_session": self.baseline_session, "hotspot": self.hotspot,
                "iteration": self.iteration, "tried": [t.to_dict() for t in self.tried]}


def read(path: Path, contract: str) -> State:
    """The state at path; a fresh one if the contract was never scoped."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return State(contract=contract)
    except yaml.YAMLError:
        raise UsageError(f"{path}: not valid YAML; delete it to start this contract over") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: must be a mapping; delete it to start this contract over")
    version = data.pop("version", None)
    if version == 1:
        data = _from_v1(data)
    elif version != STATE_VERSION:
        raise UsageError(f"{path}: state version {version!r} is not {STATE_VERSION};"
                         " delete it to start this contract over")
    try:
        return _build(data, contract)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{path}: {exc}; delete it to start this contract over") from None


def _build(data: dict[str, Any], contract: str) -> State:
    known = {f.name for f in fields(State)} - {"contract"}
    unknown = sorted(set(data) - known - {"contract"})
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}")
    values = {k: v for k, v in data.items() if k in known}
    values["status"] = Status(values.get("status", Status.SCOPING))
    if values.get("approval"):
        values["approval"] = Approval(**values["approval"])
    attempt_keys = {f.name for f in fields(Attempt)}
    values["tried"] = [Attempt(**{k: v for k, v in t.items() if k in attempt_keys})
                       for t in values.get("tried") or []]
    return State(contract=contract, **values)


def _from_v1(data: dict[str, Any]) -> dict[str, Any]:
    """perfgate 0.1 kept everything but five keys in a free-form bag; name them."""
    out = {k: data.get(k) for k in ("status", "epoch", "base_commit", "iteration", "tried")
           if k in data}
    for key in ("accepted_commit", "scoping_epoch", "baseline_session", "hotspot"):
        if data.get(key) is not None:
            out[key] = data[key]
    return out


def write(path: Path, state: State) -> None:
    write_atomic(path, yaml.safe_dump(state.to_dict(), sort_keys=False, allow_unicode=True))
