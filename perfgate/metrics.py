"""Custom metrics a command reports: PERFGATE_METRIC lines, the JSON file, a regex, file sizes."""
from __future__ import annotations

import glob
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Measured by the harness itself; every other name must be reported by the command.
# `instructions` costs a second, counted pass of every run (see counters.py).
BUILTIN_METRICS: dict[str, str] = {"wall_time": "s", "cpu_time": "s", "peak_rss": "MiB",
                                   "instructions": "instructions"}


# Units a contract may spell a built-in metric's unit with; it is stored as the first one.
# peak_rss has always been mebibytes (RSS / 1024 / 1024): "MB" is read as that.
BUILTIN_UNITS: dict[str, tuple[str, ...]] = {
    "wall_time": ("s", "sec", "seconds"), "cpu_time": ("s", "sec", "seconds"),
    "peak_rss": ("MiB", "MB"), "instructions": ("instructions",)}


@dataclass(frozen=True)
class Builtin:
    """A request for a harness-measured metric without a contract (`perfgate measure`): the
    harness needs only the name, and importing the contract's models costs ~160 ms."""

    name: str


LINE = re.compile(r"^PERFGATE_METRIC\s+([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(\S+)", re.MULTILINE)


class Problems(list):
    """One-line problems of a run, and which metrics they are about."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: set[str] = set()

    def about(self, name: str, text: str) -> None:
        self.metrics.add(name)
        self.append(f"metric {name}: {text}")


def _number(name: str, raw: object, errors: Problems) -> float | None:
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        errors.about(name, f"{str(raw)[:40]!r} is not a number")
        return None
    if not math.isfinite(value) or isinstance(raw, bool):
        errors.about(name, f"{str(raw)[:40]!r} is not a finite number")
        return None
    return value


def reported(stdout: str, metrics_file: Path, errors: Problems) -> dict[str, float]:
    """Every metric the command printed or wrote: the JSON file wins over stdout lines."""
    found: dict[str, float] = {}
    for name, raw in LINE.findall(stdout):   # the last line for a name wins
        value = _number(name, raw, errors)
        if value is not None:
            found[name] = value
    if metrics_file.exists():
        try:
            data = json.loads(metrics_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            errors.append(f"$PERFGATE_METRICS_FILE is not valid JSON ({exc.__class__.__name__})")
            data = {}
        if not isinstance(data, dict):
            errors.append("$PERFGATE_METRICS_FILE must hold a JSON object of name: number")
            data = {}
        for name, raw in data.items():
            value = _number(str(name), raw, errors)
            if value is not None:
                found[str(name)] = value
    return found


def file_size(pattern: str, cwd: Path) -> int | None:
    """Total bytes of the files matching a glob (** allowed) under cwd; None if nothing matches."""
    paths = [Path(p) for p in glob.glob(str(cwd / pattern), recursive=True)]
    files = [p for p in paths if p.is_file()]
    return sum(p.stat().st_size for p in files) if files else None


def extract(specs: Sequence, stdout: str, metrics_file: Path,
            cwd: Path) -> tuple[dict[str, float], list[str], list[str]]:
    """(values found, names of requested metrics missing, problems) for one run."""
    errors = Problems()
    found = reported(stdout, metrics_file, errors)
    missing: list[str] = []
    for spec in specs:
        if spec.name in BUILTIN_METRICS:
            continue
        if spec.regex is not None:
            m = re.search(spec.regex, stdout)
            value = _number(spec.name, m.group(1), errors) if m else None
            if value is not None:
                found[spec.name] = value
        elif spec.file_size is not None:
            size = file_size(spec.file_size, cwd)
            if size is not None:
                found[spec.name] = float(size)
        if spec.name not in found and spec.name not in errors.metrics:
            missing.append(spec.name)
    return found, missing, errors
