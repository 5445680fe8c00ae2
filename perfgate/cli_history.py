"""`perfgate` commands over the store: calibrate, sql, history, plot, export, status."""
from __future__ import annotations

from pathlib import Path

import click

from perfgate.cli_common import ADAPTIVE, ROOT_OPTION, err, project, workspace
from perfgate.cli_shared import MACHINE, SHARED, store_for
from perfgate.errors import UsageError


@click.command()
@click.argument("contract")
@click.option("--gates", "-k", type=click.IntRange(1, 10000), default=20, show_default=True,
              help="A/A comparisons of the base commit against itself.")
@click.option("--effect", "effect_pct", type=click.FloatRange(0.1, 90), metavar="PCT",
              help="Also run K gates where a CPU burn slows one side so the other is PCT% "
                   "better: the measured detection rate (power).")
@ADAPTIVE
@click.option("--yes", "-y", is_flag=True, help="Do not require an approved scoping.")
@ROOT_OPTION
def calibrate(contract: str, gates: int, effect_pct: float | None, adaptive: bool | None,
              yes: bool, root: Path) -> None:
    """Measure this machine's false-accept rate, noise, smallest detectable change and the
    runs the threshold needs; stored, and shown by `perfgate status`."""
    from perfgate import calibration
    from perfgate.sessions import progress_bar

    ws = workspace(root, contract)
    with progress_bar() as progress:
        result = calibration.calibrate(ws, gates=gates, effect_pct=effect_pct, adaptive=adaptive,
                                       yes=yes, progress=progress)
    for line in result.advice:
        err(f"environment: {line}")
    for line in calibration.summary_lines(result):
        click.echo(line)
    err(f"(written to {ws.display(ws.dir / 'calibration.md')})")


@click.command()
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@SHARED
@ROOT_OPTION
def sql(query: str, fmt: str, shared: bool, root: Path) -> None:
    """Run a read-only SQL QUERY over the store (.perfgate/perfgate.duckdb)."""
    from perfgate import report

    columns, rows = store_for(root, shared).query(query)
    click.echo(report.rows(columns, rows, fmt))


BENCHMARK = click.option("--benchmark", help="One benchmark of a suite (default: the runs as a "
                                              "whole).")


@click.command()
@click.argument("contract", required=False)
@click.option("--metric", help="Default: the contract's primary metric (wall_time without one).")
@click.option("--last", type=click.IntRange(1), default=20, show_default=True)
@MACHINE
@SHARED
@BENCHMARK
@ROOT_OPTION
def history(contract: str | None, metric: str | None, last: int, machine: str | None,
            shared: bool, benchmark: str | None, root: Path) -> None:
    """One line per measured session, newest first: machine, median, change against the
    machine's previous session, verdict."""
    from perfgate import report

    name, metric = _contract_metric(root, contract, metric)
    columns, rows = store_for(root, shared).history(metric=metric, contract=name, last=last,
                                                    machine=machine, benchmark=benchmark)
    click.echo(report.history_table(columns, rows, metric,
                                    lower_is_better=_lower_is_better(root, contract, metric)))


@click.command()
@click.argument("contract")
@click.option("--metric", help="Default: the contract's primary metric.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@MACHINE
@SHARED
@BENCHMARK
@ROOT_OPTION
def plot(contract: str, metric: str | None, output: Path, machine: str | None, shared: bool,
         benchmark: str | None,
         root: Path) -> None:
    """Plot a metric's median and spread per session over time, accepted ones marked."""
    from perfgate import plot as plot_mod

    name, metric = _contract_metric(root, contract, metric)
    series = store_for(root, shared).plot_series(metric=metric, contract=name, machine=machine,
                                                 benchmark=benchmark)
    if not series:
        raise UsageError(f"no complete sessions of {name} with {metric} to plot")
    plot_mod.history(series, output, title=f"{name}: {metric}", unit=metric)
    err(f"wrote {output} ({len(series)} sessions)")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "parquet"]), default="csv",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@SHARED
@ROOT_OPTION
def export(fmt: str, output: Path, shared: bool, root: Path) -> None:
    """Export every sample with its run and session (streamed by DuckDB's COPY)."""
    n = store_for(root, shared).export(output.resolve(), fmt)
    err(f"wrote {n} samples to {output}")


def _contract_metric(root: Path, contract: str | None, metric: str | None):
    if contract is None:
        return None, metric or "wall_time"
    ws = workspace(root, contract)
    return ws.name, metric or ws.contract.metrics.primary.name


def _lower_is_better(root: Path, contract: str | None, metric: str) -> bool:
    """The metric's direction from the contract (built-in metrics: lower is better)."""
    if contract is None:
        return True
    found = [m for m in workspace(root, contract).contract.metrics.all() if m.name == metric]
    return found[0].lower_is_better if found else True


@click.command()
@ROOT_OPTION
def status(root: Path) -> None:
    """Show each contract's stage, epoch and latest sessions."""
    from perfgate import overview

    click.echo(overview.status_text(project(root)))


COMMANDS = (calibrate, sql, history, plot, export, status)
