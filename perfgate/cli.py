"""The `perfgate` command: the group, its command modules, and the one error handler."""
from __future__ import annotations

import signal
import sys

import click

from perfgate import cli_find, cli_history, cli_loop, cli_shared
from perfgate.cli_common import err
from perfgate.errors import GateInconclusive, GateRejected, PerfgateError, UsageError


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Exit codes: 0 accepted, 1 rejected, 2 usage or contract error, "
                    "3 unexpected, 4 inconclusive, 130 interrupted.")
@click.version_option(package_name="perfgate")
def cli() -> None:
    """Measure a change, test it for significance, and keep it only if it earned it."""


for _command in (*cli_loop.COMMANDS, *cli_history.COMMANDS, *cli_find.COMMANDS,
                 *cli_shared.COMMANDS):
    cli.add_command(_command)


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command and map every outcome to one line and an exit code."""
    import warnings

    warnings.showwarning = lambda msg, *a, **k: err(f"Warning: {msg}")
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = cli.main(args=argv, prog_name="perfgate", standalone_mode=False)
    except click.exceptions.Abort:
        err("Interrupted.")
        sys.exit(130)
    except click.ClickException as exc:
        err(f"Error: {exc.format_message()}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err("Interrupted.")
        sys.exit(130)
    except (GateRejected, GateInconclusive) as exc:
        err(str(exc))
        sys.exit(exc.exit_code)
    except PerfgateError as exc:
        err(f"Error: {exc}")
        sys.exit(exc.exit_code)
    except Exception as exc:
        err(f"Error: unexpected {exc.__class__.__name__}: {exc} (please report this)")
        sys.exit(3)
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["UsageError", "cli", "main"]
