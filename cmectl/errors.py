"""One error hierarchy for cmectl; every error carries its exit code and a fix.

The command line catches :class:`CmectlError` at a single boundary and prints one line:
what went wrong, then what to do about it. Tracebacks appear only under ``--debug``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes. Stable: scripts and CI jobs branch on them."""

    OK = 0
    INTERNAL = 1  # a bug in cmectl; run again with --debug and report it
    USAGE = 2  # bad options or arguments (Click uses 2 as well)
    UNKNOWN_PACKAGE = 3  # a package id that is not in the catalogue, or has no role yet
    BAD_INVENTORY = 4  # inventory missing, unreadable or malformed
    NO_HOSTS = 5  # the inventory and --limit together match no host
    BAD_VARIABLE = 6  # a variable rejected by the role's argument_specs
    HOSTS_FAILED = 7  # the run finished but a task failed on one or more hosts
    HOSTS_UNREACHABLE = 8  # some hosts could not be reached; nothing was changed
    ALL_UNREACHABLE = 9  # no host could be reached; nothing was changed
    ENVIRONMENT = 10  # something on the management server is missing (engine, tool, store)
    NOT_FOUND = 11  # a run, request or lab that does not exist
    INTERRUPTED = 130  # stopped with Ctrl-C (128 + SIGINT)


class CmectlError(Exception):
    """Base for every error the command line reports as one line."""

    code: ExitCode = ExitCode.INTERNAL

    def __init__(self, problem: str, fix: str | None = None):
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return self.problem if not self.fix else f"{self.problem}; {self.fix}"


class UsageError(CmectlError):
    code = ExitCode.USAGE


class UnknownPackageError(CmectlError):
    code = ExitCode.UNKNOWN_PACKAGE


class InventoryError(CmectlError):
    code = ExitCode.BAD_INVENTORY


class NoHostsError(CmectlError):
    code = ExitCode.NO_HOSTS


class VariableError(CmectlError):
    code = ExitCode.BAD_VARIABLE


class EnvironmentProblem(CmectlError):
    code = ExitCode.ENVIRONMENT


class NotFoundError(CmectlError):
    code = ExitCode.NOT_FOUND
