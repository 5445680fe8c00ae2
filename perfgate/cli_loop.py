"""`perfgate` commands of the loop: contracts, the stages, gate, compare, run, measure, demo."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from perfgate.cli_common import (
    ADAPTIVE,
    INTERLEAVE,
    JSON,
    MISMATCH,
    ROOT_OPTION,
    err,
    push_note,
    raise_if_rejected,
    verdict_out,
    workspace,
)
from perfgate.errors import UsageError


@click.command()
@click.argument("contract")
@ROOT_OPTION
def check(contract: str, root: Path) -> None:
    """Validate CONTRACT and print it with every default filled in; the secrets file must
    exist (a warning if others can read it)."""
    from perfgate import contract as c
    from perfgate import secrets

    path = c.resolve(contract, root.resolve())
    loaded = c.load(path)
    secrets.load(loaded.secrets_file_path, root.resolve(), source=str(path))
    click.echo(c.to_yaml(loaded), nl=False)


@click.command()
def schema() -> None:
    """Print the contract's JSON Schema (for editors and linters)."""
    import json

    from perfgate.contract import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


@click.command()
@click.argument("name", default="perf")
@click.option("--domain", help="api_latency, cli_startup, render_fps, build_time, bundle_size, "
              "memory_peak, db_query or custom.")
@click.option("--description", help="What is measured (required for a custom domain).")
@click.option("--repro", help="The shell command that reproduces the workload.")
@click.option("--primary",
              help="Primary metric name (wall_time, cpu_time, peak_rss, instructions or custom).")
@click.option("--unit", help="Unit of the primary metric.")
@click.option("--higher-is-better", is_flag=True, default=None, help="The primary should rise.")
@click.option("--watchdog", "watchdogs", multiple=True, metavar="NAME:PCT",
              help="A watchdog metric and its max regression % (repeatable).")
@click.option("--no-watchdogs", is_flag=True, help="No watchdog metrics.")
@click.option("--threshold-pct", type=float, help="Minimum improvement in %.")
@click.option("--warmup", type=int, help="Warmup runs.")
@click.option("--runs", type=int, help="Measurement runs (at least 3).")
@click.option("--setup", help="Install dependencies in each worktree (npm ci, uv sync ...).")
@click.option("--build", help="Compile in each worktree (cargo build --release ...).")
@click.option("--verify", help="Command that must pass on every candidate.")
@click.option("--profiler", help="Profiler tool (default: the recommendation for the stack; "
              "cprofile, py-spy, node-cpu-prof, callgrind, pprof get their own command).")
@click.option("--profiler-command", help="The profiler's command, for any other tool.")
@click.option("--profiler-output", help="Where that command writes (a file, a dir/ or a glob).")
@click.option("--secrets", help="Path of a KEY=VALUE secrets file.")
@click.option("--suite/--no-suite", default=None,
              help="Gate the benchmark harness the repository already has (asked when one is "
                   "found).")
@click.option("--yes", "-y", is_flag=True, help="Take the defaults for anything not given.")
@click.option("--force", is_flag=True, help="Overwrite an existing contract.")
@ROOT_OPTION
def init(name: str, root: Path, yes: bool, force: bool, **answers) -> None:
    """Write contracts/NAME.yaml, asking the scoping questions one at a time."""
    from perfgate import wizard

    # Piped answers are answers too: only --yes (or no stdin at all) takes every default.
    ask = None if yes or sys.stdin is None or sys.stdin.closed else wizard.click_asker()
    had_dodo = (root / "dodo.py").exists()
    path = wizard.create(root.resolve(), name, answers, ask=ask, force=force)
    err(f"wrote {path}{'' if had_dodo else ' and dodo.py (for doit list)'}; next: perfgate "
        f"scope {name}")


