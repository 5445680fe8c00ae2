"""The team's shared store: where it is configured, which DuckDB extensions it needs, and push.

Configured once per project, in pyproject.toml (`[tool.perfgate.shared]`) or perfgate.toml
(`[shared]`), each key overridable by $PERFGATE_SHARED_CATALOG / $PERFGATE_SHARED_DATA so CI
keeps its secrets out of files. S3 endpoint and keys come only from the standard AWS_*
variables; nothing here writes them, or a catalog password, anywhere.
"""
from __future__ import annotations

import fcntl
import importlib.util
import os
import re
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from perfgate.errors import PerfgateError, SharedStoreError, UsageError

ENV_CATALOG, ENV_DATA = "PERFGATE_SHARED_CATALOG", "PERFGATE_SHARED_DATA"
INSTALL = "pip install 'perfgate[shared]'"
# Which wheel ships each extension: duckdb-extension-* (DuckDB 1.5.x, what the extra installs)
# lays files out as <module>/extensions/v1.5.5/NAME.duckdb_extension; duckdb-ext-* (DuckDB
# 1.4.x) as duckdb_ext/extensions/v1.4.4/<platform>/NAME.duckdb_extension. Either works.
MODULES = ("duckdb_extension_{name}", "duckdb_ext")
SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "PGPASSWORD")


@dataclass(frozen=True)
class SharedConfig:
    """Where the shared store is: a DuckLake catalog and its data path."""

    catalog: str    # postgres:<libpq conninfo> | sqlite:PATH | a DuckDB file (duckdb:PATH)
    data: str       # a directory, or s3://bucket/prefix
    source: str     # where it was configured, for messages

    @property
    def kind(self) -> str:
        return self.catalog.split(":", 1)[0] if re.match(r"^(postgres|sqlite|duckdb):",
                                                          self.catalog) else "duckdb"

    def attach_target(self) -> str:
        """What follows `ducklake:` in ATTACH. Postgres gets a connect timeout, so an
        unreachable server is a prompt error instead of a hang."""
        if self.kind == "postgres":
            conninfo = self.catalog.split(":", 1)[1]
            if "connect_timeout" not in conninfo:
                conninfo += " connect_timeout=10"
            return f"postgres:{conninfo}"
        if self.kind == "sqlite":
            return self.catalog
        return self.catalog.split(":", 1)[1] if self.catalog.startswith("duckdb:") else \
            self.catalog

    def extensions(self) -> list[str]:
        needed = ["ducklake"]
        needed += {"postgres": ["postgres_scanner"], "sqlite": ["sqlite_scanner"]}.get(
            self.kind, [])
        if self.data.startswith("s3://"):
            needed.append("httpfs")
        return needed

    def describe(self) -> str:
        """The store named for people: no password, no keys."""
        return redact(f"{self.kind} catalog, data in {self.data}")


def redact(text: str) -> str:
    """Mask a catalog password and the AWS/Postgres secrets from the environment in `text`
    (DuckDB quotes the whole connection string in its errors)."""
    text = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", text, flags=re.IGNORECASE)
    for name in SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def _file_table(root: Path) -> tuple[dict, str]:
    """The [shared] settings of perfgate.toml, else [tool.perfgate.shared] of pyproject.toml."""
    for name, keys in (("perfgate.toml", ("shared",)), ("perfgate.toml", ("tool", "perfgate",
                                                                          "shared")),
                       ("pyproject.toml", ("tool", "perfgate", "shared"))):
        path = root / name
        if not path.is_file():
            continue
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"{name}: not valid TOML ({exc})") from None
        for key in keys:
            table = table.get(key) if isinstance(table, dict) else None
        if table is None:
            continue
        where = f"{name}: {'.'.join(keys)}"
        if not isinstance(table, dict):
            raise UsageError(f"{where}: must be a table")
        return table, where
    return {}, ""


def load_config(root: Path) -> SharedConfig | None:
    """The project's shared store, or None when none is configured."""
    table, where = _file_table(root)
    unknown = sorted(set(table) - {"catalog", "data"})
    if unknown:
        raise UsageError(f"{where}.{unknown[0]}: unknown key (expected catalog, data)")
    values, sources = {}, []
    for key, env in (("catalog", ENV_CATALOG), ("data", ENV_DATA)):
        if os.environ.get(env):
            values[key] = os.environ[env]
            sources.append(f"${env}")
        elif key in table:
            if not isinstance(table[key], str) or not table[key].strip():
                raise UsageError(f"{where}.{key}: must be a non-empty string")
            values[key] = table[key]
            sources.append(f"{where}.{key}")
    if not values:
        return None
    for key, env in (("catalog", ENV_CATALOG), ("data", ENV_DATA)):
        if key not in values:
            table_name = where or "pyproject.toml: tool.perfgate.shared"
            raise UsageError(f"shared store: {key} is not set (set {table_name}.{key} "
                             f"or ${env})")
    catalog, data = values["catalog"].strip(), values["data"].strip()
    if not re.match(r"^postgres:", catalog):  # file catalogs are relative to the project
        prefix, _, path = catalog.rpartition(":") if re.match(r"^(sqlite|duckdb):", catalog) \
            else ("", "", catalog)
        catalog = (f"{prefix}:" if prefix else "") + str((root / path).resolve())
    if not data.startswith("s3://"):
        if re.match(r"^[a-z][a-z0-9+.-]*://", data):
            raise UsageError(f"shared store: data must be a directory or s3://bucket/prefix, "
                             f"got {data.split('://')[0]}://…")
        data = str((root / data).resolve())
    if not data.endswith("/"):
        data += "/"
    return SharedConfig(catalog=catalog, data=data, source=", ".join(sources))


