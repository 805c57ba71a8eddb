"""cmectl end to end: `cmectl install tomcat jdk` in one run on the 3-host lab.

Java from Debian's archive (jdk role), Apache Tomcat from Maven Central through the
controller's artifact cache, each host probed over HTTP from outside, then verified and removed
with the same command line. Tests run in file order and build on each other.
"""

from __future__ import annotations

import http.client
import socket

import pytest
import yaml

from cmectl.config import project_root

pytestmark = pytest.mark.lab

PINNED = yaml.safe_load((project_root() / "roles/tomcat/defaults/main.yml").read_text())[
    "tomcat_version"]


def http_status(address: str, port: int) -> tuple[int, str]:
    conn = http.client.HTTPConnection(address, port, timeout=15)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def test_install_tomcat_and_jdk_in_one_run(lab):
    result = lab.cmectl("install", "tomcat", "jdk", "-i", str(lab.inventory),
                        "--request", "SR-E2E-JAVA", "--requester", "bob", "--json",
                        timeout=1500)
    assert result.code == 0, result.stderr
    run = result.json()
    assert run["packages"] == ["jdk", "tomcat"]  # Java first, whatever order they were asked
    assert [h["status"] for h in run["hosts"]] == ["changed"] * 3
    for h in run["hosts"]:
        assert h["installed"]["tomcat"]["version"] == PINNED
        assert h["installed"]["jdk"]["version"]
        assert h["installed"]["tomcat"]["request_id"] == "SR-E2E-JAVA"
    for host in lab.hosts:
        status, _ = http_status(host["address"], 8080)
        assert status == 200
        java = lab.exec(host, "java", "-version")
        assert java.returncode == 0 and "openjdk" in java.stderr.lower()


def test_second_run_changes_nothing(lab):
    result = lab.cmectl("install", "jdk", "tomcat", "-i", str(lab.inventory), "--json",
                        timeout=1500)
    assert result.code == 0, result.stderr
    assert [h["status"] for h in result.json()["hosts"]] == ["ok"] * 3


def test_verify_both(lab):
    result = lab.cmectl("verify", "tomcat", "jdk", "-i", str(lab.inventory), "--json")
    assert result.code == 0, result.stderr
    assert [h["status"] for h in result.json()["hosts"]] == ["ok"] * 3


def test_uninstall_both_leaves_nothing_listening(lab):
    result = lab.cmectl("uninstall", "tomcat", "jdk", "-i", str(lab.inventory), "--json",
                        timeout=1500)
    assert result.code == 0, result.stderr
    assert result.json()["packages"] == ["tomcat", "jdk"]  # Tomcat goes before its Java
    for host in lab.hosts:
        with pytest.raises(OSError):
            socket.create_connection((host["address"], 8080), timeout=5).close()
        assert lab.exec(host, "id", "tomcat").returncode != 0
        assert lab.exec(host, "sh", "-c", "command -v java").returncode != 0
