"""Service requests: opened when a customer asks, acknowledged when an engineer answers,
fulfilled when runs have succeeded on every asked-for host, then closed (or cancelled).

The SLA is measured here: the first response against its target (15 minutes of business time
by default; emergencies on the 7x24 clock) and fulfilment against a target per priority, as
the customer's contract (cmectl.contract) sets them when the request is opened.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cmectl.contract import Contract
from cmectl.errors import UsageError
from cmectl.records import (
    CHANNELS,
    PRIORITIES,
    RecordStore,
    Request,
    Run,
    new_request_id,
    utcnow,
)
from cmectl.sla import ALWAYS, Calendar, add_business_time, business_seconds, load_calendar

DONE = ("ok", "changed")


def _parse_time(text: str, what: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{what} {text!r} is not a date and time",
                         "write it like 2026-11-24T10:03+08:00") from None
    if moment.tzinfo is None:
        raise UsageError(f"{what} {text!r} has no timezone", "add one, e.g. +08:00") from None
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def open_request(store: RecordStore, *, title: str, customer: str, requester: str | None,
                 channel: str, priority: str, packages: list[str], hosts: list[str],
                 action: str = "install", inventory: str | None = None,
                 limit: str | None = None, received_at: str | None = None,
                 request_id: str | None = None, contract: Contract | None = None) -> Request:
    """Record a new request; ``contract`` (default: the built-in terms) sets the targets it is
    held to, copied onto the request."""
    if channel not in CHANNELS:
        raise UsageError(f"channel {channel!r} is not known", f"use one of {', '.join(CHANNELS)}")
    if priority not in PRIORITIES:
        raise UsageError(f"priority {priority!r} is not known",
                         f"use one of {', '.join(PRIORITIES)}")
    now = utcnow()
    req = Request(
        id=request_id or new_request_id(), created_at=now,
        received_at=_parse_time(received_at, "--received") if received_at else now,
        title=title, customer=customer, requester=requester, channel=channel,
        priority=priority, action=action, packages=packages, hosts=hosts,
        inventory=inventory, limit_expr=limit,
        sla=(contract or Contract()).terms(priority),
    )
    if req.received_at > now:
        raise UsageError(f"--received {received_at} is in the future", "give when it was asked")
    store.open_request(req)
    return req


def _note(req: Request, kind: str, text: str | None, at: str) -> None:
    req.notes.append({"at": at, "kind": kind, "text": text or ""})


def acknowledge(store: RecordStore, request_id: str, note: str | None = None,
                at: str | None = None) -> Request:
    req = store.get_request(request_id)
    if req.status in ("closed", "cancelled"):
        raise UsageError(f"request {req.id} is {req.status}", "there is nothing to acknowledge")
    if req.acknowledged_at:
        raise UsageError(f"request {req.id} was acknowledged at {req.acknowledged_at}",
                         "add information with 'cmectl request note' instead")
    when = _parse_time(at, "--at") if at else utcnow()
    req.acknowledged_at = when
    if req.status == "open":
        req.status = "acknowledged"
    _note(req, "ack", note, when)
    store.update_request(req)
    return req


def add_note(store: RecordStore, request_id: str, text: str) -> Request:
    req = store.get_request(request_id)
    _note(req, "note", text, utcnow())
    store.update_request(req)
    return req


def _end(store: RecordStore, request_id: str, status: str, verb: str, text: str | None
         ) -> Request:
    """Move a request to its final status (closed or cancelled), with a note."""
    req = store.get_request(request_id)
    if req.status in ("closed", "cancelled"):
        raise UsageError(f"request {req.id} is already {req.status}", f"nothing to {verb}")
    now = utcnow()
    setattr(req, f"{status}_at", now)
    req.status = status
    _note(req, verb, text, now)
    store.update_request(req)
    return req


def close(store: RecordStore, request_id: str, note: str | None = None) -> Request:
    return _end(store, request_id, "closed", "close", note)


def cancel(store: RecordStore, request_id: str, reason: str) -> Request:
    return _end(store, request_id, "cancelled", "cancel", reason)


def refresh_fulfilment(store: RecordStore, request_id: str) -> Request:
    """Mark the request fulfilled once runs have succeeded for every (package, host) asked."""
    req = store.get_request(request_id)
    runs = sorted((r for r in store.list_runs(limit=10_000, request_id=request_id)
                   if r.ended_at and not r.check_mode and r.action == req.action),
                  key=lambda r: r.ended_at)
    if runs and not req.hosts:
        req.hosts = sorted(runs[0].options.get("hosts", []))
    if runs and not req.packages:
        req.packages = list(runs[0].packages)
    pending = {(p, h) for p in req.packages for h in req.hosts}
    done_at = None
    for run in runs:
        for host in run.hosts:
            if host.status not in DONE:
                continue
            for pkg in run.packages:
                if (pkg, host.host) in pending:
                    pending.discard((pkg, host.host))
                    done_at = run.ended_at
    if pending or done_at is None:
        store.update_request(req)
        return req
    if not req.fulfilled_at:
        req.fulfilled_at = done_at
        if req.status in ("open", "acknowledged"):
            req.status = "fulfilled"
    store.update_request(req)
    return req


@dataclass
class Clock:
    """One SLA measurement: a target, when it fell due, and how it went."""

    target_s: float
    due: str
    at: str | None  # when it happened (None: not yet)
    elapsed_s: float  # clock time from receipt to `at` (or to now)
    met: bool | None  # None: not happened and not yet due

    @property
    def margin_s(self) -> float:
        return self.target_s - self.elapsed_s

    def to_dict(self) -> dict[str, Any]:
        return {"target_s": self.target_s, "due": self.due, "at": self.at,
                "elapsed_s": round(self.elapsed_s), "met": self.met,
                "margin_s": round(self.margin_s)}


def first_response(req: Request, runs: list[Run]) -> str | None:
    """An acknowledgement, or failing that the first run started for the request."""
    candidates = [t for t in [req.acknowledged_at, *(r.started_at for r in runs)] if t]
    return min(candidates, key=dt.datetime.fromisoformat) if candidates else None


def _measure(clock: Calendar, received: dt.datetime, target_s: float, at: str | None,
             now: dt.datetime) -> Clock:
    due = add_business_time(clock, received, target_s)
    end = dt.datetime.fromisoformat(at) if at else now
    elapsed = business_seconds(clock, received, end)
    if at:
        met: bool | None = elapsed <= target_s
    elif elapsed > target_s:
        met = False  # has not happened and is already late
    else:
        met = None
    return Clock(target_s, due.astimezone(dt.UTC).isoformat(timespec="seconds"), at, elapsed,
                 met)


def terms_of(req: Request, contract: Contract) -> dict[str, Any]:
    """The terms ``req`` is held to: those copied onto it when it was opened, else (requests
    recorded before contracts were kept) ``contract``'s."""
    return req.sla or contract.terms(req.priority)


def service_level(req: Request, runs: list[Run], contract: Contract,
                  now: dt.datetime | None = None) -> dict[str, Any]:
    """Whether the response and fulfilment targets were met, and by how much."""
    terms = terms_of(req, contract)
    calendar: Calendar = load_calendar(terms["calendar"])
    clock = ALWAYS if req.priority == "emergency" else calendar
    now = now or dt.datetime.now(dt.UTC)
    received = dt.datetime.fromisoformat(req.received_at)
    response = _measure(clock, received, terms["response_minutes"] * 60,
                        first_response(req, runs), now)
    fulfil = _measure(clock, received, terms["fulfil_hours"] * 3600, req.fulfilled_at, now)
    if req.status == "cancelled":
        fulfil.met = None
    return {"clock": clock.name, "response": response.to_dict(),
            "fulfilment": fulfil.to_dict(), "terms": terms}
