"""cmectl install|uninstall|verify: one shape for the three verbs."""

from __future__ import annotations

import click

VERB_HELP = {
    "install": "Install and configure packages on the inventory's hosts (idempotent).",
    "uninstall": "Remove packages from the inventory's hosts: services, files and local facts.",
    "verify": "Check that packages are installed and answering; changes nothing.",
}


def _make(verb: str) -> click.Command:
    @click.command(verb, help=VERB_HELP[verb])
    @click.argument("package_ids", nargs=-1, required=True, metavar="ID...")
    @click.option("-i", "--inventory", required=True, metavar="PATH",
                  help="Inventory file or directory (any format ansible accepts).")
    @click.option("-l", "--limit", metavar="PATTERN", help="Only hosts matching this pattern.")
    @click.option("-e", "--extra-vars", "extra_vars", multiple=True, metavar="KEY=VALUE|@FILE",
                  help="Role variable (repeatable); @FILE reads a YAML file of variables.")
    @click.option("--check", is_flag=True, help="Dry run: report what would change.")
    @click.option("--diff", is_flag=True, help="Show the changes made to files.")
    @click.option("--forks", type=int, help="Hosts worked on in parallel.")
    @click.option("--serial", metavar="SPEC",
                  help="Rolling batches, e.g. 1,10%,50% (the last size repeats).")
    @click.option("--max-fail", type=int, metavar="PERCENT",
                  help="Stop the rollout when more than this share of a batch fails.")
    @click.option("--skip-unreachable", is_flag=True,
                  help="Go on with the hosts that answer instead of stopping.")
    @click.option("--transport", type=click.Choice(["ssh", "paramiko"]),
                  help="How to reach Linux hosts (default: ssh, i.e. OpenSSH).")
    @click.option("--request", "request_id", metavar="ID",
                  help="Service request this run fulfils (generated when omitted).")
    @click.option("--requester", metavar="NAME", help="Who asked for it.")
    @click.option("--json", "as_json", is_flag=True, help="Print the run record as JSON.")
    def command(package_ids, inventory, limit, extra_vars, check, diff, forks, serial, max_fail,
                skip_unreachable, transport, request_id, requester, as_json):
        from cmectl import ui
        from cmectl.config import cmectl_home, load_settings
        from cmectl.fulfil import ApplyRequest, apply

        settings = load_settings({"forks": forks, "transport": transport})
        request = ApplyRequest(
            action=verb, package_ids=list(package_ids), inventory=inventory, limit=limit,
            extra_vars=list(extra_vars), check=check, diff=diff, serial=serial,
            max_fail=max_fail, skip_unreachable=skip_unreachable, request_id=request_id,
            requester=requester,
        )
        progress = None

        def on_start(run):
            nonlocal progress
            ui.notice(f"run {run.id} for request {run.request_id}")
            title = f"{verb} {', '.join(run.packages)}" + (" (check mode)" if check else "")
            progress = ui.RunProgress(run.options["hosts"], title).__enter__()

        def on_update(update):
            if progress:
                progress.update(update)

        try:
            run = apply(request, settings, cmectl_home(), on_update=on_update,
                        on_start=on_start, warn=ui.notice)
        finally:
            if progress:
                progress.__exit__(None, None, None)
        if as_json:
            ui.emit_json(run.to_dict())
        else:
            ui.run_detail(run)
        if run.exit_code:
            ui.error(run.message or run.status)
        raise SystemExit(run.exit_code or 0)

    return command


COMMANDS = [_make(v) for v in ("install", "uninstall", "verify")]
