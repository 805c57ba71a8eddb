"""Entry point and the single error boundary.

Heavy modules (ansible, ansible_runner, rich tables) are imported inside the commands that
use them, so ``cmectl --help`` and shell completion stay instant.
"""

from __future__ import annotations

import sys
import traceback

import click

from cmectl import __version__
from cmectl.cli import apply as apply_cmds
from cmectl.cli import catalog, config, hosts, lab, notify, ping, report, request, runs
from cmectl.errors import CmectlError, ExitCode

_debug = False


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cmectl")
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
def cli(debug: bool) -> None:
    """Fulfil CME software service requests: install catalogued packages on many hosts at
    once with Ansible, and record every run against its service request.

    \b
    Records, artifacts and labs live in $CMECTL_HOME (default ~/.cmectl).
    Exit codes: 0 ok, 2 usage, 3 unknown package, 4 bad inventory, 5 no hosts matched,
    6 bad variable, 7 hosts failed, 8 some unreachable, 9 all unreachable,
    10 environment, 11 not found, 130 interrupted, 1 internal error.
    """
    global _debug
    _debug = debug


cli.add_command(catalog.group)
for command in apply_cmds.COMMANDS:
    cli.add_command(command)
cli.add_command(runs.group)
cli.add_command(request.group)
cli.add_command(hosts.group)
cli.add_command(ping.ping)
cli.add_command(report.report)
cli.add_command(notify.group)
cli.add_command(lab.group)
cli.add_command(config.group)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="cmectl", standalone_mode=False)
    except CmectlError as exc:
        from cmectl import ui

        ui.error(str(exc))
        sys.exit(int(exc.code))
    except click.exceptions.Abort:
        click.echo("cmectl: interrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except KeyboardInterrupt:
        click.echo("\ncmectl: interrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(int(ExitCode.USAGE) if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # the boundary: a bug, reported in one line unless --debug
        if _debug:
            traceback.print_exc()
        click.echo(f"cmectl: internal error: {type(exc).__name__}: {exc} "
                   "(run again with --debug for the traceback)", err=True)
        sys.exit(int(ExitCode.INTERNAL))
    sys.exit(0)
