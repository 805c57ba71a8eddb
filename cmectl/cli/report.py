"""cmectl report: the monthly service report for a customer."""

from __future__ import annotations

import click


@click.command("report")
@click.option("--customer", required=True, help="Whose requests.")
@click.option("--month", required=True, metavar="YYYY-MM", help="Which month (calendar's zone).")
@click.option("--format", "fmt", type=click.Choice(["html", "csv", "json"]), default="html",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file instead of standard output.")
def report(customer: str, month: str, fmt: str, output: str | None) -> None:
    """Requests, response and fulfilment times against the SLA, packages installed per host,
    and failures with their causes. HTML is one self-contained file with charts."""
    from pathlib import Path

    from cmectl import ui
    from cmectl.config import cmectl_home
    from cmectl.contract import for_customer
    from cmectl.records import open_store
    from cmectl.report import build_report, render_csv, render_html, render_json

    contract = for_customer(customer)
    data = build_report(open_store(cmectl_home()), customer, month, contract)
    text = {"html": render_html, "csv": render_csv, "json": render_json}[fmt](data)
    if output:
        # utf-8-sig for CSV: spreadsheet programs then read the Chinese text correctly.
        Path(output).write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
        ui.notice(f"{fmt} report for {customer}, {month}: {output}")
    else:
        click.echo(text, nl=False)
