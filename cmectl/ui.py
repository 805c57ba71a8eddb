"""Everything cmectl prints goes through here.

Results go to stdout (tables, or JSON with ``--json``); progress, notices and errors go to
stderr. Colour and live redrawing only when the stream is a terminal.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

STYLE = {"ok": "green", "changed": "yellow", "failed": "red", "unreachable": "magenta",
         "aborted": "magenta", "not_run": "dim", "running": "cyan", "interrupted": "red",
         "error": "red", "lost": "red", "pending": "dim", "done": "green"}
TABLE_LIMIT = 20  # more hosts than this: a progress bar instead of a line per host


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def notice(message: str) -> None:
    err.print(f"[dim]cmectl:[/] {message}")


def error(message: str) -> None:
    err.print(Text(f"cmectl: error: {message}", style="bold red" if err.is_terminal else ""))


def _styled(status: str) -> Text:
    return Text(status, style=STYLE.get(status, ""))


class RunProgress:
    """Live progress of one run: a line per host, or a bar for a large fleet."""

    def __init__(self, hosts: tuple[str, ...] | list[str], title: str):
        self.hosts = {h: {"state": "pending", "task": "", "changed": 0} for h in hosts}
        self.title = title
        self.live: Live | None = None
        self.bar: Progress | None = None
        self.bar_task = None
        self.finished: set[str] = set()

    def __enter__(self) -> RunProgress:
        if not err.is_terminal:
            err.print(f"{self.title}: {len(self.hosts)} hosts")
            return self
        if len(self.hosts) > TABLE_LIMIT:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TimeElapsedColumn(),
                                TextColumn("{task.fields[detail]}"), console=err)
            self.bar_task = self.bar.add_task(self.title, total=len(self.hosts), detail="")
            self.bar.start()
        else:
            self.live = Live(self._table(), console=err, refresh_per_second=8, transient=False)
            self.live.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self.live.update(self._table())
            self.live.stop()
        if self.bar:
            self.bar.stop()

    def _table(self) -> Table:
        table = Table(title=self.title, title_justify="left", show_edge=False, pad_edge=False)
        table.add_column("host")
        table.add_column("state")
        table.add_column("changed", justify="right")
        table.add_column("task / message", overflow="fold")
        for name, h in self.hosts.items():
            table.add_row(name, _styled(h["state"]), str(h["changed"]), h["task"])
        return table

    def update(self, u) -> None:
        h = self.hosts.setdefault(u.host, {"state": "pending", "task": "", "changed": 0})
        h["state"], h["changed"] = u.state, u.changed
        h["task"] = f"{u.failed_task}: {u.message}" if u.state in ("failed", "unreachable") \
            else (u.task or "")
        final = u.state in ("done", "failed", "unreachable")
        if final and u.host not in self.finished:
            self.finished.add(u.host)
            if not err.is_terminal:
                detail = f" - {h['task']}" if u.state != "done" else f" ({u.changed} changed)"
                err.print(f"  {u.host}: {u.state}{detail}")
        if self.live:
            self.live.update(self._table())
        if self.bar is not None:
            counts = {}
            for x in self.hosts.values():
                counts[x["state"]] = counts.get(x["state"], 0) + 1
            detail = " ".join(f"{k}={v}" for k, v in sorted(counts.items()) if k != "pending")
            self.bar.update(self.bar_task, completed=len(self.finished), detail=detail)


# -- renderers -------------------------------------------------------------------------------

def catalog_table(packages) -> None:
    table = Table(show_edge=False, pad_edge=False)
    for col in ("id", "name", "group", "kind", "status", "ports"):
        table.add_column(col)
    for p in packages:
        table.add_row(p.id, p.name, p.group, p.kind,
                      Text(p.status, style="green" if p.available else "dim"),
                      ",".join(map(str, p.ports)))
    out.print(table)


def catalog_entry(pkg, variables) -> None:
    out.print(f"[bold]{pkg.id}[/] - {pkg.name}  ({pkg.kind}, {pkg.status})")
    out.print(f"role: roles/{pkg.role}   seed: {pkg.seed}")
    out.print("platforms: " + "; ".join(f"{k} {', '.join(v)}" for k, v in pkg.platforms.items()))
    out.print(f"verbs: {', '.join(pkg.verbs)}   ports: {', '.join(map(str, pkg.ports)) or '-'}")
    if not variables:
        out.print("variables: none declared" if pkg.available else "variables: (role not built)")
        return
    table = Table(show_edge=False, pad_edge=False, title="variables", title_justify="left")
    for col in ("name", "type", "default", "description"):
        table.add_column(col, overflow="fold", no_wrap=col == "name")
    for v in variables:
        default = "(secret)" if v.secret else json.dumps(v.default, ensure_ascii=False)
        kind = v.type + (f"[{v.elements}]" if v.elements else "")
        if v.choices:
            kind += " " + "|".join(map(str, v.choices))
        table.add_row(v.name, kind, default, v.description)
    out.print(table)


def runs_table(runs) -> None:
    table = Table(show_edge=False, pad_edge=False)
    for col in ("run", "request", "action", "packages", "hosts", "status", "started", "took"):
        table.add_column(col, no_wrap=col in ("run", "request", "started"))
    for r in runs:
        took = f"{r.duration_s:.0f}s" if r.duration_s is not None else "-"
        table.add_row(r.id, r.request_id, r.action + (" (check)" if r.check_mode else ""),
                      ",".join(r.packages), str(len(r.hosts) or len(r.options.get("hosts", []))),
                      _styled(r.status), r.started_at.replace("T", " ")[:19], took)
    out.print(table)


def run_detail(r) -> None:
    took = f"{r.duration_s:.1f}s" if r.duration_s is not None else "-"
    out.print(f"[bold]run {r.id}[/]  {r.action} {', '.join(r.packages)}"
              + ("  [dim](check mode)[/]" if r.check_mode else ""))
    out.print(f"request {r.request_id}  requester {r.requester or '-'}  operator {r.operator}")
    out.print(f"inventory {r.inventory}" + (f"  limit {r.limit_expr}" if r.limit_expr else ""))
    out.print(f"started {r.started_at}  ended {r.ended_at or '-'}  took {took}")
    out.print(Text.assemble("status ", _styled(r.status),
                            f"  exit {r.exit_code if r.exit_code is not None else '-'}"))
    if r.message:
        out.print(r.message)
    if r.extra_vars:
        out.print("variables: " + ", ".join(f"{k}={v}" for k, v in r.extra_vars.items()))
    table = Table(show_edge=False, pad_edge=False)
    for col in ("host", "outcome", "ok", "changed", "failed", "took", "installed / failure"):
        table.add_column(col, overflow="fold")
    for h in r.hosts:
        if h.status in ("failed", "unreachable", "aborted", "not_run"):
            detail = f"{h.failed_task}: {h.message}" if h.failed_task else (h.message or "")
        else:
            detail = "; ".join(f"{k} {v.get('version', '')}".strip()
                               for k, v in h.installed.items() if isinstance(v, dict))
        took = f"{h.duration_s:.0f}s" if h.duration_s is not None else "-"
        table.add_row(h.host, _styled(h.status), str(h.ok), str(h.changed), str(h.failed),
                      took, detail)
    out.print(table)
    steps = manual_steps(r)
    if steps:
        out.print("[bold]still to do by hand[/] (the vendors' own steps, after this run):")
        for package, items in steps.items():
            for item in items:
                out.print(f"  [ ] {package}: {item}")
    if r.log_path:
        out.print(f"[dim]log: {r.log_path}[/]")


def manual_steps(r) -> dict[str, list[str]]:
    """The steps roles could not do themselves (licence import, first-login wizard...), as
    they left them in their facts (``manual_steps``): package -> steps, each once."""
    found: dict[str, list[str]] = {}
    for h in r.hosts:
        for package, facts in h.installed.items():
            items = facts.get("manual_steps") if isinstance(facts, dict) else None
            for item in items or []:
                if isinstance(item, str) and item not in found.setdefault(package, []):
                    found[package].append(item)
    return {k: v for k, v in found.items() if v}


def lab_summary(lab) -> None:
    table = Table(show_edge=False, pad_edge=False, title=f"lab {lab.name}", title_justify="left")
    for col in ("host", "ssh", "address", "image", "container"):
        table.add_column(col)
    for h in lab.hosts:
        table.add_row(h.name, f"127.0.0.1:{h.port}", h.address, h.image, h.container)
    err.print(table)


def _duration(seconds: float) -> str:
    seconds = abs(int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds % 60:02d}s"


def _clock_line(label: str, clock: dict) -> Text:
    if clock["met"] is True:
        verdict = Text(f"met, {_duration(clock['margin_s'])} to spare", style="green")
    elif clock["met"] is False:
        verdict = Text(f"missed by {_duration(-clock['margin_s'])}", style="red")
    else:
        verdict = Text(f"running, {_duration(clock['margin_s'])} left", style="cyan")
    when = clock["at"].replace("T", " ")[:19] if clock["at"] else "-"
    return Text.assemble(f"{label:<12} target {_duration(clock['target_s'])}  due "
                         f"{clock['due'].replace('T', ' ')[:19]}  done {when}  ", verdict)


def requests_table(reqs) -> None:
    table = Table(show_edge=False, pad_edge=False)
    for col in ("request", "customer", "priority", "packages", "hosts", "status", "received"):
        table.add_column(col, no_wrap=col in ("request", "received"))
    for r in reqs:
        table.add_row(r.id, r.customer or "-", r.priority, ",".join(r.packages),
                      str(len(r.hosts)), _styled(r.status), r.received_at.replace("T", " ")[:19])
    out.print(table)


def request_detail(req, sla, runs) -> None:
    out.print(f"[bold]request {req.id}[/]  {req.title or ''}")
    out.print(f"customer {req.customer or '-'}  requester {req.requester or '-'}  "
              f"channel {req.channel or '-'}  priority {req.priority}")
    out.print(Text.assemble("status ", _styled(req.status),
                            f"  {req.action} {', '.join(req.packages)} on "
                            f"{len(req.hosts)} hosts: {', '.join(req.hosts)}"))
    out.print(f"received {req.received_at}  clock {sla['clock']}")
    terms = sla.get("terms")
    if terms:
        out.print(f"[dim]targets: response {terms['response_minutes']:g} min, fulfilment "
                  f"{terms['fulfil_hours']:g} h ({terms['source']})[/]")
    out.print(_clock_line("response", sla["response"]))
    out.print(_clock_line("fulfilment", sla["fulfilment"]))
    for note in req.notes:
        out.print(f"[dim]{note['at']} {note['kind']}:[/] {note['text']}")
    if runs:
        runs_table(runs)


def hosts_table(hosts: dict, problems: dict) -> None:
    table = Table(show_edge=False, pad_edge=False)
    for col in ("host", "package", "version", "ports", "request", "installed", "seen"):
        table.add_column(col, overflow="fold")
    for host, packages in hosts.items():
        if not packages:
            table.add_row(host, Text(problems.get(host, "nothing from cmectl"), style="dim"),
                          "", "", "", "", "")
        for name, facts in packages.items():
            table.add_row(host, name, str(facts.get("version", "")),
                          ",".join(map(str, facts.get("ports", []) or [])),
                          str(facts.get("request_id") or ""),
                          str(facts.get("installed_at", ""))[:19].replace("T", " "),
                          str(facts.get("_seen_at", ""))[:19].replace("T", " "))
    out.print(table)


def deliveries_table(deliveries) -> None:
    table = Table(show_edge=False, pad_edge=False)
    for col in ("channel", "target", "result"):
        table.add_column(col, overflow="fold")
    for d in deliveries:
        table.add_row(d.channel, d.target,
                      _styled("ok") if d.ok else Text(f"failed: {d.error}", style="red"))
    out.print(table)


def ping_table(rows) -> None:
    table = Table(show_edge=False, pad_edge=False)
    for col in ("host", "reachable", "via", "message"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["host"], _styled("ok" if r["reachable"] else "unreachable"), r["via"],
                      r["message"] or "")
    out.print(table)
