"""Perfgate's error kinds; each carries the exit code the CLI uses for it."""


class PerfgateError(Exception):
    """A known failure, reported as one line. Exit code 3 unless a subclass says otherwise."""

    exit_code = 3


class UsageError(PerfgateError):
    """Bad input from the user: a contract, a flag, a repository state. Exit 2."""

    exit_code = 2


class ContractError(UsageError):
    """A contract file that does not validate: message is `file: field.path: problem`."""


class StoreBusy(PerfgateError):
    """Another process held the store's lock past the timeout."""

    exit_code = 3


class SharedStoreError(PerfgateError):
    """The shared store could not be reached or refused a push (secrets masked). Exit 3:
    nothing is lost, the local store keeps what waits."""

    exit_code = 3


class MeasurementError(UsageError):
    """The user's command failed, timed out or lost a metric: the session cannot be used.
    Exit 2: it is bad input (a broken repro or profiler), not a perfgate fault."""


class SuiteError(UsageError):
    """A suite that cannot be gated: results that do not parse, a benchmark missing on one
    side, a name that is not in the results. Nothing half-measured is ever gated. Exit 2."""


class RunFailed(MeasurementError):
    """A measured run failed, timed out or lost a metric; `role` names the side it ran for."""

    def __init__(self, message: str, role: str) -> None:
        super().__init__(message)
        self.role = role


class GateRejected(PerfgateError):
    """The gate said no. Exit 1."""

    exit_code = 1


class GateInconclusive(PerfgateError):
    """The gate could not tell, even after the runs it was allowed to add. Exit 4."""

    exit_code = 4


class Interrupted(PerfgateError):
    """Ctrl-C or SIGTERM. Exit 130."""

    exit_code = 130
