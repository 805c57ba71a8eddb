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
