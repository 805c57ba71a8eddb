"""Base images for lab hosts and Molecule, built locally with debootstrap.

No image registry is reachable from the machines cmectl is tested on, so images are made from
Debian's packages: debootstrap a minimal root file system, add what a lab host needs (systemd,
sshd, python3 for Ansible), and ``docker import`` it. Images are cached by tag and rebuilt only
when the recipe below changes (its hash is stored as an image label).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cmectl.errors import EnvironmentProblem, UsageError
from cmectl.lab.engine import docker

REPOSITORY = "cmectl-lab/debian"
RECIPE_LABEL = "cmectl.recipe"

SUITES = {"debian-11": "bullseye", "debian-12": "bookworm", "debian-13": "trixie"}

PACKAGES = (
    "python3", "python3-apt", "systemd", "systemd-sysv", "dbus", "openssh-server", "sudo",
    "ca-certificates", "iproute2", "procps",
)

# Each container makes its own SSH host keys at first boot, so no two lab hosts share a key.
HOSTKEYS_UNIT = """\
[Unit]
Description=Generate this host's own SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
"""

# Units that have no business in a container and only slow boots down or fail there.
MASKED_UNITS = (
    "getty@tty1.service", "console-getty.service", "systemd-remount-fs.service",
    "systemd-udevd.service", "systemd-udev-trigger.service", "apt-daily.timer",
    "apt-daily-upgrade.timer", "e2scrub_reap.service",
)

RECIPE_VERSION = "2"


@dataclass(frozen=True)
class ImageSpec:
    name: str  # debian-12
    suite: str  # bookworm

    @property
    def tag(self) -> str:
        return f"{REPOSITORY}:{self.name.split('-', 1)[1]}"

    @property
    def recipe_hash(self) -> str:
        text = "\n".join(
            [RECIPE_VERSION, self.suite, *PACKAGES, HOSTKEYS_UNIT, *MASKED_UNITS]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def image_spec(name: str) -> ImageSpec:
    if name not in SUITES:
        raise UsageError(f"unknown lab image {name!r}", f"choose one of {', '.join(SUITES)}")
    return ImageSpec(name, SUITES[name])


def debian_mirror() -> str:
    """The Debian mirror this machine's own apt uses (never a hard-coded host)."""
    if os.environ.get("CMECTL_DEBIAN_MIRROR"):
        return os.environ["CMECTL_DEBIAN_MIRROR"]
    candidates: list[str] = []
    sources = Path("/etc/apt/sources.list.d")
    for f in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        for m in re.finditer(r"^URIs:\s*(.+)$", f.read_text(), re.M):
            candidates.extend(m.group(1).split())
    legacy = [Path("/etc/apt/sources.list"), *sorted(sources.glob("*.list"))]
    for f in legacy:
        if f.is_file():
            for m in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)", f.read_text(), re.M):
                candidates.append(m.group(1))
    for uri in candidates:
        if re.search(r"/debian/?$", uri):
            return uri.rstrip("/")
    raise EnvironmentProblem(
        "no Debian mirror found in this machine's apt sources",
        "set CMECTL_DEBIAN_MIRROR to a Debian mirror URL",
    )


def image_recipe_of(tag: str) -> str | None:
    proc = docker(["image", "inspect", "--format",
                   "{{ index .Config.Labels \"" + RECIPE_LABEL + "\" }}", tag], check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


@contextlib.contextmanager
def _lock(name: str):
    path = Path(tempfile.gettempdir()) / f"cmectl-image-{name}.lock"
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_image(name: str, *, rebuild: bool = False, log=None) -> str:
    """Return the tag of the lab image ``name``, building it first when needed."""
    spec = image_spec(name)
    with _lock(spec.name):
        if not rebuild and image_recipe_of(spec.tag) == spec.recipe_hash:
            return spec.tag
        _build(spec, log=log)
    return spec.tag


def _build(spec: ImageSpec, log=None) -> None:
    if os.geteuid() != 0:
        raise EnvironmentProblem("building lab images needs root (debootstrap)",
                                 "run as root, or build once with 'sudo cmectl lab image'")
    if shutil.which("debootstrap") is None:
        raise EnvironmentProblem("debootstrap is not installed",
                                 "apt-get install debootstrap (scripts/bootstrap does it)")
    mirror = debian_mirror()
    if log:
        log(f"building lab image {spec.tag} from {spec.suite} at {mirror} (about a minute)")
    work = Path(tempfile.mkdtemp(prefix=f"cmectl-{spec.name}-", dir="/var/tmp"))
    rootfs = work / "rootfs"
    try:
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
             spec.suite, str(rootfs), mirror],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            raise EnvironmentProblem(f"debootstrap {spec.suite} failed: {' | '.join(tail)}",
                                     "check that the Debian mirror is reachable")
        _customise(rootfs)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(
            ["docker", "import",
             "--change", 'CMD ["/sbin/init"]',
             "--change", f"LABEL {RECIPE_LABEL}={spec.recipe_hash}",
             "-", spec.tag],
            stdin=tar.stdout, capture_output=True, text=True, check=False,
        )
        tar.stdout.close()  # so tar sees a closed pipe if import stopped reading
        tar.wait()
        if imp.returncode != 0:
            raise EnvironmentProblem(f"docker import of {spec.tag} failed: {imp.stderr.strip()}",
                                     "see the engine's log (/var/log/dockerd.log)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _customise(rootfs: Path) -> None:
    for key in (rootfs / "etc" / "ssh").glob("ssh_host_*"):
        key.unlink()
    unit = rootfs / "etc/systemd/system/cmectl-hostkeys.service"
    unit.write_text(HOSTKEYS_UNIT)
    wants = rootfs / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / unit.name).symlink_to("/etc/systemd/system/cmectl-hostkeys.service")
    for name in MASKED_UNITS:
        target = rootfs / "etc/systemd/system" / name
        if not target.exists() and not target.is_symlink():
            target.symlink_to("/dev/null")
    # An empty machine-id lets systemd make a fresh one per container.
    (rootfs / "etc/machine-id").write_text("")
    shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    # The package lists are empty: date them to the epoch, so that apt's cache-age check
    # (ansible's cache_valid_time) refreshes them on first use, as on any stale server.
    os.utime(rootfs / "var/lib/apt/lists", (0, 0))
    shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
    (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
