"""`perfgate` commands over the store: calibrate, sql, history, plot, export, status."""
from __future__ import annotations

from pathlib import Path

import click

from perfgate.cli_common import ADAPTIVE, ROOT_OPTION, err, project, workspace
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
@ROOT_OPTION
def sql(query: str, fmt: str, root: Path) -> None:
    """Run a read-only SQL QUERY over the store (.perfgate/perfgate.duckdb)."""
    from perfgate import report

    columns, rows = project(root).store().query(query)
    click.echo(report.rows(columns, rows, fmt))


BENCHMARK = click.option("--benchmark", help="One benchmark of a suite (default: the runs as a "
                                              "whole).")


@click.command()
@click.argument("contract", required=False)
@click.option("--metric", help="Default: the contract's primary metric (wall_time without one).")
@click.option("--last", type=click.IntRange(1), default=20, show_default=True)
@BENCHMARK
@ROOT_OPTION
def history(contract: str | None, metric: str | None, last: int, benchmark: str | None,
            root: Path) -> None:
    """One line per measured session, newest first: median, change, verdict."""
    from perfgate import report

    name, metric = _contract_metric(root, contract, metric)
    columns, rows = project(root).store().history(metric=metric, contract=name, last=last,
                                                  benchmark=benchmark)
    click.echo(report.history_table(columns, rows, metric))


@click.command()
@click.argument("contract")
@click.option("--metric", help="Default: the contract's primary metric.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@BENCHMARK
@ROOT_OPTION
def plot(contract: str, metric: str | None, output: Path, benchmark: str | None,
         root: Path) -> None:
    """Plot a metric's median and spread per session over time, accepted ones marked."""
    from perfgate import plot as plot_mod

    name, metric = _contract_metric(root, contract, metric)
    series = project(root).store().plot_series(metric=metric, contract=name,
                                               benchmark=benchmark)
    if not series:
        raise UsageError(f"no complete sessions of {name} with {metric} to plot")
    plot_mod.history(series, output, title=f"{name}: {metric}", unit=metric)
    err(f"wrote {output} ({len(series)} sessions)")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "parquet"]), default="csv",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@ROOT_OPTION
def export(fmt: str, output: Path, root: Path) -> None:
    """Export every sample with its run and session (csv and parquet via DuckDB's COPY)."""
    n = project(root).store().export(output.resolve(), fmt)
    err(f"wrote {n} samples to {output}")


def _contract_metric(root: Path, contract: str | None, metric: str | None):
    if contract is None:
        return None, metric or "wall_time"
    ws = workspace(root, contract)
    return ws.name, metric or ws.contract.metrics.primary.name


@click.command()
@ROOT_OPTION
def status(root: Path) -> None:
    """Show each contract's stage, epoch and latest sessions."""
    from perfgate import overview

    click.echo(overview.status_text(project(root)))


COMMANDS = (calibrate, sql, history, plot, export, status)
