"""Stage artifacts: Markdown with YAML front matter, atomic writes, and state.yaml with its epoch."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from perfgate.errors import PerfgateError, UsageError

STATE_VERSION = 1


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write via a temp file in the same directory and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise PerfgateError(f"{path.parent}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise PerfgateError(f"{path}: cannot write ({exc.strerror})") from None


@dataclass
class Artifact:
    """A stage's Markdown artifact: `meta` is the front matter (always has epoch and result)."""

    meta: dict[str, Any]
    body: str

    @property
    def epoch(self) -> int:
        return int(self.meta.get("epoch", -1))

    @property
    def result(self) -> str:
        return str(self.meta.get("result", ""))

    def render(self) -> str:
        # safe_dump quotes anything hostile (newlines, colons, `---`), so the body can't leak in.
        head = yaml.safe_dump(self.meta, sort_keys=False, allow_unicode=True, width=1000)
        return f"---\n{head}---\n{self.body}"


def write_artifact(path: Path, art: Artifact) -> None:
    write_atomic(path, art.render())


def read_artifact(path: Path) -> Artifact | None:
    """The artifact at path, or None if it does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    if not text.startswith("---\n"):
        raise UsageError(f"{path}: no front matter (expected a first line '---')")
    end = text.find("\n---\n", 4)
    if end < 0:
        raise UsageError(f"{path}: front matter is not closed by a '---' line")
    try:
        meta = yaml.safe_load(text[4:end + 1]) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: front matter is not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(meta, dict):
        raise UsageError(f"{path}: front matter must be a mapping")
    return Artifact(meta, text[end + 5:])


@dataclass
class State:
    """state.yaml: where a contract's loop stands. An artifact of another epoch drives nothing."""

    contract: str
    status: str = "scoping"
    epoch: int = 0
    base_commit: str | None = None
    iteration: int = 0
    tried: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "contract": self.contract, "status": self.status,
                "epoch": self.epoch, "base_commit": self.base_commit,
                "iteration": self.iteration, "tried": self.tried, **self.extra}


def read_state(path: Path, contract: str) -> State:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return State(contract=contract)
    except yaml.YAMLError:
        raise UsageError(f"{path}: not valid YAML; delete it to start this contract over") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: must be a mapping; delete it to start this contract over")
    version = data.pop("version", None)
    if version != STATE_VERSION:
        raise UsageError(f"{path}: state version {version!r} is not {STATE_VERSION};"
                         " delete it to start this contract over")
    known = {k: data.pop(k) for k in ("status", "epoch", "base_commit", "iteration", "tried")
             if k in data}
    data.pop("contract", None)
    return State(contract=contract, **known, extra=data)


def write_state(path: Path, state: State) -> None:
    write_atomic(path, yaml.safe_dump(state.to_dict(), sort_keys=False, allow_unicode=True))


def current(art: Artifact | None, state: State) -> Artifact | None:
    """The artifact if it belongs to the state's epoch, else None: stale artifacts drive nothing."""
    if art is None or art.epoch != state.epoch:
        return None
    return art
