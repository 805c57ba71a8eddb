"""Every Molecule scenario, run in full (converge, idempotence, verify, uninstall)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

SCENARIOS = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))
BIN = Path(sys.executable).parent


def images_of(scenario: str) -> list[str]:
    data = yaml.safe_load((ROOT / "molecule" / scenario / "molecule.yml").read_text())
    return sorted({p["image"].replace("cmectl-lab/debian:", "debian-")
                   for p in data.get("platforms", [])})


@pytest.mark.molecule
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario):
    from cmectl.lab.images import ensure_image

    for image in images_of(scenario):
        ensure_image(image)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "ANSIBLE_FORCE_COLOR": "0", "PY_COLORS": "0"}
    proc = subprocess.run([str(BIN / "molecule"), "test", "-s", scenario], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=1800)
    assert proc.returncode == 0, (proc.stdout[-6000:] + "\n" + proc.stderr[-4000:])
