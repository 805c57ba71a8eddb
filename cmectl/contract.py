"""Service-level terms per customer: the contract a request is measured against.

The service specification promises a first response within 15 minutes of business time;
fulfilment targets and the working calendar differ from one contract to the next. A customer's
terms live in ``$CMECTL_HOME/contracts/<customer>.toml`` (``default.toml`` for everyone else)::

    calendar = "cn"              # built-in name or path of a calendar file
    response_minutes = 15        # first response, business minutes (7x24 for emergencies)

    [fulfil_hours]               # fulfilment per priority, hours of the request's clock
    emergency = 4
    high = 8
    normal = 16
    low = 40

Keys left out fall back to the settings (``calendar``, ``sla_response_minutes``) and to
:data:`FULFIL_HOURS`. The terms in force when a request is opened are copied onto the request
(:meth:`Contract.terms`), so a later change of contract never rewrites a past request's result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmectl.config import read_toml
from cmectl.errors import UsageError

# Fulfilment targets in hours of the request's clock (business time; 7x24 for emergencies).
FULFIL_HOURS: dict[str, float] = {"emergency": 4, "high": 8, "normal": 16, "low": 40}
RESPONSE_MINUTES = 15
_KEYS = ("calendar", "response_minutes", "fulfil_hours")
_SAFE_NAME = re.compile(r"^[\w.-]+$")


@dataclass(frozen=True)
class Contract:
    """Service-level terms: the working calendar and the targets per priority."""

    calendar: str = "cn"
    response_minutes: float = RESPONSE_MINUTES
    fulfil_hours: dict[str, float] = field(default_factory=lambda: dict(FULFIL_HOURS))
    source: str = "built-in defaults"

    def terms(self, priority: str) -> dict[str, Any]:
        """What a request of ``priority`` is held to, as kept on the request."""
        return {"calendar": self.calendar, "response_minutes": self.response_minutes,
                "fulfil_hours": self.fulfil_hours[priority], "source": self.source}


def contracts_dir(home: Path) -> Path:
    return home / "contracts"


def contract_path(home: Path, customer: str | None) -> Path | None:
    """The file holding ``customer``'s terms: their own, else ``default.toml``, else None."""
    folder = contracts_dir(home)
    if customer and _SAFE_NAME.match(customer):
        own = folder / f"{customer}.toml"
        if own.is_file():
            return own
    default = folder / "default.toml"
    return default if default.is_file() else None


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise UsageError(f"{where} must be a positive number of hours or minutes, not {value!r}",
                         "write a number greater than 0, e.g. 16")
    return float(value)


def parse_contract(path: Path, *, calendar: str, response_minutes: float) -> Contract:
    """Read a contract file; ``calendar`` and ``response_minutes`` fill what it leaves out."""
    data = read_toml(path, "fix the file (see 'SLA clock' in the README)")
    for key in data:
        if key not in _KEYS:
            raise UsageError(f"{path}: unknown key {key!r}", f"use only {', '.join(_KEYS)}")
    if "calendar" in data:
        if not isinstance(data["calendar"], str) or not data["calendar"]:
            raise UsageError(f"{path}: calendar must be a name or a path",
                             'write e.g. calendar = "cn"')
        calendar = data["calendar"]
        if "/" in calendar and not Path(calendar).expanduser().is_absolute():
            calendar = str(path.parent / calendar)  # relative to the contract file
    if "response_minutes" in data:
        response_minutes = _positive(data["response_minutes"], f"{path}: response_minutes")
    hours = dict(FULFIL_HOURS)
    given = data.get("fulfil_hours", {})
    if not isinstance(given, dict):
        raise UsageError(f"{path}: fulfil_hours must be a table",
                         "write it as a [fulfil_hours] section with one line per priority")
    for priority, value in given.items():
        if priority not in FULFIL_HOURS:
            raise UsageError(f"{path}: fulfil_hours has an unknown priority {priority!r}",
                             f"use only {', '.join(FULFIL_HOURS)}")
        hours[priority] = _positive(value, f"{path}: fulfil_hours.{priority}")
    return Contract(calendar=calendar, response_minutes=response_minutes, fulfil_hours=hours,
                    source=str(path))


def load_contract(home: Path, customer: str | None, *, calendar: str = "cn",
                  response_minutes: float = RESPONSE_MINUTES) -> Contract:
    """``customer``'s terms (the settings' calendar and response target where none are set).

    The calendar is loaded once here so that a contract naming a missing calendar is refused
    when a request is opened, not when its service level is first read."""
    from cmectl.sla import load_calendar

    path = contract_path(home, customer)
    if path is None:
        contract = Contract(calendar=calendar, response_minutes=response_minutes,
                            source="settings")
    else:
        contract = parse_contract(path, calendar=calendar, response_minutes=response_minutes)
    load_calendar(contract.calendar)
    return contract


def for_customer(customer: str | None, home: Path | None = None,
                 settings: Any = None) -> Contract:
    """:func:`load_contract` with the settings' calendar and response target as fallbacks;
    ``home`` defaults to $CMECTL_HOME and ``settings`` to the ones found there."""
    from cmectl.config import cmectl_home, load_settings

    home = home or cmectl_home()
    settings = settings or load_settings(home=home)
    return load_contract(home, customer, calendar=settings.calendar,
                         response_minutes=settings.sla_response_minutes)
