"""The `perfgate` command: thin click commands over the library, and the one error handler."""
from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from perfgate.errors import GateInconclusive, GateRejected, PerfgateError, UsageError

ROOT_OPTION = click.option("--root", type=click.Path(file_okay=False, path_type=Path),
                           default=".", show_default=True, help="The project's root directory.")


def _project(root: Path):
    from perfgate.workspace import Project

    return Project(root.resolve())


def _workspace(root: Path, contract: str):
    return _project(root).workspace(contract)


def _err(text: str) -> None:
    click.echo(text, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Exit codes: 0 accepted, 1 rejected, 2 usage or contract error, "
                    "3 unexpected, 4 inconclusive, 130 interrupted.")
@click.version_option(package_name="perfgate")
def cli() -> None:
    """Measure a change, test it for significance, and keep it only if it earned it."""


@cli.command()
@click.argument("contract")
@ROOT_OPTION
def check(contract: str, root: Path) -> None:
    """Validate CONTRACT and print it with every default filled in."""
    from perfgate import contract as c

    click.echo(c.to_yaml(c.load(c.resolve(contract, root.resolve()))), nl=False)


@cli.command()
def schema() -> None:
    """Print the contract's JSON Schema (for editors and linters)."""
    import json

    from perfgate.contract import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


@cli.command()
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
@click.option("--verify", help="Command that must pass on every candidate.")
@click.option("--profiler", help="Profiler tool (default: the recommendation for the stack).")
@click.option("--secrets", help="Path of a KEY=VALUE secrets file.")
@click.option("--yes", "-y", is_flag=True, help="Take the defaults for anything not given.")
@click.option("--force", is_flag=True, help="Overwrite an existing contract.")
@ROOT_OPTION
def init(name: str, root: Path, yes: bool, force: bool, **answers) -> None:
    """Write contracts/NAME.yaml, asking the scoping questions one at a time."""
    from perfgate import wizard

    ask = None if yes or not sys.stdin.isatty() else wizard.click_asker()
    path = wizard.create(root.resolve(), name, answers, ask=ask, force=force)
    _err(f"wrote {path}; next: perfgate scope {name}")


@cli.command()
@click.argument("contract")
@click.option("--yes", "-y", is_flag=True, help="Approve at once if the pre-flight passes.")
@ROOT_OPTION
def scope(contract: str, yes: bool, root: Path) -> None:
    """Recon the repo, pre-flight CONTRACT, write scoping.md (result: pending)."""
    ws = _workspace(root, contract)
    _run_stage(root, "scoping", ws, force=True)
    click.echo(ws.artifact("scoping").read_text(), nl=False)
    if yes:
        _approve(ws)


@cli.command()
@click.argument("contract")
@ROOT_OPTION
def approve(contract: str, root: Path) -> None:
    """Approve CONTRACT's scoping so that it may be measured (the hard gate)."""
    _approve(_workspace(root, contract))


def _approve(ws) -> None:
    from perfgate.stages import scoping

    scoping.approve(ws)
    _err(f"approved {ws.name}; next: perfgate baseline {ws.name}")


@cli.command()
@click.argument("contract")
@click.option("--force", is_flag=True, help="Measure again even if nothing changed.")
@ROOT_OPTION
def baseline(contract: str, force: bool, root: Path) -> None:
    """Measure CONTRACT's base commit (warmup + N runs) and write baseline.md."""
    ws = _workspace(root, contract)
    ran = _run_stage(root, "baseline", ws, force=force)
    if not ran:
        _err(f"baseline of {ws.name} is up to date; --force measures again")
    click.echo(ws.artifact("baseline").read_text(), nl=False)


def _run_stage(root: Path, stage: str, ws, *, force: bool, **options) -> bool:
    from perfgate import tasks

    _ = ws.contract  # validate first: a contract error is exit 2 before doit starts
    task = f"{stage}:{ws.contract_path.stem}"
    if force:  # forget only this task: --always-execute would also re-run (and reset) scoping
        tasks.run(root.resolve(), ["forget", task])
    code = tasks.run(root.resolve(), ["run", task], **options)
    if tasks.OUTCOME["error"] is not None:
        raise tasks.OUTCOME["error"]
    if code != 0:
        raise PerfgateError(f"doit {stage} failed with exit code {code}")
    return task in tasks.OUTCOME["ran"]


INTERLEAVE = click.option("--no-interleave", "interleave", flag_value=False, default=True,
                          help="Reuse the stored baseline instead of re-measuring it alongside.")
MISMATCH = click.option("--allow-fingerprint-mismatch", "allow_mismatch", is_flag=True,
                        help="With --no-interleave: accept a baseline from another machine.")
ADAPTIVE = click.option("--adaptive/--no-adaptive", "adaptive", default=None,
                        help="Add interleaved rounds while the verdict is inconclusive, up to "
                             "repro.max_measurement_runs (default: the contract's "
                             "significance.adaptive, else on unless $CI is set).")
JSON = click.option("--json", "as_json", is_flag=True,
                    help="Print the verdict document on stdout (tables go to stderr).")


