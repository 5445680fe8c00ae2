"""Stage artifacts: Markdown with YAML front matter (`epoch:`, `result:`), written atomically."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from perfgate.errors import PerfgateError, UsageError


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
