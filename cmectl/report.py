"""Monthly service reports: what a customer asked for in a month, and how it went.

A report is built from the record store alone (requests, their runs and per-host results;
never a run's variables) and rendered as JSON, CSV or one self-contained HTML file. The HTML
file carries its own CSS and draws its charts as inline SVG made here, so it opens anywhere,
offline, with nothing to fetch and no script to run.

Which requests: those of the customer *received* in the month, the month's edges taken at
midnight in the calendar's timezone (Asia/Shanghai for ``cn``). Their runs are all counted,
even one that ran after the month ended. Check-mode (dry) runs count as a first response, as
they do in ``cmectl request show``, but not as runs, installs or failures.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import math
import re
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from cmectl.contract import Contract
from cmectl.errors import UsageError
from cmectl.records import RecordStore, Run
from cmectl.requests import service_level
from cmectl.sla import Calendar, load_calendar

MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
DONE = ("ok", "changed")  # host statuses that mean the packages are there
FAILED = ("failed", "unreachable", "interrupted")  # host statuses listed as failures
RUN_FAILED = ("failed", "unreachable", "interrupted", "error", "lost")
ALL = 1_000_000  # "no limit" for the store's list queries


# -- the report, as plain data ---------------------------------------------------------------

@dataclass
class Period:
    month: str  # YYYY-MM
    start: str  # first moment of the month, local time (ISO 8601 with offset)
    end: str  # first moment of the next month, local time (exclusive)
    timezone: str


@dataclass
class RequestRow:
    no: int  # 1, 2, ... in order of receipt; the charts label requests with it
    id: str
    title: str | None
    priority: str
    channel: str | None
    requester: str | None
    status: str
    clock: str  # the SLA clock: the calendar's name, or 7x24 for emergencies
    received_at: str  # UTC
    response_at: str | None  # first response: acknowledgement or first run (None: not yet)
    # Clock minutes from receipt to the first response; while there is none yet, to `now`.
    response_minutes: float
    response_target_minutes: float
    response_met: bool | None  # None: no response yet and not yet due
    fulfilled_at: str | None
    # Clock minutes from receipt to fulfilment; while not fulfilled, to `now`. None: cancelled.
    fulfilment_minutes: float | None
    fulfilment_target_minutes: float
    fulfilment_met: bool | None  # None: not fulfilled and not yet due, or cancelled
    packages: list[str]
    hosts: list[str]
    runs: int  # runs that did something (check-mode runs left out)
    failed_runs: int


@dataclass
class Totals:
    requests: int = 0
    by_priority: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    response_met: int = 0
    response_missed: int = 0
    response_pending: int = 0
    response_met_pct: float | None = None  # of the requests whose outcome is known
    fulfilment_met: int = 0
    fulfilment_missed: int = 0
    fulfilment_pending: int = 0  # includes cancelled requests
    fulfilment_met_pct: float | None = None
    response_median_minutes: float | None = None  # of the requests answered
    response_p95_minutes: float | None = None  # nearest-rank 95th percentile
    runs: int = 0
    failed_runs: int = 0
    check_runs: int = 0
    hosts: int = 0  # distinct hosts the runs worked on
    installed: int = 0  # (host, package) pairs installed at the end of the month's runs
    host_failures: int = 0


@dataclass
class Installed:
    host: str
    package: str
    version: str | None
    state: str  # installed | removed (a later successful uninstall)
    at: str  # when the run that did it ended (UTC)
    run_id: str
    request_id: str


@dataclass
class Failure:
    host: str  # "" when the run failed before reaching any host
    status: str
    package: str
    task: str | None
    message: str
    at: str
    run_id: str
    request_id: str


@dataclass
class Cause:
    message: str
    count: int
    hosts: list[str]
    failures: list[Failure]


@dataclass
class Day:
    date: str  # local date, YYYY-MM-DD
    ok: int
    failed: int
    working_day: bool
    in_month: bool


@dataclass
class Report:
    customer: str
    period: Period
    calendar: str
    generated_at: str
    response_target_minutes: float
    fulfilment_target_hours: dict[str, float]
    requests: list[RequestRow]
    totals: Totals
    installed: list[Installed]  # latest successful install per (host, package)
    failures: list[Cause]  # grouped by message, most frequent first
    runs_per_day: list[Day]

    @property
    def empty(self) -> bool:
        return not self.requests

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "empty": self.empty}


# -- building --------------------------------------------------------------------------------

def _moment(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _utc(text: str | None) -> str | None:
    return _moment(text).astimezone(dt.UTC).isoformat(timespec="seconds") if text else None


def month_bounds(month: str, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The first moment of ``month`` (YYYY-MM) and of the month after, in ``tz``."""
    match = MONTH.fullmatch(month.strip()) if isinstance(month, str) else None
    if not match:
        raise UsageError(f"--month {month!r} is not a month", "write it as YYYY-MM, e.g. 2026-11")
    year, number = int(match[1]), int(match[2])
    start = dt.datetime(year, number, 1, tzinfo=tz)
    end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return start, end


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _p95(values: list[float]) -> float | None:
    """Nearest rank: the smallest value with at least 95% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def _version(host_installed: dict[str, Any], package: str) -> str | None:
    facts = host_installed.get(package)
    if not isinstance(facts, dict):  # a role's fact may name the package it installed
        facts = next((f for f in host_installed.values()
                      if isinstance(f, dict) and f.get("package") == package), None)
    version = facts.get("version") if isinstance(facts, dict) else None
    return str(version) if version not in (None, "") else None


def _failing_package(run: Run, task: str | None) -> str:
    """The package a failed task belongs to ("nginx : Install" -> nginx), else all of the run's."""
    role, sep, _ = (task or "").partition(" : ")
    return role.strip() if sep and role.strip() in run.packages else ", ".join(run.packages)


