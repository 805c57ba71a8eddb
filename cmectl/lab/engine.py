"""The container engine, driven through the ``docker`` command line."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

from cmectl.errors import EnvironmentProblem

FIX = "install docker.io and start dockerd (scripts/bootstrap does both)"


def docker(args: Sequence[str], *, input: bytes | None = None, check: bool = True,
           timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``docker ARGS`` and return the completed process (text output)."""
    if shutil.which("docker") is None:
        raise EnvironmentProblem("the docker command is not installed", FIX)
    try:
        proc = subprocess.run(
            ["docker", *args],
            input=input.decode() if input is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(f"'docker {' '.join(args[:2])}' did not answer in {timeout:.0f}s",
                                 "check that dockerd is healthy") from None
    if check and proc.returncode != 0:
        raise EnvironmentProblem(
            f"'docker {' '.join(args[:2])}' failed: {proc.stderr.strip().splitlines()[-1:]}",
            "see the engine's log (/var/log/dockerd.log)",
        )
    return proc


def ensure_engine() -> None:
    """Fail with a clear message when no container engine answers."""
    proc = docker(["info", "--format", "{{.ServerVersion}}"], check=False, timeout=30)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise EnvironmentProblem("no container engine answers ('docker info' failed)", FIX)
