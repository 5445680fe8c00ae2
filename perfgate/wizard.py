"""`perfgate init`: the scoping questions, one at a time, turned into a validated contract file."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from perfgate import contract as contract_mod
from perfgate.contract import BUILTIN_METRICS, DOMAIN_WATCHDOGS, DOMAINS
from perfgate.errors import UsageError

# ask(question, default, choices) -> answer text. None means "take the defaults".
Asker = Callable[[str, str, Sequence[str] | None], str]

HEADER = """\
# perfgate contract. Validate: perfgate check {name}; schema: perfgate schema.
# Then: perfgate scope {name} -> review .perfgate/{name}/scoping.md -> perfgate approve {name}.
"""


def click_asker() -> Asker:
    import click

    def ask(question: str, default: str, choices: Sequence[str] | None) -> str:
        kind = click.Choice(list(choices)) if choices else None
        return str(click.prompt(question, default=default, type=kind, show_choices=bool(choices),
                                err=True))
    return ask


def _default_primary(domain: str) -> str:
    return "peak_rss" if domain == "memory_peak" else "wall_time"


def create(root: Path, name: str, given: dict[str, Any], *, ask: Asker | None,
           force: bool = False) -> Path:
    """Build the contract from flags, answers and defaults; validate; write contracts/NAME.yaml."""
    from perfgate import recon

    path = root / "contracts" / f"{name}.yaml"
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; --force overwrites it")

    def q(key: str, question: str, default: Any, choices: Sequence[str] | None = None) -> str:
        if given.get(key) is not None:
            return str(given[key])
        if ask is None:
            return "" if default is None else str(default)
        return ask(question, "" if default is None else str(default), choices)

    domain = q("domain", "Domain", "cli_startup", DOMAINS)
    description = q("description", "What is measured (one line)", "" if domain != "custom"
                    else None)
    ctx = recon.detect(root)
    suite = _suite(root, ctx, given, ask)
    repro = None if suite else q("repro", "Repro command (run from the project root; "
                                 "deterministic)", None)
    if not repro and not suite:
        raise UsageError("init: a repro command is required (--repro 'CMD')")
    primary = q("primary", "Primary metric", "time" if suite and "format" in suite
                else _default_primary(domain))
    unit = q("unit", "Unit of the primary metric", BUILTIN_METRICS.get(primary, "s" if suite
                                                                       else ""))
    lower = not given.get("higher_is_better") if given.get("higher_is_better") is not None else (
        q("lower_is_better", "Lower is better?", "yes", ("yes", "no")) == "yes")
    watchdogs = _watchdogs(domain, given, ask)
    pct = float(q("threshold_pct", "Minimum improvement (%)", 20))
    warmup = int(q("warmup", "Warmup runs", 1))
    runs = int(q("runs", "Measurement runs (at least 3; 5+ for significance)",
                 contract_mod.SUITE_RUNS if suite else 5))
    verify = q("verify", "Verify command that must pass on every candidate (empty: none)", "")
    rec = recon.recommend(ctx, domain, repro or suite["command"].replace("{output}", "/dev/null"),
                          f".perfgate/{name}")
    tool = q("profiler", f"Profiler ({rec.note})", rec.tool)
    secrets = q("secrets", "Secrets file path (empty: none)", "")
    data = {
        "version": contract_mod.CONTRACT_VERSION, "name": name, "domain": domain,
        "description": description,
        "repro": {"script": repro, "warmup_runs": warmup, "measurement_runs": runs,
                  "timeout_s": 600},
        "verify": verify or None,
        "metrics": {"primary": {"name": primary, "unit": unit, "lower_is_better": lower},
                    "watchdogs": watchdogs},
        "threshold": {"type": "pct", "pct_min": pct, "absolute_min": None,
                      "significance_required": True},
        "significance": {"test": "mann_whitney", "alpha": 0.05},
        "profiler": ({"tool": rec.tool, "command": rec.command, "output_path": rec.output_path}
                     if tool == rec.tool else
                     {"tool": tool, "command": rec.command, "output_path": rec.output_path}),
        "secrets_file_path": secrets or None,
    }
    if suite:
        data["suite"] = suite   # watchdogs on memory then watch the whole harness run
    contract = contract_mod.from_mapping(data, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER.format(name=name) + contract_mod.to_yaml(contract), encoding="utf-8")
    return path


def _suite(root: Path, ctx, given: dict[str, Any], ask: Asker | None) -> dict[str, Any] | None:
    """The harness the repository already has, offered as the contract's suite (--suite
    takes it without asking, --no-suite or --repro leave it out)."""
    from perfgate import recon

    if given.get("repro") or given.get("suite") is False:
        return None
    found = recon.suite_for(root, ctx)
    if found is None:
        if given.get("suite"):
            raise UsageError("init: --suite: no benchmark harness found here (pytest-benchmark, "
                             "asv, go test -bench or mitata); write suite: by hand")
        return None
    if given.get("suite") or ask is None:
        return found
    question = f"Gate the existing {found['format']} suite (`{found['command']}`)?"
    return found if ask(question, "yes", ("yes", "no")) == "yes" else None


def _watchdogs(domain: str, given: dict[str, Any], ask: Asker | None) -> list[dict[str, Any]]:
    """Flags win; otherwise the domain's suggestions (only built-ins when not asking)."""
    if given.get("no_watchdogs"):
        return []
    if given.get("watchdogs"):
        out = []
        for spec in given["watchdogs"]:
            name, sep, pct = spec.partition(":")
            try:
                value = float(pct) if sep else 10.0
            except ValueError:
                raise UsageError(f"init: --watchdog {spec}: expected NAME:PCT") from None
            out.append({"name": name, "unit": BUILTIN_METRICS.get(name, ""),
                        "lower_is_better": True, "max_regression_pct": value})
        return out
    suggested = DOMAIN_WATCHDOGS.get(domain, [])
    out = []
    for name, unit, lower, pct in suggested:
        if ask is None:
            # A reported metric the repro may not print would fail the pre-flight.
            if name not in BUILTIN_METRICS:
                continue
            keep = True
        else:
            keep = ask(f"Watchdog {name} (max regression {pct:g}%)?", "yes", ("yes", "no")) == "yes"
        if keep:
            out.append({"name": name, "unit": unit, "lower_is_better": lower,
                        "max_regression_pct": pct})
    return out
