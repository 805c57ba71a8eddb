"""cmectl catalog list|show"""

from __future__ import annotations

import click


@click.group("catalog")
def group() -> None:
    """What can be installed."""


@group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--available", is_flag=True, help="Only packages whose role is built.")
def list_(as_json: bool, available: bool) -> None:
    """List the catalogue: every package a service request can ask for."""
    from cmectl import ui
    from cmectl.catalog import load_catalogue

    packages = [p for p in load_catalogue() if p.available or not available]
    if as_json:
        ui.emit_json([p.to_dict() for p in packages])
    else:
        ui.catalog_table(packages)


@group.command("show")
@click.argument("package_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(package_id: str, as_json: bool) -> None:
    """Show one package and its role's variables (from argument_specs, with defaults)."""
    from dataclasses import asdict

    from cmectl import ui
    from cmectl.catalog import load_catalogue

    catalogue = load_catalogue()
    pkg = catalogue.get(package_id)
    variables = catalogue.variables(pkg) if pkg.available else []
    if as_json:
        data = pkg.to_dict()
        data["variables"] = [
            {**asdict(v), "default": None if v.secret else v.default} for v in variables
        ]
        ui.emit_json(data)
    else:
        ui.catalog_entry(pkg, variables)
