"""Versioned formats perfgate writes: the verdict document's JSON Schema, and reading old ones."""
from __future__ import annotations

from typing import Any

from perfgate.errors import UsageError

VERDICT_VERSIONS = (1, 2)


def upgrade_verdict(doc: dict[str, Any], source: str = "verdict") -> dict[str, Any]:
    """A verdict document of any version this perfgate knows, as the current version.
    Version 1 predates suites: it reads as a document with no benchmarks."""
    version = doc.get("version") if isinstance(doc, dict) else None
    if version not in VERDICT_VERSIONS:
        raise UsageError(f"{source}: version: verdict document version {version!r} is not one "
                         f"this perfgate reads ({', '.join(map(str, VERDICT_VERSIONS))})")
    if version == 1:
        doc = {**doc, "version": 2, "benchmarks": [], "suite": None}
    return doc
