"""Notifications as the commands send them: on request open, and a broken configuration
refused before anything is recorded or any host is touched."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from cmectl.errors import ExitCode
from cmectl.records import open_store


@pytest.fixture
def robot():
    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "json": json.loads(body)})
            reply = json.dumps({"errcode": 0, "errmsg": "ok"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()


def configure(home, text: str) -> None:
    (home / "notify").mkdir(exist_ok=True)
    path = home / "notify" / "acme.toml"
    path.write_text(text)
    path.chmod(0o600)


def test_request_open_notifies_the_customers_group(run_cli, home, robot):
    url, received = robot
    configure(home, f'[[wecom]]\nwebhook = "{url}/cgi-bin/webhook/send?key=SECRETKEY"\n')
    result = run_cli("request", "open", "--title", "Kafka on six servers", "--customer", "acme",
                     "-p", "kafka", "--hosts", "k1,k2", "--id", "SR-N-1")
    assert result.code == 0, result.stderr
    assert len(received) == 1 and "SR-N-1" in json.dumps(received[0]["json"], ensure_ascii=False)
    sent = open_store(home).list_notifications("SR-N-1")
    assert [(n["event"], n["ok"]) for n in sent] == [("request_opened", True)]
    assert "SECRETKEY" not in json.dumps(sent)


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