def extension_file(name: str, version: str) -> Path | None:
    """The extension `name` built for DuckDB `version`, from an installed wheel (or None)."""
    for pattern in MODULES:
        spec = importlib.util.find_spec(pattern.format(name=name))
        if spec is None or not spec.submodule_search_locations:
            continue
        for base in spec.submodule_search_locations:
            found = sorted((Path(base) / "extensions" / f"v{version}").glob(
                f"**/{name}.duckdb_extension"))
            if found:
                return found[0]
    return None


def other_builds(name: str) -> list[str]:
    """DuckDB versions an installed wheel has `name` for (to explain a version mismatch)."""
    versions = set()
    for pattern in MODULES:
        spec = importlib.util.find_spec(pattern.format(name=name))
        for base in (spec.submodule_search_locations or []) if spec else []:
            versions |= {p.relative_to(Path(base) / "extensions").parts[0]
                         for p in (Path(base) / "extensions").glob(f"*/**/{name}.duckdb_extension")}
    return sorted(versions)


def open_store(project, *, busy_timeout_s: float = 30):
    """The project's shared store (a Store over DuckLake); a one-line error if none is set."""
    config = load_config(project.root)
    if config is None:
        raise UsageError(f"no shared store configured: set [tool.perfgate.shared] catalog and "
                         f"data in {project.root / 'pyproject.toml'} (or perfgate.toml), or "
                         f"${ENV_CATALOG} and ${ENV_DATA}")
    from perfgate.lake import SharedStore

    return SharedStore(config, busy_timeout_s=busy_timeout_s)


def store_for(project, shared: bool):
    """The store a read command uses: the local file, or the team's with --shared."""
    return open_store(project) if shared else project.store()


@dataclass(frozen=True)
class PushResult:
    """What a push did. `message` is one line for people (None: nothing to say)."""

    pushed: int = 0         # sessions sent
    present: int = 0        # sessions already in the shared store (an earlier push)
    rows: int = 0           # samples sent
    pending: int = 0        # finished sessions still waiting
    ok: bool = True
    message: str | None = None


@contextmanager
def _push_lock(local_path: Path, timeout_s: float) -> Iterator[None]:
    """One pusher per local store: two pushes of one session would both find it absent."""
    local_path.parent.mkdir(parents=True, exist_ok=True)
    with open(local_path.with_name(local_path.name + ".push.lock"), "a") as fh:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SharedStoreError("push pending: another perfgate push from this "
                                           "store is still running") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def push(project, *, batch: int = 1000, timeout_s: float = 600) -> PushResult:
    """Send every finished session not yet pushed (with its runs, samples, comparisons and
    decisions; calibrations and hotspots too), `batch` sessions per atomic transaction.
    Raises SharedStoreError (one line, secrets masked) when the store cannot be reached."""
    config = load_config(project.root)
    if config is None:
        return PushResult(message=None)
    local = project.store()
    if not local.path.exists():
        return PushResult(message="push: nothing measured yet")
    shared = open_store(project)
    with _push_lock(local.path, timeout_s):
        pushed = present = rows = 0
        while True:
            done = shared.push_from(local, batch=batch)
            pushed, present, rows = pushed + done[0], present + done[1], rows + done[2]
            if done[0] + done[1] == 0:
                break
    pending = local.pending_push()
    what = f"pushed {pushed} session{'s' * (pushed != 1)} ({rows} samples) to the shared " \
           f"store ({config.describe()})"
    if present:
        what += f"; {present} were already there"
    return PushResult(pushed=pushed, present=present, rows=rows, pending=pending,
                      message=what if pushed or present else "push: nothing new to send")


def push_pending(project) -> PushResult:
    """For the end of a gate: push what is pending, never raise for an unreachable or
    misconfigured shared store, and say in one line what waits. No shared store: no-op."""
    try:
        return push(project)
    except Exception as exc:  # a gate's verdict never depends on the push
        if not isinstance(exc, PerfgateError):
            exc = SharedStoreError(f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}")
        try:
            pending = project.store().pending_push()
        except PerfgateError:
            pending = 0
        reason = redact(str(exc)).removeprefix("push pending: ")
        return PushResult(pending=pending, ok=False,
                          message=f"push pending: {pending} session{'s' * (pending != 1)} "
                                  f"wait for the shared store ({reason}); `perfgate push` "
                                  "sends them")
