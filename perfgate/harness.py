"""The only module that spawns processes: timed repro runs and plain calls (git, verify)."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence


@dataclass(frozen=True)
class Called:
    returncode: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False


def call(argv: Sequence[str], *, cwd: str | Path, env: Optional[Mapping[str, str]] = None,
         timeout_s: Optional[float] = None, input: Optional[bytes] = None) -> Called:
    """Run argv (never through a shell) and capture its output."""
    try:
        p = subprocess.run(list(argv), cwd=cwd, env=dict(env) if env is not None else None,
                           input=input, capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        return Called(-9, exc.stdout or b"", exc.stderr or b"", timed_out=True)
    return Called(p.returncode, p.stdout, p.stderr)
