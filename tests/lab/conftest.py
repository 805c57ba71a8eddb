"""A real lab fleet for end-to-end tests: containers reached over SSH on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Cmd:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


@dataclass
class LabFleet:
    home: Path
    inventory: Path
    hosts: list[dict]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CMECTL_")}
        env["CMECTL_HOME"] = str(self.home)
        return env

    def cmectl(self, *args: str, timeout: float = 900) -> Cmd:
        proc = subprocess.run([sys.executable, "-m", "cmectl", *args], env=self.env(),
                              capture_output=True, text=True, timeout=timeout, check=False)
        return Cmd(proc.returncode, proc.stdout, proc.stderr)

    def exec(self, host: dict, *command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", "exec", host["container"], *command],
                              capture_output=True, text=True, check=False)


@pytest.fixture(scope="package")
def lab(tmp_path_factory) -> LabFleet:
    home = tmp_path_factory.mktemp("lab-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMECTL_")}
    env["CMECTL_HOME"] = str(home)
    name = f"e2e{os.getpid() % 10000}"
    up = subprocess.run([sys.executable, "-m", "cmectl", "lab", "up", "--hosts", "3",
                         "--name", name, "--json"], env=env, capture_output=True, text=True,
                        check=False)
    assert up.returncode == 0, up.stderr
    data = json.loads(up.stdout)
    yield LabFleet(home, Path(data["inventory"]), data["hosts"])
    subprocess.run([sys.executable, "-m", "cmectl", "lab", "down", "--name", name], env=env,
                   capture_output=True, check=False)
