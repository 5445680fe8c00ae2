"""`perfgate` commands that find the commit: bisect and detect."""
from __future__ import annotations

import json
from pathlib import Path

import click

from perfgate.cli_common import ADAPTIVE, ROOT_OPTION, err, workspace
from perfgate.errors import GateInconclusive, GateRejected, UsageError
from perfgate.stats import TESTS


@click.command()
@click.argument("contract")
@click.option("--good", "good_ref", metavar="REF", help="A commit where the metric was fine.")
@click.option("--bad", "bad_ref", metavar="REF", help="A later commit where it moved.")
@click.option("--from-change", type=click.IntRange(1), metavar="N",
              help="Bisect change N of the last `perfgate detect` (the measured commits "
                   "around it) instead of --good/--bad.")
@ADAPTIVE
@click.option("--test", type=click.Choice(TESTS),
              default="wilcoxon", show_default=True,
              help="How each pair of commits is judged: wilcoxon pairs their runs round by "
                   "round (they are always measured together), so drift they share cancels.")
@click.option("--yes", "-y", is_flag=True, help="Do not require an approved scoping.")
@click.option("--json", "as_json", is_flag=True,
              help="Print bisect.json on stdout (the summary goes to stderr).")
@ROOT_OPTION
def bisect(contract: str, good_ref: str | None, bad_ref: str | None, from_change: int | None,
           adaptive: bool | None, test: str, yes: bool, as_json: bool, root: Path) -> None:
    """Find the commit(s) between --good and --bad where the primary metric moved by the
    threshold. Exit 0 culprit found, 1 no change, 4 inconclusive; Ctrl-C resumes."""
    from perfgate import bisect as bisect_mod
    from perfgate import detect, findings
    from perfgate.sessions import progress_bar

    ws = workspace(root, contract)
    if from_change is not None and (good_ref or bad_ref):
        raise UsageError("give --from-change or --good/--bad, not both")
    if from_change is not None:
        good_ref, bad_ref = detect.change_range(ws, from_change)
    elif not (good_ref and bad_ref):
        raise UsageError("bisect needs --good REF and --bad REF (or --from-change N)")
    with progress_bar() as progress:
        doc = bisect_mod.bisect(ws, good_ref, bad_ref, yes=yes, adaptive=adaptive, test=test,
                                progress=progress, log=err)
    _out(findings.bisect_text(doc), doc, as_json)
    err(f"(written to {ws.display(ws.dir / 'bisect' / 'bisect.md')})")
    if doc["result"] == "no change":
        raise GateRejected("no change: no commit moved the metric by the threshold")
    if doc["result"] == "inconclusive":
        raise GateInconclusive("inconclusive: some steps stayed unclear at the run cap")


@click.command()
@click.argument("contract")
@click.option("--ref", default="HEAD", show_default=True, help="The branch (or commit) whose "
              "first-parent history is searched.")
@click.option("--last", type=click.IntRange(2, 100000), default=100, show_default=True,
              help="How many commits back from REF.")
@click.option("--measure", is_flag=True,
              help="Measure the commits that have no stored session (each in a worktree).")
@click.option("--alpha", type=click.FloatRange(0.0001, 0.2), default=0.01, show_default=True,
              help="Significance of the permutation test of each change point.")
@click.option("--permutations", type=click.IntRange(19, 100000), default=199,
              show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]),
              default="text", show_default=True, help="What goes to stdout.")
@click.option("--yes", "-y", is_flag=True, help="With --measure: do not require an approved "
              "scoping.")
@ROOT_OPTION
def detect(contract: str, ref: str, last: int, measure: bool, alpha: float, permutations: int,
           fmt: str, yes: bool, root: Path) -> None:
    """Find change points in CONTRACT's history (E-Divisive means, one point per commit).
    Exit 1 when one is a regression beyond the threshold, else 0."""
    from perfgate import detect as detect_mod
    from perfgate import findings
    from perfgate.sessions import progress_bar

    ws = workspace(root, contract)
    with progress_bar() as progress:
        doc = detect_mod.detect(ws, ref=ref, last=last, measure=measure, alpha=alpha,
                                permutations=permutations, yes=yes, progress=progress, log=err)
    if fmt == "markdown":
        err(findings.detect_text(doc))
        click.echo(findings.detect_markdown(doc, epoch=0).body, nl=False)
    else:
        _out(findings.detect_text(doc), doc, fmt == "json")
    if doc["regressions"]:
        raise GateRejected(f"regression: {doc['regressions']} change point"
                           f"{'s' if doc['regressions'] != 1 else ''} beyond the threshold")


def _out(text: str, doc: dict, as_json: bool) -> None:
    if as_json:
        err(text)
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(text)


COMMANDS = (bisect, detect)
