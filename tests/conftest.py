"""Shared fixtures: an isolated CMECTL_HOME and a way to run the command line."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from cmectl.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cmectl-home"
    path.mkdir()
    monkeypatch.setenv("CMECTL_HOME", str(path))
    for name in list(os.environ):
        if name.startswith("CMECTL_") and name not in ("CMECTL_HOME", "CMECTL_PROJECT_DIR"):
            monkeypatch.delenv(name)
    return path


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def run_cli(home):
    """Invoke cmectl in-process through the same error boundary as the console script."""
    from cmectl.cli.main import main

    def invoke(*args: str) -> Result:
        runner = CliRunner()
        result = runner.invoke(_Boundary(main), list(args), catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    return invoke


class _Boundary:
    """Adapter so CliRunner drives ``main`` (the error boundary), not the bare group."""

    def __init__(self, main):
        self.main_fn = main
        self.name = cli.name

    def main(self, args=None, prog_name=None, **kwargs):
        self.main_fn(list(args or []))


def load_events(name: str) -> list[dict]:
    path = FIXTURES / "events" / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- a real PostgreSQL server for the record store's tests ------------------------------------

def _pg_bindir() -> Path | None:
    import glob

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster on a loopback port (postgresql from Debian's packages,
    which scripts/bootstrap installs); stopped at the end of the session."""
    import os
    import shutil
    import socket
    import subprocess

    bindir = _pg_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL server binaries not found: run scripts/bootstrap")
    import tempfile

    # Not under pytest's tmp root: that is private to root, and the server runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="cmectl-pg-"))
    data = base / "data"
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(base, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-U", "cmectl",
                    "-A", "trust", "-E", "UTF8", "--no-instructions"], check=True,
                   capture_output=True)
    subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l",
                    str(base / "log"), "-o", f"-h 127.0.0.1 -p {port} -k {base}", "start"],
                   check=True, capture_output=True)
    yield f"postgresql://cmectl@127.0.0.1:{port}"
    subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                    "stop"], capture_output=True, check=False)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A fresh, empty record store of each kind: None for SQLite in tmp_path, or the URL of
    a new database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return None
    import uuid

    import psycopg

    server = request.getfixturevalue("postgres_server")
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


@pytest.fixture
def run_cli_each_store(run_cli, store_url, monkeypatch):
    """``run_cli`` with the record store set to SQLite, then to a real PostgreSQL database
    (the ``store`` setting, given as CMECTL_STORE the way an engineer would)."""
    if store_url:
        monkeypatch.setenv("CMECTL_STORE", store_url)
    return run_cli


# -- Molecule scenarios run in the background while the rest of the suite does ----------------

def pytest_collection_finish(session):
    if session.config.option.collectonly:
        return
    from tests import test_molecule

    test_molecule.start(session)


def pytest_sessionfinish(session):
    from tests import test_molecule

    test_molecule.stop()


def pytest_terminal_summary(terminalreporter):
    from tests import test_molecule

    lines = test_molecule.summary()
    if lines:
        terminalreporter.section("Molecule scenarios")
        for line in lines:
            terminalreporter.write_line(line)
