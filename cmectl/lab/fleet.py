"""Lab fleets: N systemd containers running sshd, published on loopback ports only.

``cmectl lab up`` makes (or completes) a fleet and writes an inventory for it; ``lab down``
removes it. Each lab has its own SSH key pair, and its hosts' keys are read from the
containers themselves (not trusted on first use) into a known_hosts file the inventory names.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import jinja2

from cmectl.config import project_root
from cmectl.errors import EnvironmentProblem, NotFoundError, UsageError
from cmectl.lab.engine import docker, ensure_engine
from cmectl.lab.images import ensure_image

LABEL = "cmectl.lab"
NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
RUN_OPTIONS = (
    "--cap-add", "SYS_ADMIN", "--tmpfs", "/run", "--tmpfs", "/run/lock",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro", "--stop-signal", "SIGRTMIN+3",
    "-p", "127.0.0.1::22",
)


@dataclass
class LabHost:
    name: str
    container: str
    port: int
    address: str  # on the engine's bridge network: where the host's services answer
    image: str


@dataclass
class Lab:
    name: str
    directory: Path
    inventory: Path
    hosts: list[LabHost]

    def to_dict(self) -> dict:
        return {"name": self.name, "inventory": str(self.inventory),
                "hosts": [asdict(h) for h in self.hosts]}


def _check_name(name: str) -> None:
    if not NAME.match(name):
        raise UsageError(f"lab name {name!r} is not valid",
                         "use lowercase letters, digits and dashes, starting with a letter")


def _container(lab: str, index: int) -> str:
    return f"cmectl-{lab}-{index}"


def _containers(lab: str) -> list[str]:
    out = docker(["ps", "-a", "--filter", f"label={LABEL}={lab}", "--format", "{{.Names}}"])
    return sorted(out.stdout.split(), key=lambda n: int(n.rsplit("-", 1)[1]))


def _wait_for_sshd(container: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = docker(["exec", container, "systemctl", "is-active", "ssh"], check=False)
        if proc.stdout.strip() == "active":
            return
        time.sleep(0.5)
    raise EnvironmentProblem(f"sshd did not start in lab host {container}",
                             f"look inside with 'docker exec {container} systemctl status ssh'")


def up(home: Path, name: str, count: int, image: str, log=None) -> Lab:
    _check_name(name)
    if not 1 <= count <= 50:
        raise UsageError(f"--hosts {count} is out of range", "a lab has 1 to 50 hosts")
    ensure_engine()
    tag = ensure_image(image, log=log)
    directory = home / "labs" / name
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "id_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"cmectl-lab-{name}",
                        "-f", str(key)], check=True)
    pubkey = (directory / "id_ed25519.pub").read_text()

    existing = _containers(name)
    for extra in existing[count:]:
        docker(["rm", "-f", extra])
    for index in range(1, count + 1):
        container = _container(name, index)
        if container in existing:
            docker(["start", container])
            continue
        if log:
            log(f"starting lab host {name}-{index}")
        docker(["run", "-d", "--name", container, "--hostname", f"{name}-{index}",
                "--label", f"{LABEL}={name}", "--label", f"cmectl.image={image}",
                *RUN_OPTIONS, tag])

    hosts: list[LabHost] = []
    known: list[str] = []
    for index in range(1, count + 1):
        container = _container(name, index)
        _wait_for_sshd(container)
        docker(["exec", "-i", container, "sh", "-c",
                "umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys"],
               input=pubkey.encode())
        hostkey = docker(["exec", container, "cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout
        port = int(docker(["port", container, "22"]).stdout.strip().splitlines()[0]
                   .rsplit(":", 1)[1])
        address = docker(["inspect", "--format",
                          "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                          container]).stdout.strip()
        known.append(f"[127.0.0.1]:{port} {' '.join(hostkey.split()[:2])}")
        hosts.append(LabHost(f"{name}-{index}", container, port, address, image))

    known_hosts = directory / "known_hosts"
    known_hosts.write_text("\n".join(known) + "\n")
    template = jinja2.Environment(
        loader=jinja2.FileSystemLoader(project_root() / "templates"),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
    ).get_template("lab-inventory.yml.j2")
    inventory = directory / "inventory.yml"
    inventory.write_text(template.render(
        lab=name, key=key, known_hosts=known_hosts, hosts=hosts,
        group=name.replace("-", "_")))
    lab = Lab(name, directory, inventory, hosts)
    (directory / "lab.json").write_text(json.dumps(lab.to_dict(), indent=2))
    return lab


def down(home: Path, name: str) -> list[str]:
    _check_name(name)
    ensure_engine()
    containers = _containers(name)
    directory = home / "labs" / name
    if not containers and not directory.exists():
        raise NotFoundError(f"there is no lab named {name!r}", "see 'cmectl lab list'")
    if containers:
        docker(["rm", "-f", "-v", *containers])
    shutil.rmtree(directory, ignore_errors=True)
    return containers


def list_labs(home: Path) -> list[Lab]:
    labs = []
    for meta in sorted((home / "labs").glob("*/lab.json")):
        data = json.loads(meta.read_text())
        labs.append(Lab(data["name"], meta.parent, Path(data["inventory"]),
                        [LabHost(**h) for h in data["hosts"]]))
    return labs
