"""WinRM transport policy: HTTPS with certificate validation and a non-clear-text
authentication by default; anything weaker only when the inventory explicitly says so.
(No Windows host can run here: this tests everything up to the connection.)"""

from __future__ import annotations

import pytest

from cmectl.errors import ExitCode, InventoryError
from cmectl.inventory import resolve_targets, winrm_policy

SECURE = {"ansible_connection": "winrm", "ansible_port": 5986,
          "ansible_winrm_transport": "ntlm"}


@pytest.mark.parametrize("overrides, expected", [
    ({}, []),
    ({"ansible_winrm_transport": ["kerberos"]}, []),
    ({"ansible_winrm_transport": "credssp"}, []),
    ({"ansible_port": 5985, "ansible_winrm_transport": "basic"},
     ["Basic authentication over HTTP sends the password in the clear",
      "HTTP instead of HTTPS (use port 5986)"]),
    ({"ansible_winrm_scheme": "http", "ansible_winrm_message_encryption": "never"},
     ["message encryption is off over HTTP: the traffic is readable"]),
    ({"ansible_winrm_transport": "basic"},
     ["Basic authentication (prefer NTLM, Kerberos or CredSSP)"]),
    ({"ansible_winrm_server_cert_validation": "ignore"},
     ["the server certificate is not validated"]),
    ({"ansible_winrm_transport": "telnet"}, ["unknown WinRM transport telnet"]),
    ({"ansible_port": 5985, "ansible_winrm_transport": "basic",
      "cmectl_winrm_allow_insecure": True}, []),
])
def test_policy(overrides, expected):
    assert winrm_policy({**SECURE, **overrides}) == expected


def write(tmp_path, host_vars: str):
    inv = tmp_path / "windows.yml"
    inv.write_text("all:\n  hosts:\n    win-1:\n      ansible_host: 192.0.2.10\n"
                   "      ansible_connection: winrm\n" + host_vars +
                   "    linux-1:\n      ansible_host: 192.0.2.11\n")
    return inv


def test_insecure_inventory_is_refused_before_any_host_is_touched(tmp_path):
    inv = write(tmp_path, "      ansible_port: 5985\n      ansible_winrm_transport: basic\n")
    with pytest.raises(InventoryError) as err:
        resolve_targets(str(inv), None)
    assert "win-1: Basic authentication over HTTP" in str(err.value)
    assert "cmectl_winrm_allow_insecure" in str(err.value)
    assert err.value.code == ExitCode.BAD_INVENTORY


def test_secure_inventory_lists_windows_hosts(tmp_path):
    inv = write(tmp_path, "      ansible_port: 5986\n      ansible_winrm_transport: kerberos\n")
    target = resolve_targets(str(inv), None)
    assert target.windows == ("win-1",)
    assert set(target.hosts) == {"win-1", "linux-1"}


def test_explicit_opt_in_is_respected(tmp_path):
    inv = write(tmp_path, "      ansible_port: 5985\n      ansible_winrm_transport: basic\n"
                          "      cmectl_winrm_allow_insecure: true\n")
    assert resolve_targets(str(inv), None).windows == ("win-1",)
