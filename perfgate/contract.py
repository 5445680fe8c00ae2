"""The contract: what is measured, how, and what a change must clear to be kept."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from perfgate import validation
from perfgate.errors import ContractError
from perfgate.metrics import BUILTIN_METRICS, BUILTIN_UNITS  # the harness's own metrics
from perfgate.stats import Test
from perfgate.suites.spec import Suite

# A suite's default runs per side: 40 benchmarks under Holm need p < alpha/40 from the
# smallest of them, which 5 vs 5 runs can never give (docs/design.md, "Gating a suite").
SUITE_RUNS = 10

CONTRACT_VERSION = 1

Domain = Literal[
    "api_latency", "cli_startup", "render_fps", "build_time",
    "bundle_size", "memory_peak", "db_query", "custom",
]
DOMAINS: tuple[str, ...] = Domain.__args__  # type: ignore[attr-defined]


# `memory_peak` is the seed workflow's name for the same thing as peak_rss.
METRIC_ALIASES: dict[str, str] = {"memory_peak": "peak_rss"}

# Suggested watchdogs per domain (the seed workflow's table): name, unit, lower_is_better, pct.
DOMAIN_WATCHDOGS: dict[str, list[tuple[str, str, bool, float]]] = {
    "api_latency": [("peak_rss", "MiB", True, 10)],
    "cli_startup": [("peak_rss", "MiB", True, 10)],
    "render_fps": [("frame_p99_ms", "ms", True, 15), ("peak_rss", "MiB", True, 10)],
    "build_time": [("bundle_size", "bytes", True, 5)],
    "bundle_size": [("build_time", "s", True, 10)],
    "memory_peak": [("p95_latency_ms", "ms", True, 10)],
    "db_query": [("lock_wait_ms", "ms", True, 10)],
    "custom": [],
}

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class _Model(BaseModel):
    # A typo in a key must never be silently ignored.
    model_config = ConfigDict(extra="forbid", validate_default=True)


class Repro(_Model):
    # Required unless the contract has a suite (then its benchmarks are what is measured).
    script: str | None = Field(default=None, min_length=1)
    warmup_runs: int = Field(default=1, ge=0, le=1000)
    measurement_runs: int = Field(default=5, ge=3, le=10000)
    # The cap of an adaptive gate; unset means 30, or measurement_runs if that is larger.
    max_measurement_runs: int | None = Field(default=None, ge=3, le=10000)
    timeout_s: float = Field(default=600, gt=0, le=86400)

    @model_validator(mode="after")
    def _cap(self) -> Repro:
        if self.max_measurement_runs is not None and \
                self.max_measurement_runs < self.measurement_runs:
            raise ValueError(f"@max_measurement_runs: must be >= measurement_runs "
                             f"({self.measurement_runs}), got {self.max_measurement_runs}")
        return self

    @property
    def max_runs(self) -> int:
        return self.max_measurement_runs or max(30, self.measurement_runs)


class Metric(_Model):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    unit: str = ""
    lower_is_better: bool = True
    # Where a non-built-in value comes from; absent means PERFGATE_METRIC lines or the JSON file.
    regex: str | None = None
    file_size: str | None = None

    @field_validator("name")
    @classmethod
    def _alias(cls, v: str) -> str:
        return METRIC_ALIASES.get(v, v)

    @field_validator("regex")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            compiled = re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from None
        if compiled.groups != 1:
            raise ValueError(f"needs exactly one capture group, has {compiled.groups}")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> Metric:
        if self.regex is not None and self.file_size is not None:
            raise ValueError("@file_size: give either regex or file_size, not both")
        if self.name in BUILTIN_METRICS and (self.regex or self.file_size):
            raise ValueError(f"@name: {self.name} is measured by perfgate itself;"
                             " remove regex/file_size")
        if self.name in BUILTIN_METRICS:
            spellings = BUILTIN_UNITS[self.name]
            if self.unit and self.unit not in spellings:
                raise ValueError(f"@unit: {self.name} is measured in {spellings[0]}, got "
                                 f"{self.unit!r}; write {spellings[0]} or leave it out")
            self.unit = spellings[0]
        return self

    @property
    def source(self) -> str:
        if self.name in BUILTIN_METRICS:
            return "builtin"
        if self.regex is not None:
            return "regex"
        if self.file_size is not None:
            return "file_size"
        return "reported"


class Watchdog(Metric):
    max_regression_pct: float = Field(ge=0, le=1000)


class Metrics(_Model):
    primary: Metric
    watchdogs: list[Watchdog] = Field(default_factory=list)

    @field_validator("primary", mode="before")
    @classmethod
    def _exactly_one(cls, v: Any) -> Any:
        if isinstance(v, list):
            raise ValueError(f"exactly one primary metric, got a list of {len(v)}")
        return v

    @model_validator(mode="after")
    def _unique(self) -> Metrics:
        names = [self.primary.name] + [w.name for w in self.watchdogs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"metric {dup[0]} is listed twice")
        return self

    def all(self) -> list[Metric]:
        return [self.primary, *self.watchdogs]


class Threshold(_Model):
    type: Literal["pct", "absolute", "both"] = "pct"
    pct_min: float | None = Field(default=20, ge=0, le=1000)
    absolute_min: float | None = Field(default=None, ge=0)
    significance_required: bool = True

    @model_validator(mode="after")
    def _needed(self) -> Threshold:
        if self.type in ("absolute", "both") and self.absolute_min is None:
            raise ValueError(f"@absolute_min: required when type is {self.type}")
        if self.type in ("pct", "both") and self.pct_min is None:
            raise ValueError(f"@pct_min: required when type is {self.type}")
        return self


class Significance(_Model):
    # wilcoxon: the signed-rank test on runs paired by round (interleaved runs only), which
    # cancels a drift both sides share; mann_whitney treats the sides as independent samples.
    test: Test = "mann_whitney"
    alpha: float = Field(default=0.05, gt=0, le=0.5)
    # Buy more runs, in rounds, while the verdict is inconclusive (alpha split over the looks).
    # Unset: on for interactive use, off when $CI is set.
    adaptive: bool | None = None

    @property
    def paired(self) -> bool:
        """The test matches the i-th run of each side (runs measured interleaved, by round)."""
        return self.test == "wilcoxon"


class Profiler(_Model):
    tool: str = Field(min_length=1)
    command: str = Field(min_length=1)
    output_path: str = Field(min_length=1)


class Loop(_Model):
    """When `perfgate run` stops: whichever limit comes first."""

    max_iterations: int = Field(default=10, ge=1, le=1000)
    max_accepts: int | None = Field(default=None, ge=1)
    time_budget_min: float | None = Field(default=None, gt=0)
    min_share_pct: float = Field(default=5, ge=0, le=100)
    fixer_timeout_s: float = Field(default=1800, gt=0)


class Contract(_Model):
    version: int = CONTRACT_VERSION
    name: str
    domain: Domain
    description: str = ""
    repro: Repro
    # Run in each worktree before anything there is timed, never timed themselves: `setup`
    # installs dependencies (re-run when a lockfile or manifest changes), `build` compiles
    # (re-run whenever the code changes). See prepare.py.
    setup: str | None = Field(default=None, min_length=1)
    build: str | None = Field(default=None, min_length=1)
    setup_timeout_s: float = Field(default=1800, gt=0, le=86400)
    verify: str | None = None
    metrics: Metrics
    threshold: Threshold = Field(default_factory=Threshold)
    significance: Significance = Field(default_factory=Significance)
    profiler: Profiler | None = None
    secrets_file_path: str | None = None
    loop: Loop = Field(default_factory=Loop)
    suite: Suite | None = None
    # The file it was loaded from, for errors found later (a suite's results); not hashed.
    _source: str = PrivateAttr(default="")

    @model_validator(mode="before")
    @classmethod
    def _suite_defaults(cls, data: Any) -> Any:
        """A suite needs no repro script and has a natural primary metric: perfgate's wall
        time for its own list, the harness's time per operation for an external one."""
        if not isinstance(data, dict) or not isinstance(data.get("suite"), dict):
            return data
        data = dict(data)
        repro = data.get("repro", {})
        if isinstance(repro, dict) and "measurement_runs" not in repro:
            data["repro"] = {**repro, "measurement_runs": SUITE_RUNS}
        if "metrics" not in data:
            name = "time" if data["suite"].get("format") else "wall_time"
            data["metrics"] = {"primary": {"name": name, "unit": "s", "lower_is_better": True}}
        return data

    @field_validator("version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v > CONTRACT_VERSION:
            raise ValueError(
                f"{v} is newer than this perfgate understands ({CONTRACT_VERSION});"
                " upgrade perfgate")
        if v < 1:
            raise ValueError(f"must be >= 1, got {v}")
        return v

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not _SAFE_NAME.match(v):
            raise ValueError(
                f"must be a safe file name (letters, digits, _ . -, at most 64), got {v!r}")
        return v

    @model_validator(mode="after")
    def _custom_needs_description(self) -> Contract:
        if self.repro.script is None and self.suite is None:
            raise ValueError("@repro.script: required (or a suite: of benchmarks)")
        if self.domain == "custom" and not self.description.strip():
            raise ValueError("@description: required when domain is custom")
        pct = self.threshold.pct_min
        if (self.metrics.primary.lower_is_better and pct is not None and pct >= 100
                and self.threshold.type in ("pct", "both")):
            raise ValueError("@threshold.pct_min: a lower-is-better metric cannot improve by "
                             f"100% or more, got {pct:g}")
        return self

    @property
    def source(self) -> str:
        return self._source or f"contract {self.name}"

    def digest(self) -> str:
        """A hash of the effective contract: any edit after approval changes it."""
        return _hash(self.model_dump(mode="json"))

    def section_digests(self) -> dict[str, str]:
        """A hash per top-level key: an edit after approval can be named (`profiler`)."""
        return {k: _hash(v) for k, v in self.model_dump(mode="json").items()}


# Keys added after contract version 1 shipped; left at their defaults they stay out of the
# digest, so upgrading perfgate does not withdraw every approval.
_LATER_DEFAULTS = {"setup": None, "build": None, "setup_timeout_s": 1800}


def _hash(value: Any) -> str:
    if isinstance(value, dict):
        value = {k: v for k, v in value.items()
                 if not (k in _LATER_DEFAULTS and v == _LATER_DEFAULTS[k])}
    canon = json.dumps(value, sort_keys=True)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


# --- loading -------------------------------------------------------------------------

def from_mapping(data: Any, source: str) -> Contract:
    """Validate a parsed mapping; raise ContractError with `source: field: problem`."""
    if not isinstance(data, dict):
        raise ContractError(f"{source}: must be a YAML mapping, got {type(data).__name__}")
    try:
        contract = Contract.model_validate(data)
        contract._source = source
        return contract
    except ValidationError as exc:
        raise ContractError(validation.one_line(exc, source)) from None


def load(path: str | Path) -> Contract:
    """Read and validate a contract file."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(f"{p}: no such contract file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"{p}: cannot read ({exc.__class__.__name__}: {exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if mark is not None:
            raise ContractError(
                f"{p}: YAML syntax error at line {mark.line + 1}, column {mark.column + 1}:"
                f" {problem}") from None
        raise ContractError(f"{p}: YAML syntax error: {problem}") from None
    return from_mapping(data, str(p))


def resolve(name_or_path: str, root: Path) -> Path:
    """A contract argument is a path, or a name under contracts/."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.is_file():
        return p if p.is_absolute() else (Path.cwd() / p)
    return root / "contracts" / f"{name_or_path}.yaml"


def to_yaml(contract: Contract) -> str:
    import yaml

    return yaml.safe_dump(contract.model_dump(mode="json", exclude_none=False),
                          sort_keys=False, allow_unicode=True)


def json_schema() -> dict[str, Any]:
    return Contract.model_json_schema()