@click.command()
@click.argument("contract")
@click.option("--yes", "-y", is_flag=True, help="Approve at once if the pre-flight passes.")
@ROOT_OPTION
def scope(contract: str, yes: bool, root: Path) -> None:
    """Recon the repo, pre-flight CONTRACT, write scoping.md (result: pending).
    Exits 2 when the pre-flight failed."""
    from perfgate import approval
    from perfgate.pipeline import run_stage

    ws = workspace(root, contract)
    result = run_stage(ws, "scoping", force=True)
    click.echo(result.artifact.read_text(), nl=False)
    if result.extra.get("preflight") != "passed":
        raise UsageError(f"the pre-flight of {ws.name} failed (see the problems above, in "
                         f"{ws.display(result.artifact)}); fix them and scope again")
    if yes:
        approval.approve(ws)
        err(f"approved {ws.name}; next: perfgate baseline {ws.handle}")


@click.command()
@click.argument("contract")
@ROOT_OPTION
def approve(contract: str, root: Path) -> None:
    """Approve CONTRACT's scoping so that it may be measured (the hard gate)."""
    from perfgate import approval

    ws = workspace(root, contract)
    approval.approve(ws)
    err(f"approved {ws.name}; next: perfgate baseline {ws.handle}")


@click.command()
@click.argument("contract")
@click.option("--force", is_flag=True, help="Measure again even if nothing changed.")
@ROOT_OPTION
def baseline(contract: str, force: bool, root: Path) -> None:
    """Measure CONTRACT's base commit (warmup + N runs) and write baseline.md."""
    from perfgate.pipeline import run_stage

    ws = workspace(root, contract)
    result = run_stage(ws, "baseline", force=force)
    if not result.ran:
        err(f"baseline of {ws.name} is up to date; --force measures again")
    click.echo(result.artifact.read_text(), nl=False)


@click.command()
@click.argument("contract")
@click.option("--from-checkout", is_flag=True,
              help="Gate your uncommitted changes (copied; your files are not touched).")
@INTERLEAVE
@MISMATCH
@ADAPTIVE
@JSON
@ROOT_OPTION
def gate(contract: str, from_checkout: bool, interleave: bool, allow_mismatch: bool,
         adaptive: bool | None, as_json: bool, root: Path) -> None:
    """Gate the candidate in .perfgate/NAME/work against the last accepted commit."""
    from perfgate.pipeline import run_stage
    from perfgate.stages import fixing

    ws = workspace(root, contract)
    if from_checkout:
        fixing.take_checkout(ws)
    result = run_stage(ws, "gating", interleave=interleave, allow_mismatch=allow_mismatch,
                       adaptive=adaptive)
    if not result.ran:
        err(f"{ws.name}: the candidate is unchanged since the last gate; nothing to do")
        return
    push_note(ws)
    verdict_out(dict(result.document), as_json)


@click.command()
@click.argument("contract")
@click.option("--base", "base_ref", required=True, help="The reference commit (e.g. main).")
@click.option("--head", "head_ref", required=True, help="The commit to judge (e.g. HEAD).")
@click.option("--mode", type=click.Choice(["improvement", "no-regression"]),
              default="improvement", show_default=True,
              help="improvement: HEAD must be faster by the threshold. no-regression: fail "
                   "only if HEAD is significantly slower by the threshold (CI on every PR).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]),
              default="text", show_default=True, help="What goes to stdout.")
@click.option("--summary", "summary_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the Markdown summary here ($GITHUB_STEP_SUMMARY is used "
                   "when set).")
@click.option("--yes", "-y", is_flag=True, help="Do not require an approved scoping (CI).")
@INTERLEAVE
@MISMATCH
@ADAPTIVE
@JSON
@ROOT_OPTION
def compare(contract: str, base_ref: str, head_ref: str, mode: str, fmt: str,
            summary_file: Path | None, yes: bool, interleave: bool, allow_mismatch: bool,
            adaptive: bool | None, as_json: bool, root: Path) -> None:
    """Gate HEAD against BASE, each in its own worktree; exit 0 passed, 1 failed,
    4 inconclusive."""
    from perfgate import compare as compare_mod
    from perfgate import report
    from perfgate.sessions import progress_bar

    ws = workspace(root, contract)
    with progress_bar() as progress:
        doc = compare_mod.compare(ws, base_ref, head_ref, yes=yes, interleave=interleave,
                                  allow_mismatch=allow_mismatch, mode=mode, progress=progress,
                                  adaptive=adaptive)
    md = compare_mod.publish_summary(ws, doc, base_ref, head_ref, summary_file)
    push_note(ws)
    if fmt == "markdown":
        err(report.verdict_text(doc))
        click.echo(md, nl=False)
        raise_if_rejected(doc)
    verdict_out(doc, as_json or fmt == "json")


