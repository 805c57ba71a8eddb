"""cmectl request open|list|show|ack|note|close|cancel"""

from __future__ import annotations

import click

from cmectl.records import CHANNELS, PRIORITIES, REQUEST_STATUSES


@click.group("request")
def group() -> None:
    """Service requests: what a customer asked for, and whether the SLA was met."""


def _store():
    from cmectl.config import cmectl_home
    from cmectl.records import open_store

    return open_store(cmectl_home())


def _show(store, req, as_json: bool) -> None:
    from cmectl import ui
    from cmectl.contract import for_customer
    from cmectl.requests import service_level

    runs = store.list_runs(limit=10_000, request_id=req.id)
    contract = for_customer(req.customer)
    sla = service_level(req, runs, contract)
    if as_json:
        ui.emit_json({**req.to_dict(), "sla": sla, "runs": [r.id for r in runs]})
    else:
        ui.request_detail(req, sla, runs)


@group.command("open")
@click.option("--title", required=True, help="What was asked, in a line.")
@click.option("--customer", required=True, help="The customer the request comes from.")
@click.option("--requester", help="Who asked (name in the group chat).")
@click.option("--channel", type=click.Choice(CHANNELS), default="dingtalk", show_default=True)
@click.option("--priority", type=click.Choice(PRIORITIES), default="normal", show_default=True,
              help="emergency: on the 7x24 clock; the others: business time.")
@click.option("-p", "--package", "packages", multiple=True, required=True, metavar="ID",
              help="Package asked for (repeatable).")
@click.option("--action", type=click.Choice(["install", "uninstall"]), default="install",
              show_default=True)
@click.option("-i", "--inventory", metavar="PATH", help="Inventory of the hosts asked for.")
@click.option("-l", "--limit", metavar="PATTERN", help="Only these hosts of the inventory.")
@click.option("--hosts", metavar="H1,H2", help="The hosts asked for, by name (without -i).")
@click.option("--received", metavar="TIME",
              help="When the customer asked, ISO 8601 with timezone (default: now).")
@click.option("--id", "request_id", metavar="ID", help="Request id (generated when omitted).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def open_(title, customer, requester, channel, priority, packages, action, inventory, limit,
          hosts, received, request_id, as_json):
    """Record a request as the customer made it; the SLA clock starts when it was received."""
    from cmectl.catalog import load_catalogue
    from cmectl.errors import UsageError
    from cmectl.fulfil import REQUEST_ID
    from cmectl.requests import open_request

    if request_id and not REQUEST_ID.match(request_id):
        raise UsageError(f"--id {request_id!r} is not a valid request id",
                         "use letters, digits and . _ : - (at most 64)")
    catalogue = load_catalogue()
    ids = [catalogue.get(p).id for p in packages]  # planned packages may be asked for
    if inventory:
        from cmectl.inventory import resolve_targets

        names = list(resolve_targets(inventory, limit).hosts)
    elif hosts:
        names = [h.strip() for h in hosts.split(",") if h.strip()]
    else:
        raise UsageError("no hosts given", "name them with -i INVENTORY [-l LIMIT] or --hosts")
    from cmectl import notify, ui
    from cmectl.config import cmectl_home
    from cmectl.contract import for_customer

    # A broken notification or contract file: an error before anything is saved.
    notify.load_config(customer, cmectl_home(), ui.notice)
    contract = for_customer(customer)
    store = _store()
    req = open_request(store, title=title, customer=customer, requester=requester,
                       channel=channel, priority=priority, packages=ids, hosts=sorted(names),
                       action=action, inventory=inventory, limit=limit, received_at=received,
                       request_id=request_id, contract=contract)
    notify.notify(store, "request_opened", customer=customer, request=req, home=cmectl_home(),
                  timeout=5, warn=ui.notice)
    _show(store, req, as_json)


@group.command("list")
@click.option("--customer", help="Only this customer's requests.")
@click.option("--status", type=click.Choice(REQUEST_STATUSES))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(customer, status, as_json):
    """List requests, newest first."""
    from cmectl import ui

    reqs = _store().list_requests(customer=customer, status=status)
    if as_json:
        ui.emit_json([r.to_dict() for r in reqs])
    else:
        ui.requests_table(reqs)


@group.command("show")
@click.argument("request_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(request_id, as_json):
    """Show a request, its runs, and whether its SLA was met and by how much."""
    store = _store()
    _show(store, store.get_request(request_id), as_json)


@group.command("ack")
@click.argument("request_id")
@click.option("--note", help="What was answered.")
@click.option("--at", metavar="TIME", help="When it was answered, if not now (ISO 8601).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ack(request_id, note, at, as_json):
    """Record the first response to the customer (stops the response clock)."""
    from cmectl.requests import acknowledge

    store = _store()
    _show(store, acknowledge(store, request_id, note, at), as_json)


@group.command("note")
@click.argument("request_id")
@click.argument("text")
def note(request_id, text):
    """Add a note to a request."""
    from cmectl.requests import add_note

    add_note(_store(), request_id, text)


@group.command("close")
@click.argument("request_id")
@click.option("--note", help="How it ended.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def close(request_id, note, as_json):
    """Close a request (normally once it is fulfilled)."""
    from cmectl.requests import close as close_request

    store = _store()
    _show(store, close_request(store, request_id, note), as_json)


@group.command("cancel")
@click.argument("request_id")
@click.option("--reason", required=True, help="Why it was cancelled.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cancel(request_id, reason, as_json):
    """Cancel a request."""
    from cmectl.requests import cancel as cancel_request

    store = _store()
    _show(store, cancel_request(store, request_id, reason), as_json)


@group.command("sla-check")
@click.option("--within", default=5, show_default=True, metavar="MINUTES",
              help="Warn about clocks due within this many minutes (and those already missed).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def sla_check(within, as_json):
    """Notify customers' channels of requests at risk of missing their SLA (run from cron,
    e.g. every minute); each clock is announced once."""
    from dataclasses import asdict

    from cmectl import notify, ui
    from cmectl.config import cmectl_home

    deliveries = notify.notify_sla_risks(_store(), within_minutes=within, home=cmectl_home(),
                                         warn=ui.notice)
    if as_json:
        ui.emit_json([asdict(d) for d in deliveries])
    else:
        for d in deliveries:
            ui.out.print(f"{d.event} via {d.channel} to {d.target}: "
                         + ("delivered" if d.ok else f"failed ({d.error})"))
