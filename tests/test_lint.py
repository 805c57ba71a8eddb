"""Linters as tests, so the one test command covers them: ruff and ansible-lint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = BIN / name
    return str(found) if found.exists() else shutil.which(name) or name


def test_ruff_is_clean():
    proc = subprocess.run([tool("ruff"), "check", "cmectl", "tests", "plugins"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ansible_lint_production_profile_is_clean():
    proc = subprocess.run([tool("ansible-lint"), "--offline", "-q", "roles", "playbooks",
                           "molecule"], cwd=ROOT, capture_output=True, text=True, check=False,
                          env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
