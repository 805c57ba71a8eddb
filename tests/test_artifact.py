"""The artifact mechanism: fetched once into the controller cache, checksum verified,
copied to hosts only when different; offline directory and mirrors for hosts without
internet. The 'upstream' is an HTTP server on loopback serving a real file."""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("cmectl_artifact",
                                              ROOT / "plugins/action/cmectl_artifact.py")
artifact = importlib.util.module_from_spec(spec)
spec.loader.exec_module(artifact)


def test_checksum_parsing():
    assert artifact.parse_checksum("SHA256:" + "ab" * 32) == ("sha256", "ab" * 32)
    for bad in ("md5:abcd", "sha256:xyz", "sha256", "sha1:" + "a" * 39, ""):
        with pytest.raises(Exception, match="not ALGORITHM:HEX"):
            artifact.parse_checksum(bad)


def test_mirror_mapping_takes_the_longest_prefix():
    mirrors = {"https://repo1.maven.org/maven2": "http://nexus.lan/maven-central/",
               "https://repo1.maven.org/maven2/org/apache": "http://apache.lan"}
    assert artifact.mirrored("https://repo1.maven.org/maven2/org/apache/x.tgz", mirrors) == \
        "http://apache.lan/x.tgz"
    assert artifact.mirrored("https://repo1.maven.org/maven2/io/y.zip", mirrors) == \
        "http://nexus.lan/maven-central/io/y.zip"
    assert artifact.mirrored("https://other/z", mirrors) == "https://other/z"


@pytest.fixture
def upstream(tmp_path):
    """An HTTP server on loopback serving one archive, counting requests."""
    root = tmp_path / "upstream"
    root.mkdir()
    payload = os.urandom(300_000)
    (root / "app-1.0.tar.gz").write_bytes(payload)
    hits: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}", "payload": payload, "hits": hits,
           "sha256": hashlib.sha256(payload).hexdigest()}
    server.shutdown()


def play(tmp_path, url, checksum, dest, extra=None):
    """Run the action through ansible-playbook on this machine (connection local)."""
    book = tmp_path / "play.yml"
    book.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable, **(extra or {})},
        "tasks": [{"name": "Stage", "cmectl_artifact": {
            "url": url, "checksum": checksum, "dest": str(dest), "mode": "0640"},
            "register": "staged"},
            {"ansible.builtin.debug": {"var": "staged"}}],
    }]))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
           "ANSIBLE_STDOUT_CALLBACK": "json", "CMECTL_HOME": str(tmp_path / "home"),
           "ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False"}
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i",
                           "localhost,", "-c", "local", str(book)], env=env,
                          capture_output=True, text=True, check=False)
    out = json.loads(proc.stdout[proc.stdout.index("{"):])
    result = out["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return proc.returncode, result


def test_fetched_once_then_cached_and_idempotent(tmp_path, upstream):
    dest = tmp_path / "host" / "app.tar.gz"
    dest.parent.mkdir()
    url = upstream["url"] + "/app-1.0.tar.gz"
    rc, first = play(tmp_path, url, "sha256:" + upstream["sha256"], dest)
    assert rc == 0 and first["changed"], first
    assert dest.read_bytes() == upstream["payload"]
    assert oct(dest.stat().st_mode & 0o777) == "0o640"
    assert (tmp_path / "home/artifacts/app-1.0.tar.gz").is_file()
    rc, second = play(tmp_path, url, "sha256:" + upstream["sha256"], dest)
    assert rc == 0 and not second["changed"]
    assert second["artifact"]["source"] == "cache"
    assert upstream["hits"] == ["/app-1.0.tar.gz"]  # downloaded exactly once


def test_wrong_checksum_fails_and_nothing_is_kept(tmp_path, upstream):
    dest = tmp_path / "app.tar.gz"
    rc, result = play(tmp_path, upstream["url"] + "/app-1.0.tar.gz", "sha256:" + "0" * 64, dest)
    assert rc != 0 and "does not match its checksum" in result["msg"]
    assert not dest.exists()
    assert list((tmp_path / "home/artifacts").glob("app*")) == []


def test_offline_directory_needs_no_network(tmp_path, upstream):
    offline = tmp_path / "media"
    offline.mkdir()
    (offline / "app-1.0.tar.gz").write_bytes(upstream["payload"])
    dest = tmp_path / "app.tar.gz"
    rc, result = play(tmp_path, "http://127.0.0.1:9/app-1.0.tar.gz",
                      "sha256:" + upstream["sha256"], dest,
                      {"cmectl_artifact_dir": str(offline)})
    assert rc == 0 and result["artifact"]["source"] == "offline directory"
    assert dest.read_bytes() == upstream["payload"] and upstream["hits"] == []


def test_mirror_is_used_instead_of_upstream(tmp_path, upstream):
    dest = tmp_path / "app.tar.gz"
    rc, result = play(tmp_path, "https://downloads.example.invalid/dist/app-1.0.tar.gz",
                      "sha256:" + upstream["sha256"], dest,
                      {"cmectl_artifact_mirrors": {
                          "https://downloads.example.invalid/dist": upstream["url"]}})
    assert rc == 0, result
    assert upstream["hits"] == ["/app-1.0.tar.gz"]


def test_unreachable_source_says_how_to_work_offline(tmp_path):
    rc, result = play(tmp_path, "http://127.0.0.1:9/app.tar.gz", "sha256:" + "0" * 64,
                      tmp_path / "x")
    assert rc != 0 and "cmectl_artifact_dir" in result["msg"]


def test_settings_may_be_templates(tmp_path, upstream):
    offline = tmp_path / "media"
    offline.mkdir()
    (offline / "app-1.0.tar.gz").write_bytes(upstream["payload"])
    rc, result = play(tmp_path, "http://127.0.0.1:9/app-1.0.tar.gz",
                      "sha256:" + upstream["sha256"], tmp_path / "app.tar.gz",
                      {"media_root": str(tmp_path),
                       "cmectl_artifact_dir": "{{ media_root }}/media"})
    assert rc == 0, result
    assert result["artifact"]["source"] == "offline directory"
