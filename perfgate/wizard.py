"""`perfgate init`: the scoping questions, one at a time, turned into a validated contract file."""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from perfgate import contract as contract_mod
from perfgate.contract import BUILTIN_METRICS, DOMAIN_WATCHDOGS, DOMAINS
from perfgate.errors import UsageError

# ask(question, default, choices) -> answer text. None means "take the defaults".
Asker = Callable[[str, str, Sequence[str] | None], str]

# The project's dodo.py: `doit list` in the project finds the stages through it.
DODO = ('"""perfgate\'s stages as doit tasks: `doit list`, `doit baseline`, `doit gate`."""\n'
        "from perfgate.tasks import *  # noqa: F401,F403\n")

HEADER = """\
# perfgate contract. Validate: perfgate check {name}; schema: perfgate schema.
# Then: perfgate scope {name} -> review .perfgate/{name}/scoping.md -> perfgate approve {name}.
"""


def click_asker() -> Asker:
    """Questions on stderr, answers from stdin: a terminal, or lines piped in. When piped
    answers run out, every later question takes its default (and says so)."""
    import click

    ended = [False]

    def ask(question: str, default: str, choices: Sequence[str] | None) -> str:
        if ended[0]:
            return default
        kind = click.Choice(list(choices)) if choices else None
        try:
            return str(click.prompt(question, default=default, type=kind,
                                    show_choices=bool(choices), err=True))
        except (click.exceptions.Abort, EOFError):
            if sys.stdin.isatty():
                raise
            ended[0] = True
            click.echo("\n(no more answers on stdin: defaults for the rest)", err=True)
            return default
    return ask


def _default_primary(domain: str) -> str:
    return "peak_rss" if domain == "memory_peak" else "wall_time"


def create(root: Path, name: str, given: dict[str, Any], *, ask: Asker | None,
           force: bool = False) -> Path:
    """Build the contract from flags, answers and defaults; validate; write contracts/NAME.yaml."""
    from perfgate import recon, stacks

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
    prep = stacks.propose(root, ctx)
    setup = q("setup", "Set-up: install dependencies in each worktree (empty: none)"
              + "".join(f"; {n}" for n in prep.notes if "gitignore" in n), prep.setup or "")
    build = q("build", "Build: compile in each worktree, before any timing (empty: none)",
              prep.build or "")
    verify = q("verify", "Verify command that must pass on every candidate (empty: none)", "")
    profiled = repro or suite["command"].replace("{output}", "/dev/null")
    rec = stacks.recommend(ctx, domain, profiled, f".perfgate/{name}", root=root)
    tool = q("profiler", f"Profiler ({rec.note})", rec.tool)
    profiler = _profiler(tool, rec, given, ctx, domain, profiled, name, root)
    secrets = q("secrets", "Secrets file path (empty: none)", "")
    data = {
        "version": contract_mod.CONTRACT_VERSION, "name": name, "domain": domain,
        "description": description,
        "repro": {"script": repro, "warmup_runs": warmup, "measurement_runs": runs,
                  "timeout_s": 600},
        "setup": setup or None,
        "build": build or None,
        "verify": verify or None,
        "metrics": {"primary": {"name": primary, "unit": unit, "lower_is_better": lower},
                    "watchdogs": watchdogs},
        "threshold": {"type": "pct", "pct_min": pct, "absolute_min": None,
                      "significance_required": True},
        "significance": {"test": "mann_whitney", "alpha": 0.05},
        "profiler": profiler,
        "secrets_file_path": secrets or None,
    }
    if suite:
        data["suite"] = suite   # watchdogs on memory then watch the whole harness run
    contract = contract_mod.from_mapping(data, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER.format(name=name) + contract_mod.to_yaml(contract), encoding="utf-8")
    write_dodo(root)
    return path


def write_dodo(root: Path) -> Path | None:
    """A dodo.py of one import, so that `doit list` works in the project; never replaced."""
    dodo = root / "dodo.py"
    if dodo.exists():
        return None
    dodo.write_text(DODO, encoding="utf-8")
    return dodo


def _profiler(tool: str, rec, given: dict[str, Any], ctx, domain: str, repro: str, name: str,
              root: Path) -> dict[str, str]:
    """The profiler section: the recommendation, another known tool's own command, or the
    command the user gave; never one tool's name with another's command."""
    from perfgate import stacks

    if given.get("profiler_command"):
        return {"tool": tool, "command": given["profiler_command"],
                "output_path": given.get("profiler_output") or rec.output_path}
    if tool != rec.tool:
        rec = stacks.for_tool(tool, ctx, domain, repro, f".perfgate/{name}", root)
        if rec is None:
            raise UsageError(f"init: --profiler {tool}: perfgate has no command for it; give one "
                             f"with --profiler-command CMD --profiler-output PATH (known: "
                             f"{', '.join(stacks.KNOWN_TOOLS)})")
    return {"tool": rec.tool, "command": rec.command, "output_path": rec.output_path}


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
