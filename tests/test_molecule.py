"""Every Molecule scenario, run in full (converge, idempotence, verify, uninstall).

Scenarios spend much of their time waiting (package downloads, services starting), so they run
a few at a time (CMECTL_MOLECULE_JOBS, default 3), in the background from the moment the session
has collected its tests, most hosts first, while the rest of the suite runs; each test here waits
for its own scenario. Their instance names are unique per scenario (<role>-debian-NN), so they
never share a container.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
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
    scenario: str
    code: int
    log: Path
    started: float  # seconds after the pool started
    seconds: float

    def tail(self, size: int = 12000) -> str:
        return self.log.read_text(errors="replace")[-size:]


_epoch = time.monotonic()


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
    return Outcome(scenario, code, log, started - _epoch, time.monotonic() - started)


_started: dict[str, Future] = {}
_pool: ThreadPoolExecutor | None = None


def start(session: pytest.Session) -> None:
    """Start every selected scenario in the background, JOBS at a time, most hosts first.

    Called when collection ends (see conftest.py), so the scenarios run while the rest of the
    suite does; each test of this module then waits for its own scenario.
    """
    global _pool, _epoch
    selected = [item.callspec.params["scenario"] for item in session.items
                if item.module.__name__ == __name__ and hasattr(item, "callspec")]
    if not selected or _pool is not None:
        return
    from cmectl.lab.images import ensure_image

    logs = Path(tempfile.mkdtemp(prefix="cmectl-molecule-"))
    images = sorted({i for s in selected for i in images_of(s)})
    ready = threading.Event()

    def build_images() -> None:  # once, before scenarios race for them
        try:
            for image in images:
                ensure_image(image)
        finally:
            ready.set()

    def run_when_ready(scenario: str) -> Outcome:
        ready.wait()
        return _run(scenario, logs / f"{scenario}.log")

    _epoch = time.monotonic()
    _pool = ThreadPoolExecutor(max_workers=JOBS, thread_name_prefix="molecule")
    images_built = _pool.submit(build_images)
    for scenario in sorted(selected, key=lambda s: -len(platforms_of(s))):
        _started[scenario] = _pool.submit(run_when_ready, scenario)
    _started["<images>"] = images_built


def stop() -> None:
    """End of session: drop the scenarios that have not started, wait for the running ones."""
    if _pool is not None:
        for future in _started.values():
            future.cancel()
        _pool.shutdown(wait=True)


def summary() -> list[str]:
    """One line per scenario that ran: when it started, how long it took, how it ended; the
    figures to plan the suite's time by (CI must stay well inside 90 minutes)."""
    done = [f.result() for name, f in _started.items()
            if name != "<images>" and f.done() and not f.cancelled() and f.exception() is None]
    lines = [f"{o.scenario:<16} started at {o.started / 60:5.1f} min, "
             f"took {o.seconds / 60:5.1f} min{'' if o.code == 0 else f' (exit {o.code})'}"
             for o in sorted(done, key=lambda o: o.started)]
    if done:
        end = max(o.started + o.seconds for o in done)
        lines.append(f"all scenarios ended {end / 60:.1f} min after the pool started "
                     f"({JOBS} at a time)")
    return lines


@pytest.fixture(scope="module")
def running(request) -> dict[str, Future]:
    if not _started:  # collection hook not run (module imported another way)
        start(request.session)
    _started["<images>"].result()  # an image that failed to build fails here, clearly
    return _started


@pytest.mark.molecule
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario, running):
    outcome: Outcome = running[scenario].result()
    print(f"molecule {scenario}: {outcome.seconds:.0f}s")
    assert outcome.code == 0, outcome.tail()