def build_report(store: RecordStore, customer: str, month: str, contract: Contract,
                 now: dt.datetime | None = None) -> Report:
    """The report of ``customer``'s requests received in ``month`` (YYYY-MM), each measured
    against the terms it was opened under; the heading shows ``contract``'s current terms."""
    if not customer or not customer.strip():
        raise UsageError("no customer given", "name the customer with --customer")
    calendar = load_calendar(contract.calendar)
    start, end = month_bounds(month, calendar.tz)
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise UsageError("the report's 'now' has no timezone", "pass an aware datetime")
    # The store compares text; widen by a day so any stored offset falls inside, then
    # decide on the parsed moments.
    since = (start - dt.timedelta(days=1)).astimezone(dt.UTC).isoformat(timespec="seconds")
    until = (end + dt.timedelta(days=1)).astimezone(dt.UTC).isoformat(timespec="seconds")
    reqs = [r for r in store.list_requests(customer=customer, since=since, until=until, limit=ALL)
            if start <= _moment(r.received_at) < end]
    reqs.sort(key=lambda r: (_moment(r.received_at), r.id))

    rows: list[RequestRow] = []
    all_runs: list[Run] = []
    for no, req in enumerate(reqs, start=1):
        runs = store.list_runs(limit=ALL, request_id=req.id)
        sla = service_level(req, runs, contract, now)
        real = [r for r in runs if not r.check_mode]
        all_runs.extend(runs)
        response, fulfil = sla["response"], sla["fulfilment"]
        rows.append(RequestRow(
            no=no, id=req.id, title=req.title, priority=req.priority, channel=req.channel,
            requester=req.requester, status=req.status, clock=sla["clock"],
            received_at=_utc(req.received_at), response_at=_utc(response["at"]),
            response_minutes=round(response["elapsed_s"] / 60, 1),
            response_target_minutes=round(response["target_s"] / 60, 1),
            response_met=response["met"], fulfilled_at=_utc(req.fulfilled_at),
            fulfilment_minutes=None if req.status == "cancelled"
            else round(fulfil["elapsed_s"] / 60, 1),
            fulfilment_target_minutes=round(fulfil["target_s"] / 60, 1),
            fulfilment_met=fulfil["met"], packages=list(req.packages), hosts=list(req.hosts),
            runs=len(real), failed_runs=sum(r.status in RUN_FAILED for r in real),
        ))

    all_runs.sort(key=lambda r: (_moment(r.started_at), r.id))
    real_runs = [r for r in all_runs if not r.check_mode]
    installed = _installed(real_runs)
    causes = _failures(real_runs)
    days = _runs_per_day(real_runs, calendar, start, end)

    answered = [r.response_minutes for r in rows if r.response_at]
    totals = Totals(
        requests=len(rows),
        by_priority={p: n for p in ("emergency", "high", "normal", "low")
                     if (n := sum(r.priority == p for r in rows))},
        by_status={s: sum(r.status == s for r in rows) for s in sorted({r.status for r in rows})},
        response_met=sum(r.response_met is True for r in rows),
        response_missed=sum(r.response_met is False for r in rows),
        response_pending=sum(r.response_met is None for r in rows),
        fulfilment_met=sum(r.fulfilment_met is True for r in rows),
        fulfilment_missed=sum(r.fulfilment_met is False for r in rows),
        fulfilment_pending=sum(r.fulfilment_met is None for r in rows),
        response_median_minutes=round(statistics.median(answered), 1) if answered else None,
        response_p95_minutes=_p95(answered),
        runs=len(real_runs), failed_runs=sum(r.status in RUN_FAILED for r in real_runs),
        check_runs=len(all_runs) - len(real_runs),
        hosts=len({h.host for r in real_runs for h in r.hosts}),
        installed=sum(i.state == "installed" for i in installed),
        host_failures=sum(c.count for c in causes),
    )
    totals.response_met_pct = _percent(totals.response_met,
                                       totals.response_met + totals.response_missed)
    totals.fulfilment_met_pct = _percent(totals.fulfilment_met,
                                         totals.fulfilment_met + totals.fulfilment_missed)
    return Report(
        customer=customer,
        period=Period(month=month.strip(), start=start.isoformat(), end=end.isoformat(),
                      timezone=str(calendar.tz)),
        calendar=calendar.name, generated_at=now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        response_target_minutes=contract.response_minutes,
        fulfilment_target_hours=dict(contract.fulfil_hours),
        requests=rows, totals=totals, installed=installed, failures=causes, runs_per_day=days,
    )


