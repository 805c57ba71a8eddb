"""cmectl ping: can every host be reached, and how, before anything is installed."""

from __future__ import annotations

import click


@click.command("ping")
@click.option("-i", "--inventory", required=True, metavar="PATH", help="Inventory to check.")
@click.option("-l", "--limit", metavar="PATTERN", help="Only hosts matching this pattern.")
@click.option("--forks", type=int, help="Hosts contacted in parallel.")
@click.option("--transport", type=click.Choice(["ssh", "paramiko"]),
              help="How to reach Linux hosts (Windows hosts: WinRM, from the inventory).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ping(inventory, limit, forks, transport, as_json):
    """Check that each host answers, over SSH (OpenSSH or paramiko) or WinRM."""
    from cmectl import runner, ui
    from cmectl.config import cmectl_home, load_settings
    from cmectl.inventory import resolve_targets

    settings = load_settings({"forks": forks, "transport": transport})
    target = resolve_targets(inventory, limit)
    results = runner.ping(target.inventory, limit, target.hosts, cmectl_home(),
                          forks=settings.forks, transport=settings.transport,
                          connect_timeout=settings.connect_timeout,
                          keep_artifacts=settings.keep_artifacts)
    rows = [{"host": r.host, "reachable": r.reachable,
             "via": "winrm" if r.host in target.windows else settings.transport,
             "message": r.message if not r.reachable else None} for r in results]
    if as_json:
        ui.emit_json(rows)
    else:
        ui.ping_table(rows)
    down = [r for r in rows if not r["reachable"]]
    if down:
        ui.error(f"{len(down)} of {len(rows)} hosts unreachable: "
                 + ", ".join(r["host"] for r in down))
        raise SystemExit(9 if len(down) == len(rows) else 8)
