"""cmectl notify test: check a customer's notification channels before they matter."""

from __future__ import annotations

import click


@click.group("notify")
def group() -> None:
    """Notifications to customers' DingTalk and WeCom groups and mailboxes."""


@group.command("test")
@click.argument("customer")
@click.option("--timeout", type=float, default=10, show_default=True,
              help="Seconds to wait for each channel.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def test(customer, timeout, as_json):
    """Send a test message to every channel configured for CUSTOMER and say what each did.

    Uses $CMECTL_HOME/notify/CUSTOMER.toml (else default.toml); each attempt is recorded like
    any other notification. Exits 10 when a channel failed."""
    from dataclasses import asdict

    from cmectl import ui
    from cmectl.config import cmectl_home
    from cmectl.errors import ExitCode
    from cmectl.notify import send_test
    from cmectl.records import open_store

    home = cmectl_home()
    deliveries = send_test(open_store(home), customer, home=home, timeout=timeout,
                           warn=ui.notice)
    if as_json:
        ui.emit_json([asdict(d) for d in deliveries])
    else:
        ui.deliveries_table(deliveries)
    failed = [d for d in deliveries if not d.ok]
    if failed:
        ui.error(f"{len(failed)} of {len(deliveries)} channels failed: "
                 + "; ".join(f"{d.channel}: {d.error}" for d in failed))
        raise SystemExit(ExitCode.ENVIRONMENT)
