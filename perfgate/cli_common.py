"""What every `perfgate` command shares: its options, the project it works on, verdict output."""
from __future__ import annotations

from pathlib import Path

import click

from perfgate.errors import GateInconclusive, GateRejected

ROOT_OPTION = click.option("--root", type=click.Path(file_okay=False, path_type=Path),
                           default=".", show_default=True, help="The project's root directory.")
INTERLEAVE = click.option("--no-interleave", "interleave", flag_value=False, default=True,
                          help="Reuse the stored baseline instead of re-measuring it alongside.")
MISMATCH = click.option("--allow-fingerprint-mismatch", "allow_mismatch", is_flag=True,
                        help="With --no-interleave: accept a baseline from another machine.")
ADAPTIVE = click.option("--adaptive/--no-adaptive", "adaptive", default=None,
                        help="Add interleaved rounds while the verdict is inconclusive, up to "
                             "repro.max_measurement_runs (default: the contract's "
                             "significance.adaptive, else on unless $CI is set; always on "
                             "in --mode no-regression, whose pass needs evidence).")
JSON = click.option("--json", "as_json", is_flag=True,
                    help="Print the verdict document on stdout (tables go to stderr).")


def project(root: Path):
    from perfgate.workspace import Project

    return Project(root.resolve())


def workspace(root: Path, contract: str):
    """CONTRACT is a name under contracts/ or a path to a contract file anywhere."""
    return project(root).workspace(contract)


def err(text: str) -> None:
    click.echo(text, err=True)


def raise_if_rejected(doc: dict) -> None:
    """Exit 1 on a rejection, 4 when the gate could not tell (see README, exit codes)."""
    v = doc["verdict"]
    if v == "accepted":
        return
    text = f"{v}: {doc['reasons'][0]}" if doc["reasons"] else v
    raise GateInconclusive(text) if v == "inconclusive" else GateRejected(text)


def push_note(ws) -> None:
    """After a gate: send finished sessions to the shared store, if one is configured; one
    line on stderr when something was sent or waits (the verdict never depends on it)."""
    from perfgate import shared

    result = shared.push_pending(ws.project)
    if result.message:
        err(result.message)


def verdict_out(doc: dict, as_json: bool) -> None:
    """The verdict on stdout (the table, or the JSON document with the table on stderr)."""
    from perfgate import report

    if as_json:
        err(report.verdict_text(doc))
        click.echo(report.json_document(doc), nl=False)
    else:
        click.echo(report.verdict_text(doc))
    raise_if_rejected(doc)