@cli.command()
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
    from perfgate import tasks
    from perfgate.stages import fixing

    ws = _workspace(root, contract)
    if from_checkout:
        fixing.take_checkout(ws)
    _run_stage(root, "gating", ws, force=False, interleave=interleave,
               allow_mismatch=allow_mismatch, adaptive=adaptive)
    doc = tasks.OUTCOME["verdicts"].get(ws.name)
    if doc is None:
        _err(f"{ws.name}: the candidate is unchanged since the last gate; nothing to do")
        return
    _verdict_out(doc, as_json)


@cli.command()
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

    ws = _workspace(root, contract)
    with progress_bar() as progress:
        doc = compare_mod.compare(ws, base_ref, head_ref, yes=yes, interleave=interleave,
                                  allow_mismatch=allow_mismatch, mode=mode, progress=progress,
                                  adaptive=adaptive)
    md = compare_mod.publish_summary(ws, doc, base_ref, head_ref, summary_file)
    if fmt == "markdown":
        _err(report.verdict_text(doc))
        click.echo(md, nl=False)
        _raise_if_rejected(doc)
    _verdict_out(doc, as_json or fmt == "json")


def _raise_if_rejected(doc: dict) -> None:
    """Exit 1 on a rejection, 4 when the gate could not tell (see README, exit codes)."""
    v = doc["verdict"]
    if v == "accepted":
        return
    text = f"{v}: {doc['reasons'][0]}" if doc["reasons"] else v
    raise GateInconclusive(text) if v == "inconclusive" else GateRejected(text)


def _verdict_out(doc: dict, as_json: bool) -> None:
    from perfgate import report

    if as_json:
        _err(report.verdict_text(doc))
        click.echo(report.json_document(doc), nl=False)
    else:
        click.echo(report.verdict_text(doc))
    _raise_if_rejected(doc)


@cli.command(name="run")
@click.argument("contract")
@click.option("--fixer", required=True, metavar="CMD|manual",
              help="Command that edits the work tree; {brief}, {hotspot_json} and {worktree} "
                   "become arguments. `manual`: you edit, then press Enter.")
@ADAPTIVE
@ROOT_OPTION
def run_loop(contract: str, fixer: str, adaptive: bool | None, root: Path) -> None:
    """Run the loop: profile, propose, fix, measure, gate, until nothing is left to try."""
    from perfgate import loop

    ws = _workspace(root, contract)
    for line in loop.run(ws, fixer, manual=_manual if fixer == "manual" else None,
                         adaptive=adaptive):
        click.echo(line)


def _manual(brief: str, worktree: Path) -> None:
    if not sys.stdin.isatty():
        raise UsageError(f"--fixer manual needs a terminal: edit {worktree}, then run "
                         "`perfgate gate NAME`")
    click.echo(brief, err=True)
    click.prompt(f"Edit {worktree}, then press Enter", default="", show_default=False, err=True)


@cli.command()
@click.option("--runs", "-n", type=click.IntRange(1), default=10, show_default=True)
@click.option("--warmup", "-w", type=click.IntRange(0), default=1, show_default=True)
@click.option("--timeout", type=float, default=600, show_default=True, help="Seconds per run.")
@click.option("--json", "as_json", is_flag=True, help="Print every run as JSON on stdout.")
@click.option("--instructions", is_flag=True,
              help="Also count instructions (perf or valgrind, in a second pass of each run).")
@click.argument("command", nargs=-1, required=True)
def measure(runs: int, warmup: int, timeout: float, as_json: bool, instructions: bool,
            command: tuple[str, ...]) -> None:
    """Time COMMAND like hyperfine: wall, CPU and peak memory of the whole process tree."""
    from perfgate import report, sessions

    with sessions.progress_bar() as progress:
        records = sessions.run_series(list(command), runs=runs, warmup=warmup,
                                      timeout_s=timeout, progress=progress,
                                      count_instructions=instructions)
    click.echo(report.runs_json(records) if as_json else report.runs_table(records))


@cli.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where to create the demo repository (default: a temp dir).")
def demo(directory: Path | None) -> None:
    """Run the whole loop on the embedded demo, in a scratch git repository."""
    from perfgate import demo as demo_mod

    for line in demo_mod.run(directory):
        click.echo(line)


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command and map every outcome to one line and an exit code."""
    import warnings

    warnings.showwarning = lambda msg, *a, **k: _err(f"Warning: {msg}")
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = cli.main(args=argv, prog_name="perfgate", standalone_mode=False)
    except click.exceptions.Abort:
        _err("Interrupted.")
        sys.exit(130)
    except click.ClickException as exc:
        _err(f"Error: {exc.format_message()}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _err("Interrupted.")
        sys.exit(130)
    except (GateRejected, GateInconclusive) as exc:
        _err(str(exc))
        sys.exit(exc.exit_code)
    except PerfgateError as exc:
        _err(f"Error: {exc}")
        sys.exit(exc.exit_code)
    except Exception as exc:
        _err(f"Error: unexpected {exc.__class__.__name__}: {exc} (please report this)")
        sys.exit(3)
    sys.exit(code if isinstance(code, int) else 0)


# The history and calibration commands live in their own module; registering them is cheap.
from perfgate import cli_history, cli_shared  # noqa: E402,F401

cli_shared.register(cli)

__all__ = ["UsageError", "cli", "main"]