@click.command(name="run")
@click.argument("contract")
@click.option("--fixer", required=True, metavar="CMD|manual",
              help="Command that edits the work tree; {brief}, {hotspot_json} and {worktree} "
                   "become arguments. `manual`: you edit, then press Enter.")
@ADAPTIVE
@ROOT_OPTION
def run_loop(contract: str, fixer: str, adaptive: bool | None, root: Path) -> None:
    """Run the loop: profile, propose, fix, measure, gate, until nothing is left to try."""
    from perfgate import loop

    ws = workspace(root, contract)
    for line in loop.run(ws, fixer, manual=_manual if fixer == "manual" else None,
                         adaptive=adaptive):
        click.echo(line)


def _manual(brief: str, worktree: Path) -> None:
    if not sys.stdin.isatty():
        raise UsageError(f"--fixer manual needs a terminal: edit {worktree}, then run "
                         "`perfgate gate NAME`")
    click.echo(brief, err=True)
    click.prompt(f"Edit {worktree}, then press Enter", default="", show_default=False, err=True)


@click.command()
@click.option("--runs", "-n", type=click.IntRange(1), default=10, show_default=True)
@click.option("--warmup", "-w", type=click.IntRange(0), default=1, show_default=True)
@click.option("--timeout", type=float, default=600, show_default=True, help="Seconds per run.")
@click.option("--json", "as_json", is_flag=True, help="Print every run as JSON on stdout.")
@click.option("--instructions", is_flag=True,
              help="Also count instructions (perf or valgrind, in a second pass of each run).")
@click.option("--suite", "suite", metavar="CONTRACT",
              help="Measure CONTRACT's suite instead: every benchmark, one value per invocation.")
@ROOT_OPTION
@click.argument("command", nargs=-1)
def measure(runs: int, warmup: int, timeout: float, as_json: bool, instructions: bool,
            suite: str | None, root: Path, command: tuple[str, ...]) -> None:
    """Time COMMAND like hyperfine: wall, CPU and peak memory of the whole process tree.
    With --suite, every benchmark of a contract's suite, like hyperfine with several commands."""
    from perfgate import report, sessions

    if suite is not None:
        _measure_suite(suite, runs, warmup, as_json, root)
        return
    if not command:
        raise UsageError("measure: give a COMMAND, or --suite CONTRACT")
    with sessions.progress_bar() as progress:
        records = sessions.run_series(list(command), runs=runs, warmup=warmup,
                                      timeout_s=timeout, progress=progress,
                                      count_instructions=instructions)
    click.echo(report.runs_json(records) if as_json else report.runs_table(records))


def _measure_suite(name: str, runs: int, warmup: int, as_json: bool, root: Path) -> None:
    from perfgate import sessions, suite_report
    from perfgate.suites import runner

    ws = workspace(root, name)
    if ws.contract.suite is None:
        raise UsageError(f"{ws.display(ws.contract_path)}: suite: required for --suite")
    with sessions.progress_bar() as progress:
        records = runner.measure(ws.contract, runs=runs, warmup=warmup, cwd=ws.root,
                                 progress=progress)
    click.echo(suite_report.runs_json(records) if as_json else suite_report.runs_table(records))


@click.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where to create the demo repository (default: a temp dir).")
@click.option("--suite", is_flag=True, help="Gate one change on a six-benchmark suite instead.")
def demo(directory: Path | None, suite: bool) -> None:
    """Run the whole loop on the embedded demo, in a scratch git repository."""
    from perfgate import demo as demo_mod

    for line in (demo_mod.run_suite if suite else demo_mod.run)(directory):
        click.echo(line)


COMMANDS = (check, schema, init, scope, approve, baseline, gate, compare, run_loop, measure,
            demo)