def _installed(runs: list[Run]) -> list[Installed]:
    """The latest successful install per (host, package); a later uninstall marks it removed."""
    latest: dict[tuple[str, str], Installed] = {}
    for run in runs:  # oldest first, so later runs win
        if run.action not in ("install", "uninstall"):
            continue
        at = _utc(run.ended_at or run.started_at)
        for host in run.hosts:
            if host.status not in DONE:
                continue
            for package in run.packages:
                key = (host.host, package)
                if run.action == "uninstall":
                    if key in latest:
                        latest[key].state, latest[key].at = "removed", at
                    continue
                latest[key] = Installed(host=host.host, package=package,
                                        version=_version(host.installed, package),
                                        state="installed", at=at, run_id=run.id,
                                        request_id=run.request_id)
    return sorted(latest.values(), key=lambda i: (i.host, i.package))


def _failures(runs: list[Run]) -> list[Cause]:
    failures: list[Failure] = []
    for run in runs:
        at = _utc(run.ended_at or run.started_at)
        hosts = [h for h in run.hosts if h.status in FAILED]
        for h in hosts:
            failures.append(Failure(
                host=h.host, status=h.status, package=_failing_package(run, h.failed_task),
                task=h.failed_task, message=h.message or f"{h.status} without a message",
                at=at, run_id=run.id, request_id=run.request_id))
        if not hosts and run.status in ("error", "lost", "interrupted") and \
                not any(h.status in DONE for h in run.hosts):
            failures.append(Failure(
                host="", status=run.status, package=", ".join(run.packages), task=None,
                message=run.message or f"run {run.status}", at=at, run_id=run.id,
                request_id=run.request_id))
    groups: dict[str, list[Failure]] = {}
    for f in failures:
        groups.setdefault(f.message, []).append(f)
    causes = [Cause(message=m, count=len(fs), hosts=sorted({f.host for f in fs if f.host}),
                    failures=fs) for m, fs in groups.items()]
    return sorted(causes, key=lambda c: (-c.count, c.message))


