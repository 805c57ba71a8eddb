"""Notifications as the commands send them: on request open, and a broken configuration
refused before anything is recorded or any host is touched."""

from __future__ import annotations

import json

import pytest

from cmectl.errors import ExitCode
from cmectl.records import open_store
from tests.test_notify import WECOM_KEY, Robot


@pytest.fixture
def robot():
    """The WeCom group robot stand-in of test_notify: checks the message's shape and key."""
    wecom = Robot("wecom")
    yield wecom
    wecom.close()


def configure(home, text: str) -> None:
    (home / "notify").mkdir(exist_ok=True)
    path = home / "notify" / "acme.toml"
    path.write_text(text)
    path.chmod(0o600)


def test_request_open_notifies_the_customers_group(run_cli, home, robot):
    configure(home, f'[[wecom]]\nwebhook = "{robot.webhook}"\n')
    result = run_cli("request", "open", "--title", "Kafka on six servers", "--customer", "acme",
                     "-p", "kafka", "--hosts", "k1,k2", "--id", "SR-N-1")
    assert result.code == 0, result.stderr
    assert len(robot.received) == 1 and b"SR-N-1" in robot.received[0]["body"]
    sent = open_store(home).list_notifications("SR-N-1")
    assert [(n["event"], n["ok"]) for n in sent] == [("request_opened", True)]
    assert WECOM_KEY not in json.dumps(sent)


def test_broken_notification_config_stops_a_run_before_anything(run_cli, home, tmp_path):
    configure(home, '[[wecom]]\nwebhok = "typo"\n')
    run_cli("request", "open", "--title", "x", "--customer", "other", "-p", "nginx",
            "--hosts", "web-1", "--id", "SR-N-2")
    store = open_store(home)
    store.db.execute("UPDATE requests SET customer='acme' WHERE id='SR-N-2'")
    inventory = tmp_path / "inv.yml"
    inventory.write_text("all:\n  hosts:\n    web-1: {ansible_host: 127.0.0.1, ansible_port: 1}\n")
    result = run_cli("install", "nginx", "-i", str(inventory), "--request", "SR-N-2")
    assert result.code == ExitCode.USAGE, result.stderr
    assert "acme.toml" in result.stderr and "Traceback" not in result.stderr
    assert open_store(home).list_runs() == []
