"""Every Molecule scenario, run in full (converge, idempotence, verify, uninstall).

Scenarios spend much of their time waiting (package downloads, services starting), so they run
a few at a time (CMECTL_MOLECULE_JOBS, default 3): the first test of this module starts every
selected scenario in the background, most hosts first, and each test waits for its own. Their
instance names are unique per scenario (<role>-debian-NN), so they never share a container.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

SCENARIOS = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))
BIN = Path(sys.executable).parent
JOBS = max(1, int(os.environ.get("CMECTL_MOLECULE_JOBS", "3")))
TIMEOUT = 2400  # seconds for one scenario


def platforms_of(scenario: str) -> list[dict]:
    data = yaml.safe_load((ROOT / "molecule" / scenario / "molecule.yml").read_text())
    return list(data.get("platforms", []))


def images_of(scenario: str) -> list[str]:
    return sorted({p["image"].replace("cmectl-lab/debian:", "debian-")
                   for p in platforms_of(scenario)})


@dataclass
class Outcome:
    code: int
    log: Path
    seconds: float

    def tail(self, size: int = 12000) -> str:
        return self.log.read_text(errors="replace")[-size:]


def _run(scenario: str, log: Path) -> Outcome:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "ANSIBLE_FORCE_COLOR": "0", "PY_COLORS": "0"}
    started = time.monotonic()
    with log.open("w") as out:
        try:
            code = subprocess.run([str(BIN / "molecule"), "test", "-s", scenario], cwd=ROOT,
                                  env=env, stdout=out, stderr=subprocess.STDOUT, check=False,
                                  timeout=TIMEOUT).returncode
        except subprocess.TimeoutExpired:
            out.write(f"\n*** molecule test -s {scenario} ran past {TIMEOUT}s ***\n")
            code = -1
    return Outcome(code, log, time.monotonic() - started)


@pytest.fixture(scope="module")
def running(request, tmp_path_factory) -> dict[str, Future]:
    """Start every selected scenario, JOBS at a time; scenario -> its future Outcome."""
    from cmectl.lab.images import ensure_image

    selected = [item.callspec.params["scenario"] for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec")]
    for image in sorted({i for s in selected for i in images_of(s)}):
        ensure_image(image)  # built here, once, before scenarios race for it
    logs = tmp_path_factory.mktemp("molecule")
    pool = ThreadPoolExecutor(max_workers=JOBS, thread_name_prefix="molecule")
    order = sorted(selected, key=lambda s: -len(platforms_of(s)))  # longest first
    futures = {s: pool.submit(_run, s, logs / f"{s}.log") for s in order}
    yield futures
    for future in futures.values():
        future.cancel()
    pool.shutdown(wait=True)


@pytest.mark.molecule
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario, running):
    outcome: Outcome = running[scenario].result()
    print(f"molecule {scenario}: {outcome.seconds:.0f}s")
    assert outcome.code == 0, outcome.tail()