def _runs_per_day(runs: list[Run], calendar: Calendar, start: dt.datetime,
                  end: dt.datetime) -> list[Day]:
    tz = calendar.tz
    counts: dict[dt.date, list[int]] = {}
    day = start.date()
    while day < end.date():
        counts[day] = [0, 0]
        day += dt.timedelta(days=1)
    for run in runs:
        if run.status == "running":
            continue
        local = _moment(run.started_at).astimezone(tz).date()
        counts.setdefault(local, [0, 0])[run.status in RUN_FAILED] += 1
    return [Day(date=d.isoformat(), ok=ok, failed=failed,
                working_day=calendar.always or calendar.is_working_day(d),
                in_month=start.date() <= d < end.date())
            for d, (ok, failed) in sorted(counts.items())]


# -- JSON and CSV ----------------------------------------------------------------------------

def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = (
    "no", "request", "title", "priority", "channel", "requester", "status", "clock",
    "received", "responded", "response_minutes", "response_target_minutes", "response_sla",
    "fulfilled", "fulfilment_minutes", "fulfilment_target_minutes", "fulfilment_sla",
    "packages", "hosts", "runs", "failed_runs",
)


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "missed", None: "pending"}[met]


def _cell(text: str | None) -> str:
    """Text from records, made safe for spreadsheets (no formula can start a cell)."""
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(report: Report) -> str:
    """One row per request, times in the report's timezone."""
    tz = _tz(report)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in report.requests:
        writer.writerow([
            r.no, _cell(r.id), _cell(r.title), r.priority, r.channel or "", _cell(r.requester),
            r.status, r.clock, _local(r.received_at, tz), _local(r.response_at, tz),
            r.response_minutes if r.response_at else "", r.response_target_minutes,
            _verdict(r.response_met), _local(r.fulfilled_at, tz),
            r.fulfilment_minutes if r.fulfilled_at else "", r.fulfilment_target_minutes,
            "cancelled" if r.status == "cancelled" else _verdict(r.fulfilment_met),
            _cell(";".join(r.packages)), _cell(";".join(r.hosts)), r.runs, r.failed_runs,
        ])
    return buf.getvalue()


def _tz(report: Report) -> dt.tzinfo:
    return dt.datetime.fromisoformat(report.period.start).tzinfo or dt.UTC


