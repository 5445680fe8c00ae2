"""Secrets: read from the contract's file into the repro's environment, and nowhere else."""
from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

from perfgate.errors import UsageError


def load(path: str | None, root: Path, *, source: str = "contract") -> dict[str, str]:
    """KEY=VALUE lines (blank lines and # comments ignored; `export ` and quotes tolerated)."""
    if not path:
        return {}
    p = Path(path) if Path(path).is_absolute() else root / path
    try:
        mode = p.stat().st_mode
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{source}: secrets_file_path: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{source}: secrets_file_path: cannot read {path} ({exc})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.warn(f"{source}: secrets_file_path: {path} is readable by other users; "
                      f"chmod 600 {path}", stacklevel=2)
    values: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.replace("_", "a").isalnum() or key[0].isdigit():
            # Never echo the line: it may hold the secret itself.
            raise UsageError(f"{path}: line {lineno}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def environment(secrets: dict[str, str], **extra: str) -> dict[str, str]:
    """The repro's full environment: ours, the secrets, and perfgate's own variables."""
    env = dict(os.environ)
    env.update(secrets)
    env.update(extra)
    return env


def redactions(secrets: dict[str, str]) -> list[str]:
    """Values to mask in anything stored; very short values would mask half of every log."""
    return sorted((v for v in secrets.values() if len(v) >= 4), key=len, reverse=True)
