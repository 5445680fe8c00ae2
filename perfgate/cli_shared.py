"""`perfgate push`, and the --shared / --machine options the history commands share."""
from __future__ import annotations

from pathlib import Path

import click

from perfgate.cli_common import ROOT_OPTION, err

SHARED = click.option("--shared", is_flag=True,
                      help="Read the team's shared store (see `perfgate push --help`) instead "
                           "of .perfgate/perfgate.duckdb.")
MACHINE = click.option("--machine", metavar="HOST/HASH",
                       help="Only sessions of this machine (the `machine` column).")


def store_for(root: Path, shared: bool):
    """The store a read command uses: the project's file, or with --shared the team's."""
    from perfgate import shared as shared_mod
    from perfgate.workspace import Project

    return shared_mod.store_for(Project(root.resolve()), shared)


@click.command()
@click.option("--batch", type=click.IntRange(1), default=1000, show_default=True,
              help="Sessions per atomic transaction.")
@ROOT_OPTION
def push(batch: int, root: Path) -> None:
    """Send finished sessions (runs, samples, decisions, calibrations) that the shared store
    does not have yet. Configured by [tool.perfgate.shared] catalog and data in
    pyproject.toml (or [shared] in perfgate.toml), or $PERFGATE_SHARED_CATALOG and
    $PERFGATE_SHARED_DATA; S3 keys come from the AWS_* variables. Idempotent: a session is
    never sent twice."""
    from perfgate import shared
    from perfgate.workspace import Project

    project = Project(root.resolve())
    if shared.load_config(project.root) is None:
        shared.open_store(project)  # raises the one-line "how to configure" error
    err(shared.push(project, batch=batch).message)


COMMANDS = (push,)
