"""cmectl end to end: nginx with HTTPS on a 3-host lab over SSH, recorded as a service request.

Everything here is real: Debian containers running systemd and sshd, the nginx package from
Debian's archive, HTTP and HTTPS probed from outside the hosts, and the SQLite record store.
Tests run in file order and build on each other (install, then re-run, then ...).
"""

from __future__ import annotations

import http.client
import itertools
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

HTTPS = ["-e", "nginx_https_enabled=true", "-e", "nginx_tls_self_signed=true",
         "-e", "nginx_status_enabled=true"]


def http_get(address: str, port: int = 80, path: str = "/", tls: bool = False,
             context: ssl.SSLContext | None = None):
    if tls:
        ctx = context or ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(address, port, timeout=10, context=ctx)
    else:
        conn = http.client.HTTPConnection(address, port, timeout=10)
    conn.request("GET", path, headers={"Host": "www.example.test"})
    resp = conn.getresponse()
    body = resp.read().decode(errors="replace")
    tls_version = conn.sock.version() if tls else None
    conn.close()
    return resp.status, resp.getheader("Location"), body, tls_version


def nginx_conf(lab, host) -> str:
    return lab.exec(host, "cat", "/etc/nginx/nginx.conf").stdout


def test_install_nginx_with_https_on_three_hosts(lab):
    result = lab.cmectl("install", "nginx", "-i", str(lab.inventory), *HTTPS,
                        "--request", "SR-E2E-1", "--requester", "alice", "--json")
    assert result.code == 0, result.stderr
    run = result.json()
    assert run["request_id"] == "SR-E2E-1" and run["requester"] == "alice"
    assert [h["status"] for h in run["hosts"]] == ["changed"] * 3
    for host in lab.hosts:
        status, location, _, _ = http_get(host["address"])
        assert status == 301 and location.startswith("https://")
        status, _, body, version = http_get(host["address"], 443, tls=True)
        assert status == 200 and body
        assert version in ("TLSv1.2", "TLSv1.3")
    for h in run["hosts"]:
        fact = h["installed"]["nginx"]
        assert fact["version"] and fact["request_id"] == "SR-E2E-1"


def test_only_tls_12_and_newer_are_accepted(lab):
    address = lab.hosts[0]["address"]
    tls12 = ssl.create_default_context()
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    assert http_get(address, 443, tls=True, context=tls12)[3] == "TLSv1.2"
    # A client that offers only TLS 1.1. Its own security level is lowered so that the
    # refusal, if any, comes from the server and not from this side.
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    old.minimum_version = ssl.TLSVersion.TLSv1_1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_connection((address, 443), timeout=10) as sock, \
            pytest.raises(ssl.SSLError) as refused:
        old.wrap_socket(sock).close()
    assert "NO_PROTOCOLS_AVAILABLE" not in str(refused.value), "the client never tried"
    assert "ALERT" in str(refused.value) or "UNSUPPORTED_PROTOCOL" in str(refused.value)


def test_second_run_changes_nothing(lab):
    result = lab.cmectl("install", "nginx", "-i", str(lab.inventory), *HTTPS,
                        "--request", "SR-E2E-1", "--json")
    assert result.code == 0, result.stderr
    run = result.json()
    assert [(h["status"], h["changed"]) for h in run["hosts"]] == [("ok", 0)] * 3


def test_paramiko_transport_reaches_the_same_hosts(lab):
    result = lab.cmectl("install", "nginx", "-i", str(lab.inventory), *HTTPS,
                        "--transport", "paramiko", "--request", "SR-E2E-PMK", "--json")
    assert result.code == 0, result.stderr
    run = result.json()
    assert run["options"]["transport"] == "paramiko"
    assert [(h["status"], h["changed"]) for h in run["hosts"]] == [("ok", 0)] * 3
    artifacts = lab.home / "runner" / "artifacts" / run["id"] / "command"
    assert "cmectl_paramiko" in artifacts.read_text()


def test_both_runs_are_recorded_with_per_host_outcomes(lab):
    runs = lab.cmectl("runs", "list", "--request", "SR-E2E-1", "--json").json()
    assert len(runs) == 2
    newest, first = runs
    assert {h["host"]: h["status"] for h in first["hosts"]} == \
        {h["name"]: "changed" for h in lab.hosts}
    assert {h["status"] for h in newest["hosts"]} == {"ok"}
    for run in runs:
        assert run["status"] == "ok" and run["exit_code"] == 0
        assert run["duration_s"] > 0 and run["packages"] == ["nginx"]
        for h in run["hosts"]:
            assert h["ok"] > 0 and h["duration_s"] is not None


def test_hosts_show_what_is_installed_where(lab):
    result = lab.cmectl("hosts", "show", "-i", str(lab.inventory), "--json")
    assert result.code == 0, result.stderr
    hosts = result.json()["hosts"]
    assert sorted(hosts) == sorted(h["name"] for h in lab.hosts)
    for facts in hosts.values():
        nginx = facts["nginx"]
        assert nginx["version"] and nginx["request_id"] == "SR-E2E-1"
        assert 443 in nginx["ports"] and nginx["_source"] == "facts"


def test_verify_reports_healthy_hosts(lab):
    result = lab.cmectl("verify", "nginx", "-i", str(lab.inventory), *HTTPS, "--json")
    assert result.code == 0, result.stderr
    assert {h["status"] for h in result.json()["hosts"]} == {"ok"}


