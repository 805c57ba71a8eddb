"""Reading and checking inventories before any host is touched.

Uses Ansible's own inventory parser, so whatever ``ansible-playbook`` accepts (YAML, INI,
directories, scripts) cmectl accepts too, but strictly: a file that no plugin can parse is an
error here, not a warning and an empty host list.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cmectl.errors import InventoryError, NoHostsError


@dataclass(frozen=True)
class Target:
    inventory: Path
    limit: str | None
    hosts: tuple[str, ...]
    windows: tuple[str, ...]  # hosts reached over WinRM


FAILURE = re.compile(r"Failed to parse inventory with '(\w+)' plugin: (.+)")
UNPARSED = re.compile(r"Unable to parse .* as an inventory source|"
                      r"Failed to parse inventory with|Completely failed to parse")
ORIGIN = re.compile(r"Origin: .*?:(\d+):(\d+)")


def _parse_failure(warnings: str, path: Path) -> str:
    """The most telling reason among ansible's per-plugin parse warnings."""
    reasons = dict(FAILURE.findall(warnings))
    preferred = "yaml" if path.suffix in (".yml", ".yaml") else "ini"
    reason = reasons.get(preferred) or next(iter(reasons.values()), "no plugin could parse it")
    origin = ORIGIN.search(warnings)
    return reason.strip() + (f" (line {origin.group(1)})" if origin else "")


def resolve_targets(inventory: str, limit: str | None) -> Target:
    path = Path(inventory).expanduser()
    if not path.exists():
        raise InventoryError(f"inventory {inventory} does not exist",
                             "give the path of an inventory file or directory with -i")
    if path.is_file() and not os.access(path, os.R_OK):
        raise InventoryError(f"inventory {inventory} is not readable",
                             "check the file's permissions")
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    chatter = io.StringIO()  # ansible's warnings: folded into our one-line error instead
    try:
        with contextlib.redirect_stderr(chatter), contextlib.redirect_stdout(chatter):
            manager = InventoryManager(loader=loader, sources=[str(path.resolve())])
    except AnsibleError as exc:
        raise InventoryError(
            f"inventory {inventory} is malformed: {_parse_failure(chatter.getvalue(), path)}"
            if chatter.getvalue() else f"inventory {inventory} is malformed: {exc}",
            "fix its syntax (ansible-inventory -i FILE --list shows the error)") from None
    # Ansible reads "unparsed is failed" from its configuration once per process; whatever it
    # read, a source that no plugin could parse is an error here.
    if UNPARSED.search(chatter.getvalue()):
        raise InventoryError(
            f"inventory {inventory} is malformed: {_parse_failure(chatter.getvalue(), path)}",
            "fix its syntax (ansible-inventory -i FILE --list shows the error)")
    everything = manager.get_hosts("all")
    if not everything:
        raise NoHostsError(f"inventory {inventory} has no hosts",
                           "add hosts to it, or point -i at the right file")
    if limit:
        with contextlib.redirect_stderr(chatter), contextlib.redirect_stdout(chatter):
            manager.subset(limit)
            hosts = manager.get_hosts("all")
    else:
        hosts = everything
    if not hosts:
        raise NoHostsError(
            f"--limit {limit!r} matches no host in {inventory}",
            "see the hosts with 'ansible-inventory -i INVENTORY --graph'",
        )
    variables = VariableManager(loader=loader, inventory=manager)
    windows, refused = [], []
    for host in hosts:
        hv = variables.get_vars(host=host, include_hostvars=False)
        if str(hv.get("ansible_connection", "")) in ("winrm", "psrp"):
            windows.append(host.name)
            refused += [f"{host.name}: {why}" for why in winrm_policy(hv)]
    if refused:
        raise InventoryError(
            "insecure WinRM settings in " + inventory + ": " + "; ".join(refused),
            "use HTTPS (port 5986) with certificate validation and NTLM, Kerberos or CredSSP, "
            "or set cmectl_winrm_allow_insecure: true for those hosts if the customer accepts it")
    return Target(path.resolve(), limit, tuple(h.name for h in hosts), tuple(windows))


SECURE_WINRM_TRANSPORTS = ("ntlm", "kerberos", "credssp", "certificate")


def winrm_policy(hostvars: dict) -> list[str]:
    """Why a Windows host's WinRM settings would expose credentials or traffic ([] if fine).

    Default: HTTPS with certificate validation, and an authentication that does not send the
    password in the clear. ``cmectl_winrm_allow_insecure: true`` on the host accepts the risk.
    """
    if str(hostvars.get("cmectl_winrm_allow_insecure", "")).lower() in ("true", "yes", "1"):
        return []
    port = str(hostvars.get("ansible_port", hostvars.get("ansible_winrm_port", "5986")))
    scheme = str(hostvars.get("ansible_winrm_scheme") or ("http" if port == "5985" else "https"))
    raw = hostvars.get("ansible_winrm_transport") or ["ntlm"]
    transports = [t.strip().lower() for t in (raw.split(",") if isinstance(raw, str) else raw)]
    problems = []
    if scheme == "http":
        if set(transports) & {"basic", "plaintext"}:
            problems.append("Basic authentication over HTTP sends the password in the clear")
        if str(hostvars.get("ansible_winrm_message_encryption", "auto")).lower() == "never":
            problems.append("message encryption is off over HTTP: the traffic is readable")
        else:
            problems.append("HTTP instead of HTTPS (use port 5986)")
    elif set(transports) & {"basic", "plaintext"}:
        problems.append("Basic authentication (prefer NTLM, Kerberos or CredSSP)")
    if str(hostvars.get("ansible_winrm_server_cert_validation", "validate")).lower() == "ignore":
        problems.append("the server certificate is not validated")
    unknown = [t for t in transports
               if t not in (*SECURE_WINRM_TRANSPORTS, "basic", "plaintext", "ssl")]
    if unknown:
        problems.append(f"unknown WinRM transport {', '.join(unknown)}")
    return problems
