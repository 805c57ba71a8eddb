"""The progress display: a line per host for small fleets, a bar for large ones."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from cmectl import ui
from cmectl.events import HostUpdate


@pytest.fixture
def terminal(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(ui, "err", Console(file=buf, force_terminal=True, width=140))
    return buf


@pytest.fixture
def pipe(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(ui, "err", Console(file=buf, force_terminal=False, width=140))
    return buf


def feed(progress, hosts, state="done"):
    for h in hosts:
        progress.update(HostUpdate(h, "running", "nginx : Install nginx", 0))
        progress.update(HostUpdate(h, state, "Report", 2, "nginx : Install", "boom"))


def test_small_fleet_gets_a_line_per_host(terminal):
    hosts = [f"web-{i}" for i in range(3)]
    with ui.RunProgress(hosts, "install nginx") as progress:
        assert progress.live is not None and progress.bar is None
        feed(progress, hosts)
    out = terminal.getvalue()
    assert all(h in out for h in hosts) and "done" in out


def test_large_fleet_gets_a_bar_with_counts(terminal):
    hosts = [f"web-{i}" for i in range(60)]
    with ui.RunProgress(hosts, "install nginx") as progress:
        assert progress.bar is not None and progress.live is None
        feed(progress, hosts[:40])
        feed(progress, hosts[40:], state="failed")
        task = progress.bar.tasks[0]
        assert (task.completed, task.total) == (60, 60)
        assert "done=40" in task.fields["detail"] and "failed=20" in task.fields["detail"]


def test_not_a_terminal_prints_plain_lines_per_finished_host(pipe):
    with ui.RunProgress(["a", "b"], "install nginx") as progress:
        feed(progress, ["a"])
        feed(progress, ["b"], state="failed")
    lines = pipe.getvalue().splitlines()
    assert lines == ["install nginx: 2 hosts", "  a: done (2 changed)",
                     "  b: failed - nginx : Install: boom"]
    assert "\x1b[" not in pipe.getvalue()


def test_run_detail_lists_the_manual_steps_once(monkeypatch):
    from cmectl.records import HostResult, Run

    buf = io.StringIO()
    monkeypatch.setattr(ui, "out", Console(file=buf, force_terminal=False, width=140))
    steps = ["Import the licence file in the administration console",
             "Finish the first-login wizard as the system administrator"]
    run = Run(id="r1", request_id="SR-1", action="install", packages=["weaver-oa"],
              inventory="i", started_at="2026-11-24T02:00:00+00:00", status="ok",
              hosts=[HostResult(h, "changed", installed={"weaver_oa": {
                  "version": "9.0", "manual_steps": steps}}) for h in ("oa-1", "oa-2")])
    ui.run_detail(run)
    text = buf.getvalue()
    assert "still to do by hand" in text
    assert text.count("[ ] weaver_oa: Import the licence file") == 1
    assert text.count("[ ] weaver_oa: Finish the first-login wizard") == 1
    assert ui.manual_steps(Run(id="r2", request_id="SR-2", action="install", packages=["x"],
                               inventory="i", started_at="t", status="ok")) == {}