def test_dry_run_reports_but_changes_nothing(lab):
    before = nginx_conf(lab, lab.hosts[0])
    result = lab.cmectl("install", "nginx", "-i", str(lab.inventory), *HTTPS,
                        "-e", "nginx_worker_connections=2048", "--check", "--json")
    assert result.code == 0, result.stderr
    run = result.json()
    assert run["check_mode"] and {h["status"] for h in run["hosts"]} == {"changed"}
    assert "would change" in run["message"]
    assert nginx_conf(lab, lab.hosts[0]) == before


def test_unreachable_host_stops_the_run_before_any_change(lab, tmp_path):
    inventory = tmp_path / "with-a-dead-host.yml"
    text = lab.inventory.read_text().rstrip("\n")
    inventory.write_text(text + "\n        dead-1:\n          ansible_host: 127.0.0.1\n"
                         "          ansible_port: 1\n")
    before = [nginx_conf(lab, h) for h in lab.hosts]
    result = lab.cmectl("install", "nginx", "-i", str(inventory), *HTTPS,
                        "-e", "nginx_worker_connections=2048", "--json")
    assert result.code == 8, result.stderr
    run = result.json()
    outcome = {h["host"]: h["status"] for h in run["hosts"]}
    assert outcome.pop("dead-1") == "unreachable"
    assert set(outcome.values()) == {"aborted"}
    assert "nothing was changed" in run["message"]
    assert [nginx_conf(lab, h) for h in lab.hosts] == before
    assert "cmectl: error:" in result.stderr and "Traceback" not in result.stderr


def test_customer_certificate_as_variables_is_served_and_never_leaks(lab, tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-subj", "/CN=www.customer.test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    key_text = key.read_text()
    marker = key_text.splitlines()[5]  # a line from the middle of the private key
    varsfile = tmp_path / "secrets.yml"
    varsfile.write_text("nginx_tls_certificate: |\n" + _indent(cert.read_text())
                        + "nginx_tls_key: |\n" + _indent(key_text))
    result = lab.cmectl("install", "nginx", "-i", str(lab.inventory), "-l", lab.hosts[0]["name"],
                        "-e", "nginx_https_enabled=true", "-e", f"@{varsfile}",
                        "--request", "SR-E2E-CERT", "--json", "--diff")
    assert result.code == 0, result.stderr
    served = ssl.get_server_certificate((lab.hosts[0]["address"], 443))
    assert served.split() == cert.read_text().split()
    assert marker not in result.stdout and marker not in result.stderr
    leaks = subprocess.run(["grep", "-rlF", marker, str(lab.home)], capture_output=True,
                           text=True, check=False)
    assert leaks.stdout == "", f"private key found in {leaks.stdout}"
    assert result.json()["extra_vars"]["nginx_tls_key"] == "********"


def test_rolling_batches_one_host_at_a_time(lab):
    result = lab.cmectl("install", "nginx", "-i", str(lab.inventory), *HTTPS,
                        "-e", "nginx_worker_connections=1536", "--serial", "1", "--json")
    assert result.code == 0, result.stderr
    hosts = sorted(result.json()["hosts"], key=lambda h: h["started_at"])
    for earlier, later in itertools.pairwise(hosts):
        assert later["started_at"] >= earlier["ended_at"], "batches overlapped"
    for host in lab.hosts:
        assert "worker_connections 1536" in nginx_conf(lab, host)


def test_ctrl_c_is_recorded_as_interrupted_and_stops_ansible(lab):
    proc = subprocess.Popen(
        [sys.executable, "-m", "cmectl", "install", "nginx", "-i", str(lab.inventory), *HTTPS,
         "-e", "nginx_worker_connections=1024", "--serial", "1", "--request", "SR-E2E-INT"],
        env=lab.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    playbooks = _wait_for_playbook(proc.pid)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    run = lab.cmectl("runs", "list", "--request", "SR-E2E-INT", "--json").json()[0]
    assert run["status"] == "interrupted" and run["exit_code"] == 130
    assert not [pid for pid in playbooks if Path(f"/proc/{pid}").exists()], "ansible still runs"


def _wait_for_playbook(parent: int, limit: float = 120) -> list[int]:
    """The pids of the ansible-playbook that cmectl (``parent``) started, once it runs (so an
    interrupt lands mid-run however busy the machine is); fails after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = subprocess.run(["pgrep", "-P", str(parent), "-f", "ansible-playbook"],
                               capture_output=True, text=True, check=False).stdout.split()
        if found:
            time.sleep(2)  # into the play, past ansible's start-up
            return [int(pid) for pid in found]
        time.sleep(0.2)
    raise AssertionError(f"cmectl started no ansible-playbook within {limit:.0f}s")


def test_uninstall_removes_nginx_and_is_idempotent(lab):
    result = lab.cmectl("uninstall", "nginx", "-i", str(lab.inventory), "--json")
    assert result.code == 0, result.stderr
    assert {h["status"] for h in result.json()["hosts"]} == {"changed"}
    for host in lab.hosts:
        with pytest.raises(OSError):
            socket.create_connection((host["address"], 80), timeout=3).close()
        assert lab.exec(host, "test", "-e", "/etc/ansible/facts.d/nginx.fact").returncode == 1
        assert lab.exec(host, "dpkg", "-s", "nginx").returncode != 0
    again = lab.cmectl("uninstall", "nginx", "-i", str(lab.inventory), "--json")
    assert again.code == 0, again.stderr
    assert {h["changed"] for h in again.json()["hosts"]} == {0}
    cached = lab.cmectl("hosts", "show", "-i", str(lab.inventory), "--cached", "--json").json()
    assert all("nginx" not in facts for facts in cached["hosts"].values())


def _indent(text: str) -> str:
    return "".join(f"  {line}\n" for line in text.splitlines())