def _local(text: str | None, tz: dt.tzinfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return _moment(text).astimezone(tz).strftime(fmt) if text else ""


# -- HTML ------------------------------------------------------------------------------------

GREEN, RED, GREY, INK, MUTED, GRID = "#1f9d6b", "#d9434f", "#b9c1cc", "#1d2939", "#667085", \
    "#e4e7ec"
PALE_RED, PALE, OFF = "#fde4e6", "#f2f4f7", "#eaedf2"


def _e(value: Any) -> str:
    """Escape text for SVG/HTML built here (everything from records passes through this)."""
    return html.escape(str(value), quote=True)


def _minutes(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 60:
        return f"{value:.1f} min" if value < 10 and value != int(value) else f"{value:.0f} min"
    hours, minutes = divmod(round(value), 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = max(span, 1e-9) / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _fmt_tick(value: float) -> str:
    return f"{value:g}"


def _svg(name: str, width: float, height: float, label: str, body: list[str],
         fixed: bool = False) -> str:
    size = f'width="{width:g}" height="{height:g}"' if fixed else 'width="100%"'
    return (f'<svg data-chart="{name}" viewBox="0 0 {width:g} {height:g}" {size} role="img" '
            f'aria-label="{_e(label)}">' + "".join(body) + "</svg>")


def _legend(x: float, y: float, items: list[tuple[str, str | tuple[str, str]]]) -> list[str]:
    """A row of swatches: a fill colour, a (fill, outline) pair, or "target" (dashed line)."""
    out = []
    for label, style in items:
        if style == "target":
            out.append(f'<line x1="{x:g}" y1="{y - 4:g}" x2="{x + 16:g}" y2="{y - 4:g}" '
                       f'stroke="{INK}" stroke-width="2" stroke-dasharray="4 3"/>')
            width = 16
        else:
            fill, stroke = style if isinstance(style, tuple) else (style, style)
            out.append(f'<rect x="{x + 0.5:g}" y="{y - 9.5:g}" width="11" height="11" rx="2" '
                       f'fill="{fill}" stroke="{stroke}"/>')
            width = 12
        out.append(f'<text x="{x + width + 5:g}" y="{y:g}" class="legend">{_e(label)}</text>')
        x += width + 14 + 6.2 * _text_width(label)
    return out


def _text_width(text: str) -> float:
    """Rough width in units of a Latin character (CJK characters count as two)."""
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)


def _fit(text: str, units: float) -> str:
    if _text_width(text) <= units:
        return text
    out = ""
    for c in text:
        if _text_width(out + c) > units - 1:
            break
        out += c
    return out + "…"


def response_chart(report: Report) -> str:
    """Minutes to first response per request, against the target line."""
    rows = report.requests
    target = report.response_target_minutes
    width, height, left, right, top, bottom = 1120, 310, 56, 24, 40, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [r.response_minutes for r in rows]
    peak = max([*values, target])
    ceiling = max(target * 1.6, min(peak * 1.1, target * 4))
    step = _nice_step(ceiling)
    ymax = math.ceil(ceiling / step) * step

    def y(v: float) -> float:
        return top + plot_h * (1 - min(v, ymax) / ymax)

    body = _legend(left, 18, [("达标 Met", GREEN), ("超时 Missed", RED),
                              ("待响应 Awaiting response", GREY),
                              (f"目标 Target {target:g} min", "target")])
    tick = 0.0
    while tick <= ymax + 1e-9:
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" '
                    f'y2="{y(tick):.1f}" stroke="{GRID}"/>')
        body.append(f'<text x="{left - 8}" y="{y(tick) + 4:.1f}" class="tick" '
                    f'text-anchor="end">{_fmt_tick(tick)}</text>')
        tick += step
    body.append(f'<text x="14" y="{top + plot_h / 2:g}" class="axis" text-anchor="middle" '
                f'transform="rotate(-90 14 {top + plot_h / 2:g})">分钟 minutes</text>')
    n = max(len(rows), 1)
    slot = plot_w / n
    bar = min(slot * 0.68, 46)
    every = max(1, math.ceil(34 / slot))  # label every k-th bar so labels never collide
    labels: list[str] = []  # drawn last, over the target line
    for i, r in enumerate(rows):
        cx = left + slot * (i + 0.5)
        colour = GREEN if r.response_met else RED if r.response_met is False else GREY
        top_y = y(r.response_minutes)
        h = max(top + plot_h - top_y, 1.5)  # a zero-minute answer still shows
        state = {True: "met", False: "missed", None: "pending"}[r.response_met]
        tip = (f"#{r.no} {r.id} {r.title or ''} — {_minutes(r.response_minutes)}"
               f"{'' if r.response_at else ' (no response yet)'} — {state}")
        body.append(f'<rect data-mark="bar" data-state="{state}" x="{cx - bar / 2:.1f}" '
                    f'y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" rx="2" '
                    f'fill="{colour}"><title>{_e(tip)}</title></rect>')
        clipped = r.response_minutes > ymax
        if clipped:  # a break mark: the bar is taller than the axis
            body.append(f'<path d="M{cx - bar / 2 - 2:.1f} {top + 10:.1f} l{bar / 4 + 1:.1f} -5 '
                        f'l{bar / 4 + 1:.1f} 5 l{bar / 4 + 1:.1f} -5 l{bar / 4 + 1:.1f} 5" '
                        f'stroke="#fff" stroke-width="3" fill="none"/>')
        if slot >= 26 or clipped:
            label = _minutes(r.response_minutes).replace(" min", "")
            label += "" if r.response_at else "+"  # no response yet: still counting
            labels.append(f'<text x="{cx:.1f}" y="{top + plot_h - h - 5:.1f}" class="value" '
                          f'text-anchor="middle" fill="{colour if clipped else INK}">'
                          f'{_e(label)}</text>')
        if i % every == 0:
            body.append(f'<text x="{cx:.1f}" y="{height - bottom + 18}" class="tick" '
                        f'text-anchor="middle">#{r.no}</text>')
            body.append(f'<text x="{cx:.1f}" y="{height - bottom + 32}" class="tick dim" '
                        f'text-anchor="middle">'
                        f'{_e(_local(r.received_at, _tz(report), "%m-%d"))}</text>')
            if r.clock == "7x24":
                body.append(f'<text x="{cx:.1f}" y="{height - bottom + 45}" class="tick urgent" '
                            f'text-anchor="middle">7x24</text>')
    ty = y(target)
    body.append(f'<line data-mark="target" x1="{left}" x2="{width - right}" y1="{ty:.1f}" '
                f'y2="{ty:.1f}" stroke="{INK}" stroke-width="2" stroke-dasharray="6 4"/>')
    body.append(f'<text x="{width - right}" y="{ty - 6:.1f}" class="value" text-anchor="end">'
                f'{target:g} min</text>')
    body += labels
    if not rows:
        body.append(f'<text x="{width / 2}" y="{top + plot_h / 2}" class="empty" '
                    f'text-anchor="middle">本月没有服务请求 No requests this month</text>')
    return _svg("response", width, height, "响应时间 Response time per request", body)


def _donut(cx: float, cy: float, title: str, met: int, missed: int, pending: int,
           pct: float | None, name: str) -> list[str]:
    r, stroke = 66, 22
    circumference = 2 * math.pi * r
    body = [f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="{PALE}" '
            f'stroke-width="{stroke}"/>']
    total = met + missed + pending
    offset = 0.0
    for count, colour, state in ((met, GREEN, "met"), (missed, RED, "missed"),
                                 (pending, GREY, "pending")):
        if not count:
            continue
        length = circumference * count / total
        gap = 1.5 if count < total else 0
        body.append(
            f'<circle data-mark="{name}" data-state="{state}" cx="{cx}" cy="{cy}" r="{r}" '
            f'fill="none" stroke="{colour}" stroke-width="{stroke}" '
            f'stroke-dasharray="{max(length - gap, 0.5):.2f} {circumference:.2f}" '
            f'stroke-dashoffset="{-offset:.2f}" transform="rotate(-90 {cx} {cy})">'
            f'<title>{state}: {count}</title></circle>')
        offset += length
    body.append(f'<text x="{cx}" y="{cy + 4}" class="big" text-anchor="middle">'
                f'{"—" if pct is None else f"{pct:g}%"}</text>')
    body.append(f'<text x="{cx}" y="{cy + 24}" class="tick" text-anchor="middle">达标 met</text>')
    body.append(f'<text x="{cx}" y="{cy - r - 22}" class="subtitle" text-anchor="middle">'
                f'{_e(title)}</text>')
    body.append(f'<text x="{cx}" y="{cy + r + 32}" class="tick" text-anchor="middle">'
                f'{met} 达标 met · {missed} 超时 missed · {pending} 待定 pending</text>')
    return body


def sla_chart(report: Report) -> str:
    """Met against missed, for the response and the fulfilment targets."""
    t = report.totals
    width, height = 540, 270
    body = _donut(135, 140, "首次响应 First response", t.response_met, t.response_missed,
                  t.response_pending, t.response_met_pct, "response")
    body += _donut(405, 140, "交付 Fulfilment", t.fulfilment_met, t.fulfilment_missed,
                   t.fulfilment_pending, t.fulfilment_met_pct, "fulfilment")
    return _svg("sla", width, height, "SLA 达标 met vs missed", body)


def runs_chart(report: Report) -> str:
    """Runs per day, stacked: succeeded below, failed on top; days off shaded."""
    days = report.runs_per_day
    width, height, left, right, top, bottom = 540, 270, 36, 10, 40, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([d.ok + d.failed for d in days] + [1])
    step = max(1, math.ceil(_nice_step(peak, 4)))
    ymax = math.ceil(peak / step) * step
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.72, 2)
    body = _legend(left, 18, [("成功 OK", GREEN), ("失败 Failed", RED),
                              ("休息日 Day off", (OFF, GRID))])
    i = 0
    while i < len(days):  # days off as shaded bands, a run of them as one band
        if days[i].working_day:
            i += 1
            continue
        j = i
        while j < len(days) and not days[j].working_day:
            j += 1
        body.append(f'<rect x="{left + slot * i:.1f}" y="{top}" width="{slot * (j - i):.1f}" '
                    f'height="{plot_h}" fill="{OFF}"/>')
        i = j
    for tick in range(0, ymax + 1, step):
        yy = top + plot_h * (1 - tick / ymax)
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" '
                    f'stroke="{GRID}"/>')
        body.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" class="tick" '
                    f'text-anchor="end">{tick}</text>')
    for i, d in enumerate(days):
        x = left + slot * i + (slot - bar) / 2
        base = top + plot_h
        for count, colour, state in ((d.ok, GREEN, "ok"), (d.failed, RED, "failed")):
            if not count:
                continue
            h = plot_h * count / ymax
            base -= h
            body.append(f'<rect data-mark="day" data-state="{state}" x="{x:.1f}" '
                        f'y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                        f'<title>{d.date}: {count} {state}</title></rect>')
        number = int(d.date[-2:])
        if number == 1 or number % 5 == 0 or not d.in_month:
            body.append(f'<text x="{left + slot * (i + 0.5):.1f}" y="{height - bottom + 16}" '
                        f'class="tick" text-anchor="middle">'
                        f'{d.date[5:] if not d.in_month or number == 1 else number}</text>')
    if not any(d.ok or d.failed for d in days):
        body.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" class="empty" '
                    f'text-anchor="middle">没有执行 No runs</text>')
    return _svg("runs", width, height, "每日执行 Runs per day", body)


