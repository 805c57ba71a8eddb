"""The cmectl_paramiko connection plugin against a real two-host lab.

Every test drives the ``ansible`` command line with ``-c cmectl_paramiko`` and the project's
ansible.cfg, with HOME pointed at an empty directory so no personal known_hosts file, key or
agent can help or hurt.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "ansible.cfg"
CONNECTION = "cmectl_paramiko"


def _bin(name: str) -> str:
    for directory in (Path(sys.executable).parent, ROOT / ".venv" / "bin"):
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed")
    return found


@dataclass
class Lab:
    name: str
    inventory: Path
    hosts: list[dict]
    home: Path  # HOME for the ansible subprocesses: no ~/.ssh at all
    work: Path


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    seconds: float

    def results(self) -> dict[str, dict]:
        """Per-host results of the (single) ad-hoc task, from the json callback."""
        data = json.loads(self.stdout)
        return data["plays"][0]["tasks"][0]["hosts"]


def _engine_ready() -> bool:
    if not shutil.which("docker"):
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def pmk_lab(tmp_path_factory) -> Lab:
    if not _engine_ready():
        pytest.skip("no container engine")
    work = tmp_path_factory.mktemp("paramiko-lab")
    cmectl_home = work / "cmectl-home"
    cmectl_home.mkdir()
    home = work / "home"
    home.mkdir()
    name = f"pmk-{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMECTL_")}
    env["CMECTL_HOME"] = str(cmectl_home)
    cmectl = _bin("cmectl")
    try:
        up = subprocess.run(
            [cmectl, "lab", "up", "--hosts", "2", "--name", name, "--json"],
            env=env, capture_output=True, text=True, timeout=600, check=False,
        )
        assert up.returncode == 0, f"lab up failed:\n{up.stdout}\n{up.stderr}"
        data = json.loads(up.stdout)
        yield Lab(name, Path(data["inventory"]), data["hosts"], home, work)
    finally:
        subprocess.run([cmectl, "lab", "down", "--name", name], env=env,
                       capture_output=True, timeout=300, check=False)


def ansible(lab: Lab, *args: str, inventory: Path | None = None, pipelining: bool | None = None,
            timeout: float = 60) -> Run:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ANSIBLE_") and k != "SSH_AUTH_SOCK"}
    env.update(
        ANSIBLE_CONFIG=str(CONFIG),
        HOME=str(lab.home),
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="json",
        ANSIBLE_NOCOLOR="1",
    )
    if pipelining is not None:
        env["ANSIBLE_PIPELINING"] = str(pipelining)
    cmd = [_bin("ansible"), "all", "-i", str(inventory or lab.inventory), "-c", CONNECTION, *args]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


def inventory_with_known_hosts(lab: Lab, known_hosts: Path, tag: str) -> Path:
    """A copy of the lab inventory whose cmectl_known_hosts_file is ``known_hosts``."""
    data = yaml.safe_load(lab.inventory.read_text())
    data["all"]["vars"]["cmectl_known_hosts_file"] = str(known_hosts)
    path = lab.work / f"inventory-{tag}.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def host_names(lab: Lab) -> set[str]:
    return {h["name"] for h in lab.hosts}


def test_ping_both_hosts(pmk_lab):
    run = ansible(pmk_lab, "-m", "ansible.builtin.ping")
    assert run.rc == 0, run.stdout + run.stderr
    results = run.results()
    assert set(results) == host_names(pmk_lab)
    for result in results.values():
        assert result["ping"] == "pong"
    assert not (pmk_lab.home / ".ssh").exists(), "no known_hosts file may be written"


def test_command_runs_on_the_host(pmk_lab):
    run = ansible(pmk_lab, "-m", "ansible.builtin.command", "-a", "hostname")
    assert run.rc == 0, run.stdout + run.stderr
    results = run.results()
    for name in host_names(pmk_lab):
        assert results[name]["stdout"].strip() == name


def test_copy_and_fetch_over_sftp_without_pipelining(pmk_lab):
    source = pmk_lab.work / "payload.txt"
    content = f"cmectl paramiko {secrets.token_hex(16)}\nsecond line\n"
    source.write_text(content)
    remote = f"/tmp/{pmk_lab.name}-payload.txt"

    copied = ansible(pmk_lab, "-m", "ansible.builtin.copy", "-a", f"src={source} dest={remote}",
                     pipelining=False)
    assert copied.rc == 0, copied.stdout + copied.stderr

    fetched_dir = pmk_lab.work / "fetched"
    fetched = ansible(pmk_lab, "-m", "ansible.builtin.fetch",
                      "-a", f"src={remote} dest={fetched_dir}/", pipelining=False)
    assert fetched.rc == 0, fetched.stdout + fetched.stderr
    for name in host_names(pmk_lab):
        assert (fetched_dir / name / remote.lstrip("/")).read_text() == content


def test_unknown_host_key_is_refused_without_prompting(pmk_lab):
    empty = pmk_lab.work / "known_hosts-empty"
    empty.write_text("")
    inventory = inventory_with_known_hosts(pmk_lab, empty, "empty")

    run = ansible(pmk_lab, "-m", "ansible.builtin.ping", inventory=inventory, timeout=60)

    assert run.rc != 0
    assert run.seconds < 30, f"refusal took {run.seconds:.1f}s"
    results = run.results()
    ports = {h["name"]: h["port"] for h in pmk_lab.hosts}
    for name, result in results.items():
        assert result.get("unreachable") is True, result
        msg = result["msg"]
        assert f"127.0.0.1:{ports[name]}" in msg
        assert "not in any known_hosts file" in msg
        assert "cmectl_known_hosts_file" in msg
        assert "ssh-keyscan" in msg
    assert empty.read_text() == ""
    assert not (pmk_lab.home / ".ssh").exists()


def test_mismatched_host_key_is_refused(pmk_lab):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    lines = []
    for host in pmk_lab.hosts:
        stranger = Ed25519PrivateKey.generate().public_key()
        key = stranger.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
        lines.append(f"[127.0.0.1]:{host['port']} {key}")
    wrong = pmk_lab.work / "known_hosts-wrong"
    wrong.write_text("\n".join(lines) + "\n")
    before = wrong.read_text()
    inventory = inventory_with_known_hosts(pmk_lab, wrong, "wrong")

    run = ansible(pmk_lab, "-m", "ansible.builtin.ping", inventory=inventory, timeout=60)

    assert run.rc != 0
    for result in run.results().values():
        assert result.get("unreachable") is True, result
        assert "host key mismatch" in result["msg"]
    assert wrong.read_text() == before


@pytest.fixture(scope="module")
def deploy_password(pmk_lab) -> str:
    """A 'deploy' user on the first host that may sudo with its password."""
    password = f"Pmk-{secrets.token_hex(10)}"
    container = pmk_lab.hosts[0]["container"]
    script = (
        "id deploy >/dev/null 2>&1 || useradd -m -s /bin/bash deploy; "
        "chpasswd; "
        "echo 'deploy ALL=(ALL) ALL' > /etc/sudoers.d/deploy; chmod 0440 /etc/sudoers.d/deploy"
    )
    subprocess.run(["docker", "exec", "-i", container, "sh", "-c", script],
                   input=f"deploy:{password}\n", text=True, check=True, capture_output=True,
                   timeout=60)
    return password


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "pty"])
def test_become_with_sudo_password(pmk_lab, deploy_password, pipelining):
    host = pmk_lab.hosts[0]["name"]
    # ansible_user from the inventory outranks -u, so the user is given as an extra var.
    secrets_json = json.dumps({"ansible_user": "deploy", "ansible_password": deploy_password,
                               "ansible_become_password": deploy_password})
    run = ansible(pmk_lab, "--limit", host, "-b", "-e", secrets_json,
                  "-m", "ansible.builtin.command", "-a", "whoami", pipelining=pipelining)
    assert run.rc == 0, run.stdout + run.stderr
    assert run.results()[host]["stdout"].strip() == "root"
    assert deploy_password not in run.stdout
    assert deploy_password not in run.stderr


def test_wrong_become_password_fails_clearly(pmk_lab, deploy_password):
    host = pmk_lab.hosts[0]["name"]
    extra = json.dumps({"ansible_user": "deploy", "ansible_password": deploy_password,
                        "ansible_become_password": "not-the-password"})
    run = ansible(pmk_lab, "--limit", host, "-b", "-e", extra,
                  "-m", "ansible.builtin.command", "-a", "whoami")
    assert run.rc != 0
    assert "incorrect sudo password" in run.results()[host]["msg"]
    assert deploy_password not in run.stdout + run.stderr


def test_wrong_login_password_is_an_authentication_failure(pmk_lab, deploy_password):
    host = pmk_lab.hosts[0]["name"]
    extra = json.dumps({"ansible_user": "deploy", "ansible_password": "not-the-password"})
    run = ansible(pmk_lab, "--limit", host, "-e", extra, "-m", "ansible.builtin.ping")
    assert run.rc != 0
    result = run.results()[host]
    assert result.get("unreachable") is True, result
    assert "authentication as deploy" in result["msg"]
    assert "not-the-password" not in run.stdout + run.stderr
