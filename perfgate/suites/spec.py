"""The contract's `suite:` section: which benchmarks are gated, from which harness, and how."""
from __future__ import annotations

import fnmatch
import itertools
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# One adapter module per format under perfgate/suites/ (see FORMATS in perfgate.suites).
Format = Literal["pytest-benchmark", "asv", "hyperfine", "google-benchmark", "go-test", "mitata"]
FORMATS: tuple[str, ...] = Format.__args__  # type: ignore[attr-defined]
# Formats whose harness writes its results where it wants (asv: its results_dir) rather than
# to a file perfgate names: their command may leave {output} out.
OWN_OUTPUT = frozenset({"asv"})
GEOMEAN = "geomean"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class Benchmark(_Model):
    """One benchmark of perfgate's own list: a command measured by perfgate's harness."""

    name: str = Field(min_length=1, max_length=200)
    script: str = Field(min_length=1)
    # Like hyperfine's -L or asv's params: {size} in name and script, one benchmark per
    # combination of the values.
    params: dict[str, list[str | int | float]] = Field(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _params(cls, v: dict[str, list]) -> dict[str, list]:
        for key, values in v.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise ValueError(f"parameter names are identifiers, got {key!r}")
            if not values:
                raise ValueError(f"{key}: needs at least one value")
        return v

    @model_validator(mode="after")
    def _placeholders(self) -> Benchmark:
        for key in self.params:
            if "{" + key + "}" not in self.name:
                raise ValueError(f"@name: must contain {{{key}}} so that each combination of "
                                 f"params gets its own name, got {self.name!r}")
        return self


class Limit(_Model):
    """Per-benchmark overrides, keyed by a glob over benchmark names."""

    pct_min: float | None = Field(default=None, ge=0, le=1000)
    max_regression_pct: float | None = Field(default=None, ge=0, le=1000)


class Suite(_Model):
    format: Format | None = None
    command: str | None = Field(default=None, min_length=1)
    benchmarks: list[Benchmark] | None = None
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    # What the gate's threshold applies to: the geometric mean of every benchmark's ratio, or
    # one benchmark by name. Everything else is a watchdog.
    primary: str = Field(default=GEOMEAN, min_length=1)
    correction: Literal["holm", "bh", "none"] = "holm"
    max_regression_pct: float = Field(default=10, ge=0, le=1000)
    limits: dict[str, Limit] = Field(default_factory=dict)
    # One sample per benchmark per harness invocation: this statistic of the invocation's own
    # data points (docs/design.md, "Gating a suite", says why the median).
    statistic: Literal["median", "min"] = "median"
    # The benchmarks the loop profiles and briefs the fixer on (default: the primary benchmark,
    # else the slowest).
    target: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> Suite:
        if self.benchmarks is None and self.format is None:
            raise ValueError("@format: give either benchmarks (perfgate's own list) or format "
                             "and command (an existing harness)")
        if self.benchmarks is not None and (self.format or self.command):
            raise ValueError("@format: give either benchmarks or format and command, not both")
        if self.format is not None and self.command is None:
            raise ValueError(f"@command: required with format {self.format} (the command that "
                             "runs the harness; {output} is the results file)")
        if self.format is not None and self.format not in OWN_OUTPUT and \
                "{output}" not in (self.command or ""):
            raise ValueError(f"@command: must contain {{output}}, where the {self.format} "
                             "harness writes its results")
        if self.benchmarks is not None:
            if not self.benchmarks:
                raise ValueError("@benchmarks: needs at least one benchmark")
            names = expand_names(self.benchmarks)
            if self.primary != GEOMEAN and self.primary not in names:
                raise ValueError(f"@primary: no benchmark named {self.primary!r} (the suite has "
                                 f"{_some(names)}); or write {GEOMEAN}")
        return self

    @property
    def external(self) -> bool:
        return self.format is not None

    def selected(self, name: str) -> bool:
        """include (default: everything), then exclude; fnmatch globs over the names."""
        if self.include and not any(fnmatch.fnmatchcase(name, p) for p in self.include):
            return False
        return not any(fnmatch.fnmatchcase(name, p) for p in self.exclude)

    def limit(self, name: str, pct_min: float | None) -> tuple[float | None, float]:
        """(the threshold, the regression limit) of one benchmark: the last matching override
        wins, else the contract's threshold and the suite's max_regression_pct."""
        pct, reg = pct_min, self.max_regression_pct
        for pattern, lim in self.limits.items():
            if fnmatch.fnmatchcase(name, pattern):
                pct = lim.pct_min if lim.pct_min is not None else pct
                reg = lim.max_regression_pct if lim.max_regression_pct is not None else reg
        return pct, reg


@dataclass(frozen=True)
class Expanded:
    """One benchmark of perfgate's own list after params expansion."""

    name: str
    script: str
    index: int          # its place in suite.benchmarks (for error messages)


def expand(benchmarks: list[Benchmark]) -> list[Expanded]:
    """Every combination of each benchmark's params, substituted into its name and script.
    Raises ValueError("@benchmarks[i].name: ...") on a clash."""
    out: list[Expanded] = []
    seen: dict[str, int] = {}
    for i, b in enumerate(benchmarks):
        keys = list(b.params)
        for combo in itertools.product(*(b.params[k] for k in keys)) if keys else [()]:
            values = {k: _text(v) for k, v in zip(keys, combo)}
            name, script = _fill(b.name, values), _fill(b.script, values)
            if name in seen:
                raise ValueError(f"@benchmarks[{i}].name: {b.name!r} expands to {name!r}, which "
                                 f"benchmarks[{seen[name]}] already names")
            seen[name] = i
            out.append(Expanded(name, script, i))
    return out


def expand_names(benchmarks: list[Benchmark]) -> list[str]:
    return [e.name for e in expand(benchmarks)]


def _fill(template: str, values: dict[str, str]) -> str:
    # Only the params' own names are replaced: `${HOME}` or `{a,b}` in a shell command stay.
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _text(v: str | int | float) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _some(names: list[str], k: int = 5) -> str:
    shown = ", ".join(names[:k])
    return shown + (f" and {len(names) - k} more" if len(names) > k else "")