def _common_domain(hosts: list[str]) -> str:
    """The domain every host name ends with (".hz.example.internal"), or ""."""
    if len(hosts) < 2 or not all("." in h for h in hosts):
        return ""
    tails = [h[h.index("."):] for h in hosts]
    suffix = tails[0]
    for tail in tails[1:]:
        while not tail.endswith(suffix):
            suffix = suffix[suffix.index(".", 1):] if "." in suffix[1:] else ""
            if not suffix:
                return ""
    return suffix


def packages_chart(report: Report) -> str:
    """Hosts by packages: the version installed, or a failed attempt never made good."""
    cells: dict[tuple[str, str], tuple[str, str, str]] = {}
    for item in report.installed:
        text = (item.version or "✓") if item.state == "installed" else "已卸载 removed"
        cells[(item.host, item.package)] = (item.state, text,
                                           f"{item.host} {item.package} {item.version or ''} "
                                           f"{item.state} ({item.request_id})")
    for cause in report.failures:
        for f in cause.failures:
            for package in (p.strip() for p in f.package.split(",")):
                if f.host and package and (f.host, package) not in cells:
                    cells[(f.host, package)] = ("failed", "失败 failed",
                                                f"{f.host} {package}: {f.message}")
    hosts = sorted({h for h, _ in cells})
    packages = sorted({p for _, p in cells})
    domain = _common_domain(hosts)  # shown once instead of on every row
    names = {h: h[:-len(domain)] if domain else h for h in hosts}
    widest = max([_text_width(n) for n in names.values()] + [_text_width(domain) + 1, 8])
    label_w = min(widest * 7 + 16, 230)
    cell_w, cell_h, top = 112, 26, 62
    width = max(label_w + cell_w * max(len(packages), 1) + 4, 440)
    height = top + cell_h * max(len(hosts), 1) + 4
    body = _legend(4, 16, [("已安装 Installed (version)", GREEN),
                           ("失败未装上 Failed, not installed", (PALE_RED, RED))])
    if not cells:
        return _svg("packages", 420, 60, "每台主机安装的软件 Packages per host",
                    ['<text x="210" y="34" class="empty" text-anchor="middle">'
                     '本月没有安装 Nothing installed this month</text>'], fixed=True)
    if domain:
        body.append(f'<text x="{label_w - 10}" y="{top - 10}" class="tick dim" '
                    f'text-anchor="end">{_e(_fit("*" + domain, 31))}</text>')
    for j, package in enumerate(packages):
        body.append(f'<text x="{label_w + cell_w * (j + 0.5):g}" y="{top - 10}" class="head" '
                    f'text-anchor="middle">{_e(_fit(package, 16))}</text>')
    fills = {"installed": (GREEN, GREEN, "#fff"), "failed": (PALE_RED, RED, RED),
             "removed": ("#fff", GREY, MUTED)}
    for i, host in enumerate(hosts):
        yy = top + cell_h * i
        body.append(f'<text x="{label_w - 10}" y="{yy + cell_h / 2 + 4:g}" class="tick" '
                    f'text-anchor="end">{_e(_fit(names[host], 31))}<title>{_e(host)}</title>'
                    f'</text>')
        for j, package in enumerate(packages):
            x = label_w + cell_w * j
            cell = cells.get((host, package))
            if cell is None:
                body.append(f'<rect x="{x + 2}" y="{yy + 2}" width="{cell_w - 4}" '
                            f'height="{cell_h - 4}" rx="3" fill="{PALE}"/>')
                continue
            state, text, tip = cell
            fill, stroke, ink = fills[state]
            body.append(f'<rect data-mark="cell" data-state="{state}" x="{x + 2}" '
                        f'y="{yy + 2}" width="{cell_w - 4}" height="{cell_h - 4}" rx="3" '
                        f'fill="{fill}" stroke="{stroke}"><title>{_e(tip)}</title></rect>')
            body.append(f'<text x="{x + cell_w / 2:g}" y="{yy + cell_h / 2 + 4:g}" '
                        f'class="cell" text-anchor="middle" fill="{ink}">'
                        f'{_e(_fit(text, 15))}</text>')
    return _svg("packages", width, height, "每台主机安装的软件 Packages per host", body,
                fixed=True)


def render_html(report: Report) -> str:
    """One self-contained HTML file: inline CSS, inline SVG charts, no scripts, no URLs."""
    import jinja2
    from markupsafe import Markup

    from cmectl.config import project_root

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(project_root() / "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True,
    )
    tz = _tz(report)
    env.filters["local"] = lambda text, fmt="%m-%d %H:%M": _local(text, tz, fmt)
    env.filters["minutes"] = _minutes
    env.filters["verdict"] = _verdict
    start = dt.datetime.fromisoformat(report.period.start)
    charts = {
        # Built from escaped text only (see _e); Markup keeps autoescape from escaping twice.
        "response": Markup(response_chart(report)),
        "sla": Markup(sla_chart(report)),
        "runs": Markup(runs_chart(report)),
        "packages": Markup(packages_chart(report)),
    }
    return env.get_template("report.html.j2").render(
        r=report, t=report.totals, charts=charts,
        month_cn=f"{start.year}年{start.month}月", month_en=start.strftime("%B %Y"),
        generated=_local(report.generated_at, tz, "%Y-%m-%d %H:%M"),
        last_day=(dt.datetime.fromisoformat(report.period.end) - dt.timedelta(days=1))
        .strftime("%Y-%m-%d"),
    )
