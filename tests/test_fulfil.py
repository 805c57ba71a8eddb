"""Pure parts of the fulfilment service: batch specs and exit codes."""

from __future__ import annotations

import pytest

from cmectl.errors import ExitCode, UsageError
from cmectl.fulfil import exit_code_for, parse_serial
from cmectl.records import HostResult, Run


@pytest.mark.parametrize("spec, expected", [
    ("1,10%,50%", [1, "10%", "50%"]),
    ("5", [5]),
    (" 2 , 100% ", [2, "100%"]),
    (None, None),
])
def test_serial_specs(spec, expected):
    assert parse_serial(spec) == expected


@pytest.mark.parametrize("spec", ["0", "10%%", "101%", "a", "1,,2", "-1"])
def test_bad_serial_specs(spec):
    with pytest.raises(UsageError, match="batch size"):
        parse_serial(spec)


def run_with(*statuses, status="ok"):
    return Run(id="r", request_id="SR", action="install", packages=["nginx"], inventory="i",
               started_at="t", status=status,
               hosts=[HostResult(f"h{i}", s) for i, s in enumerate(statuses)])


@pytest.mark.parametrize("statuses, run_status, code", [
    (("ok", "changed"), "ok", ExitCode.OK),
    (("ok", "failed"), "failed", ExitCode.HOSTS_FAILED),
    (("failed", "not_run"), "failed", ExitCode.HOSTS_FAILED),
    (("unreachable", "aborted"), "unreachable", ExitCode.HOSTS_UNREACHABLE),
    (("unreachable", "changed"), "unreachable", ExitCode.HOSTS_UNREACHABLE),
    (("unreachable", "unreachable"), "unreachable", ExitCode.ALL_UNREACHABLE),
    (("ok", "interrupted"), "interrupted", ExitCode.INTERRUPTED),
    ((), "error", ExitCode.INTERNAL),
])
def test_exit_codes(statuses, run_status, code):
    assert exit_code_for(run_with(*statuses, status=run_status)) == code
