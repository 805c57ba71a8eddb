"""cmectl hosts show: what is installed where."""

from __future__ import annotations

import click


@click.group("hosts")
def group() -> None:
    """What cmectl installed on each host, from the facts its roles leave there."""


@group.command("show")
@click.option("-i", "--inventory", required=True, metavar="PATH", help="Inventory to look at.")
@click.option("-l", "--limit", metavar="PATTERN", help="Only hosts matching this pattern.")
@click.option("--cached", is_flag=True,
              help="Show the record store's latest view without contacting the hosts.")
@click.option("--forks", type=int, help="Hosts contacted in parallel.")
@click.option("--transport", type=click.Choice(["ssh", "paramiko"]))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(inventory, limit, cached, forks, transport, as_json):
    """Gather every host's cmectl facts (package, version, ports, request), keep the latest
    view per host in the record store, and print it."""
    from cmectl import ui
    from cmectl.config import cmectl_home, load_settings
    from cmectl.inventory import resolve_targets
    from cmectl.records import open_store

    home = cmectl_home()
    settings = load_settings({"forks": forks, "transport": transport})
    target = resolve_targets(inventory, limit)
    store = open_store(home)
    problems: dict[str, str] = {}
    if not cached:
        from cmectl import runner
        from cmectl.catalog import load_catalogue

        for found in runner.gather_local_facts(
                target.inventory, limit, target.hosts, home, forks=settings.forks,
                transport=settings.transport, connect_timeout=settings.connect_timeout,
                keep_artifacts=settings.keep_artifacts, windows=tuple(target.windows),
                roles=tuple(p.role for p in load_catalogue())):
            if found.reachable:
                store.save_host_view(str(target.inventory), found.host, found.local,
                                     "facts", complete=True)
            else:
                problems[found.host] = found.message or "unreachable"
    view = store.host_view(str(target.inventory))
    hosts = {h: view.get(h, {}) for h in target.hosts}
    if as_json:
        ui.emit_json({"inventory": str(target.inventory), "hosts": hosts,
                      "unreachable": problems})
    else:
        ui.hosts_table(hosts, problems)
    if problems:
        ui.error(f"{len(problems)} of {len(target.hosts)} hosts did not answer; "
                 "their last known view is shown")
        raise SystemExit(8 if len(problems) < len(target.hosts) else 9)
