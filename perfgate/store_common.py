"""What the store's modules share: the vocabulary of the tables, the query files, the migrations.
(store.py opens and writes the store; store_records.py its calibrations, bisections, pushes
and bulk imports. All of perfgate's SQL is in these modules, queries/ and migrations/.)"""
from __future__ import annotations

import datetime as dt
import hashlib
import importlib.resources
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

STORAGE_VERSION = "v1.0.0"
ROLES = ("preflight", "baseline", "candidate", "measure", "calibration", "bisect")
STATUSES = ("running", "complete", "aborted", "failed")
# Samples of these sessions are never handed out unless asked for explicitly.
UNUSABLE = ("running", "aborted")
DECISION_COLUMNS = frozenset(
    "contract comparison_id base_session candidate_session verdict metric baseline_median "
    "candidate_median change_pct p_value ci_low ci_high test alpha n_baseline n_candidate "
    "reasons document looks runs_per_side".split())
PUSHED_TABLES = ("sessions", "comparisons", "decisions", "calibrations", "hotspots")
_LOCK = re.compile(r"Could not set lock|Conflicting lock", re.IGNORECASE)


@dataclass(frozen=True)
class NewSession:
    """A finished session for add_sessions(): runs are (idx, warmup, exit_code, {metric: value})."""

    contract: str
    role: str
    commit_sha: str | None
    fingerprint: dict
    started: dt.datetime
    runs: Sequence[tuple[int, bool, int, Mapping[str, float]]]
    status: str = "complete"
    finished: dt.datetime | None = None
    tree_sha: str | None = None
    contract_digest: str | None = None


def machine_of(fingerprint: Mapping[str, Any]) -> str:
    """`<host or $PERFGATE_MACHINE>/<8 hex of the CPU model and cores>`: history groups by it.
    The label names a class of CI runners whose host names change; the hash still keeps
    different hardware apart. Migration 0008 computes the same string in SQL."""
    label = os.environ.get("PERFGATE_MACHINE") or fingerprint.get("host") or "?"
    hw = f"{fingerprint.get('cpu_model') or ''}|{fingerprint.get('cores') or ''}"
    return f"{label}/{hashlib.md5(hw.encode()).hexdigest()[:8]}"


def _no_pandas_lookups() -> None:
    """DuckDB's Python binding tries `import pandas` for every parameter it converts; without
    pandas installed each try searches sys.path again (seconds per 10,000 rows). Recording
    the absence once makes those imports fail at once, exactly as they would anyway."""
    import importlib.util
    import sys

    if "pandas" not in sys.modules and importlib.util.find_spec("pandas") is None:
        sys.modules["pandas"] = None  # type: ignore[assignment]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def named_query(name: str) -> str:
    """A read-only query kept as perfgate/queries/NAME.sql (SQL stays SQL, not Python strings)."""
    return importlib.resources.files("perfgate.queries").joinpath(f"{name}.sql").read_text()


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migrations/NNNN_name.sql, in order."""
    out = []
    for f in importlib.resources.files("perfgate.migrations").iterdir():
        m = re.match(r"^(\d{4})_(\w+)\.sql$", f.name)
        if m:
            out.append((int(m.group(1)), m.group(2), f.read_text()))
    return sorted(out)
