"""cmectl ping against the real lab: reachable hosts, and an unreachable one."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.lab


def test_every_lab_host_answers_over_both_ssh_transports(lab):
    for transport in ("ssh", "paramiko"):
        result = lab.cmectl("ping", "-i", str(lab.inventory), "--transport", transport, "--json")
        assert result.code == 0, result.stderr
        rows = result.json()
        assert {r["host"] for r in rows} == {h["name"] for h in lab.hosts}
        assert all(r["reachable"] and r["via"] == transport for r in rows)


def test_an_unreachable_host_is_named(lab, tmp_path):
    inventory = tmp_path / "inv.yml"
    inventory.write_text(lab.inventory.read_text().rstrip("\n") +
                         "\n        dead-1:\n          ansible_host: 127.0.0.1\n"
                         "          ansible_port: 1\n")
    result = lab.cmectl("ping", "-i", str(inventory), "--json")
    assert result.code == 8
    dead = next(r for r in result.json() if r["host"] == "dead-1")
    assert not dead["reachable"] and "Connection refused" in dead["message"]
    assert "1 of 4 hosts unreachable: dead-1" in result.stderr
