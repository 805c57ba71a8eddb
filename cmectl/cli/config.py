"""cmectl config show"""

from __future__ import annotations

import os

import click


@click.group("config")
def group() -> None:
    """Settings and where each one came from."""


@group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(as_json: bool) -> None:
    """Show every setting, its value and its origin (default, config file, environment)."""
    from cmectl import ui
    from cmectl.config import SETTINGS, cmectl_home, load_settings

    home = cmectl_home()
    settings = load_settings(home=home)
    from cmectl.records import mask_url

    rows = [{"name": s.name, "value": mask_url(settings.values[s.name])
             if s.name == "store" else settings.values[s.name],
             "origin": settings.origins[s.name], "help": s.help} for s in SETTINGS]
    rows.insert(0, {"name": "home", "value": str(home),
                    "origin": "CMECTL_HOME" if os.environ.get("CMECTL_HOME") else "default",
                    "help": "records, artifacts, labs and config.toml"})
    if as_json:
        ui.emit_json(rows)
        return
    for r in rows:
        ui.out.print(f"{r['name']:<16} {r['value']!s:<30} [dim]{r['origin']}[/]")
