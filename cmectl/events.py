"""Reduce ansible-runner job events to per-host outcomes.

This is the only place that knows the shape of runner events. It is fed events one at a time
(live, for the progress display) and, at the end, says what happened on each host. The task
names it looks for are those of ``playbooks/apply.yml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cmectl.records import HostResult

PREFLIGHT_PLAY = "Preflight"
GATE_TASK = "Preflight gate"
REPORT_TASK = "Report"

# Host states while a run is under way.
PENDING, RUNNING, DONE, FAILED, UNREACHABLE = "pending", "running", "done", "failed", "unreachable"


@dataclass
class HostUpdate:
    """What the progress display needs to redraw one host."""

    host: str
    state: str
    task: str | None
    changed: int
    failed_task: str | None = None
    message: str | None = None


@dataclass
class _Host:
    name: str
    state: str = PENDING
    task: str | None = None
    changed: int = 0
    failed_task: str | None = None
    message: str | None = None
    unreachable: bool = False
    applied: bool = False  # reached the play that applies roles
    contacted_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    installed: dict[str, Any] = field(default_factory=dict)


def _message(res: Any) -> str:
    if not isinstance(res, dict):
        return str(res)[:500]
    # A looped task says only "One or more items failed"; its first failed item says what.
    items = [r for r in res.get("results") or [] if isinstance(r, dict) and r.get("failed")]
    if items:
        return _message(items[0])
    for key in ("msg", "censored", "reason"):
        if res.get(key):
            text = res[key]
            break
    else:
        text = res.get("stderr") or res.get("module_stderr") or res.get("stdout") or \
            res.get("module_stdout") or "failed without a message"
    if not isinstance(text, str):
        text = str(text)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    first = lines[0] if lines else text
    if len(lines) > 1 and ("stderr" in res or "module_stderr" in res):
        first = lines[-1]  # for command output the last line says most
    return first.strip()[:500]


class EventReducer:
    def __init__(self, hosts: list[str] | tuple[str, ...]):
        self._hosts: dict[str, _Host] = {h: _Host(h) for h in hosts}
        self.stats: dict[str, dict[str, int]] = {}
        self.gate_closed = False
        self.gate_message: str | None = None

    def _host(self, name: str) -> _Host:
        if name not in self._hosts:  # e.g. delegated or added at run time
            self._hosts[name] = _Host(name)
        return self._hosts[name]

    def feed(self, event: dict[str, Any]) -> HostUpdate | None:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "playbook_on_stats":
            for key in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored"):
                for host, count in (data.get(key) or {}).items():
                    self.stats.setdefault(host, {})[key] = count
            return None
        name = data.get("host")
        if not name or not kind.startswith("runner_on_"):
            return None
        host = self._host(name)
        stamp = event.get("created")
        host.ended_at = stamp or host.ended_at
        task = (data.get("task") or "").strip()
        if (data.get("play") or "").startswith(PREFLIGHT_PLAY):
            host.contacted_at = host.contacted_at or stamp
        else:
            # A host's time is counted from when its own batch starts work on it, not from
            # the preflight that contacts every host at once.
            host.applied = True
            host.started_at = host.started_at or stamp
        res = data.get("res") or {}
        if kind == "runner_on_start":
            if host.state == PENDING:
                host.state = RUNNING
            host.task = task
        elif kind == "runner_on_ok":
            if isinstance(res, dict) and res.get("changed"):
                host.changed += 1
            if task == REPORT_TASK:
                msg = res.get("msg") if isinstance(res, dict) else None
                host.installed = msg if isinstance(msg, dict) else {}
                if host.state == RUNNING:
                    host.state = DONE
        elif kind == "runner_on_failed":
            if data.get("ignore_errors"):
                return None
            if task == GATE_TASK:
                self.gate_closed = True
                self.gate_message = _message(res)
                return None
            host.state = FAILED
            role = data.get("role")
            host.failed_task = f"{role} : {task}" if role else task
            host.message = _message(res)
        elif kind == "runner_on_unreachable":
            host.state = UNREACHABLE
            host.unreachable = True
            host.failed_task = task
            host.message = _message(res)
        else:
            return None
        return HostUpdate(host.name, host.state, host.task, host.changed,
                          host.failed_task, host.message)

    def results(self, interrupted: bool = False) -> list[HostResult]:
        out = []
        for host in self._hosts.values():
            counts = self.stats.get(host.name, {})
            if host.unreachable or counts.get("dark"):
                status = "unreachable"
            elif interrupted and host.state in (PENDING, RUNNING):
                status = "interrupted"
                host.message = f"interrupted during: {host.task}" if host.task else \
                    "interrupted before it started"
            elif self.gate_closed and not host.applied:
                status = "aborted"  # stopped by the preflight gate before anything ran
                host.message = host.message or f"not touched: {self.gate_message}"
            elif host.state == FAILED or counts.get("failures"):
                status = "failed"
            elif not host.applied:
                status = "not_run"
                host.message = host.message or "not reached: the rollout stopped before its batch"
            elif counts.get("changed", host.changed):
                status = "changed"
            else:
                status = "ok"
            out.append(HostResult(
                host=host.name, status=status, ok=counts.get("ok", 0),
                changed=counts.get("changed", host.changed),
                failed=0 if status == "aborted" else counts.get("failures",
                                                                 int(host.state == FAILED)),
                unreachable=counts.get("dark", int(host.unreachable)),
                skipped=counts.get("skipped", 0), failed_task=host.failed_task,
                message=host.message, started_at=host.started_at or host.contacted_at,
                ended_at=host.ended_at,
                installed=host.installed,
            ))
        return sorted(out, key=lambda r: r.host)
