"""cmectl lab up|down|list|image: local fleets of containers to rehearse rollouts on."""

from __future__ import annotations

import click

IMAGES = ("debian-11", "debian-12", "debian-13")


@click.group("lab")
def group() -> None:
    """Local lab fleets: containers with systemd and sshd, reached over SSH on loopback."""


@group.command("up")
@click.option("--hosts", "count", type=int, default=3, show_default=True, help="How many hosts.")
@click.option("--name", default="lab", show_default=True, help="Lab name (host name prefix).")
@click.option("--image", type=click.Choice(IMAGES), default="debian-12", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the lab as JSON.")
def up(count: int, name: str, image: str, as_json: bool) -> None:
    """Start (or complete) a lab and print the path of its inventory."""
    from cmectl import ui
    from cmectl.config import cmectl_home
    from cmectl.lab import fleet

    lab = fleet.up(cmectl_home(), name, count, image, log=ui.notice)
    if as_json:
        ui.emit_json(lab.to_dict())
    else:
        ui.lab_summary(lab)
        click.echo(str(lab.inventory))


@group.command("down")
@click.option("--name", default="lab", show_default=True, help="Lab name.")
def down(name: str) -> None:
    """Remove a lab: its containers, key pair and inventory."""
    from cmectl import ui
    from cmectl.config import cmectl_home
    from cmectl.lab import fleet

    removed = fleet.down(cmectl_home(), name)
    ui.notice(f"lab {name} removed ({len(removed)} hosts)")


@group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List labs made with 'lab up'."""
    from cmectl import ui
    from cmectl.config import cmectl_home
    from cmectl.lab import fleet

    labs = fleet.list_labs(cmectl_home())
    if as_json:
        ui.emit_json([lab.to_dict() for lab in labs])
    else:
        for lab in labs:
            ui.lab_summary(lab)
            click.echo(str(lab.inventory))


@group.command("image")
@click.argument("names", nargs=-1, type=click.Choice(IMAGES))
@click.option("--rebuild", is_flag=True, help="Build even when the cached image is current.")
def image(names: tuple[str, ...], rebuild: bool) -> None:
    """Build lab base images with debootstrap (cached by tag; all when none named)."""
    from cmectl import ui
    from cmectl.lab.engine import ensure_engine
    from cmectl.lab.images import ensure_image

    ensure_engine()
    for name in names or IMAGES:
        click.echo(ensure_image(name, rebuild=rebuild, log=ui.notice))
