"""cmectl runs list|show"""

from __future__ import annotations

import click


@click.group("runs")
def group() -> None:
    """Recorded runs: what was done, where, for which request, and how it went."""


@group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--request", "request_id", metavar="ID", help="Only runs for this request.")
@click.option("-n", "--limit", default=50, show_default=True, help="How many runs, newest first.")
def list_(as_json: bool, request_id: str | None, limit: int) -> None:
    """List runs, newest first."""
    from cmectl import ui
    from cmectl.config import cmectl_home
    from cmectl.records import open_store

    store = open_store(cmectl_home())
    runs = store.list_runs(limit=limit, request_id=request_id)
    if as_json:
        ui.emit_json([r.to_dict() for r in runs])
    else:
        ui.runs_table(runs)


@group.command("show")
@click.argument("run_ref", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(run_ref: str, as_json: bool) -> None:
    """Show one run (an id, a unique prefix of one, or 'last') with its per-host outcome."""
    from cmectl import ui
    from cmectl.config import cmectl_home
    from cmectl.records import open_store

    run = open_store(cmectl_home()).get_run(run_ref)
    if as_json:
        ui.emit_json(run.to_dict())
    else:
        ui.run_detail(run)
