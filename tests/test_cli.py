"""The command line: start-up cost, catalogue commands, and bad input.

Bad input must give one line naming the problem and the fix, a distinct exit code, no
traceback, no host touched, and nothing already recorded lost.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from cmectl.catalog import load_catalogue
from cmectl.errors import ExitCode
from cmectl.records import Run, open_store, utcnow
from tests.conftest import ROOT

INVENTORY = """\
all:
  hosts:
    web-1: {ansible_host: 127.0.0.1, ansible_port: 1}
    web-2: {ansible_host: 127.0.0.1, ansible_port: 1}
"""


def test_help_does_not_import_ansible():
    code = ("import sys\n"
            "from cmectl.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('ansible', 'ansible_runner', 'rich', 'yaml') "
            "if m in sys.modules]\n"
            "print('HEAVY=' + ','.join(heavy))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert "Usage: cmectl" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "HEAVY="


def test_every_command_has_help(run_cli):
    for args in (["install", "--help"], ["uninstall", "--help"], ["verify", "--help"],
                 ["runs", "show", "--help"], ["lab", "up", "--help"], ["catalog", "--help"]):
        assert run_cli(*args).code == 0


def test_catalog_list_json_has_every_entry(run_cli):
    result = run_cli("catalog", "list", "--json")
    assert result.code == 0
    ids = {p["id"] for p in result.json()}
    assert {"nginx", "kafka", "oracle", "iis", "weaver-oa"} <= ids
    nginx = next(p for p in result.json() if p["id"] == "nginx")
    assert nginx["status"] == "available" and 443 in nginx["ports"]


def test_catalog_show_lists_variables_with_defaults_and_hides_secrets(run_cli):
    result = run_cli("catalog", "show", "nginx", "--json")
    assert result.code == 0
    variables = {v["name"]: v for v in result.json()["variables"]}
    assert variables["nginx_state"]["default"] == "present"
    assert variables["nginx_tls_key"]["secret"] is True
    assert variables["nginx_tls_key"]["default"] is None
    text = run_cli("catalog", "show", "nginx")
    assert "nginx_https_enabled" in text.stdout


@pytest.fixture
def inventory(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(INVENTORY)
    return path


@pytest.fixture
def recorded(home, store_url, monkeypatch):
    """One run already in the store (SQLite, then PostgreSQL through the ``store`` setting);
    bad input must not lose or change it."""
    if store_url:
        monkeypatch.setenv("CMECTL_STORE", store_url)
    store = open_store(home)
    run = Run(id="20260101-000000-0001", request_id="SR-OLD", action="install",
              packages=["nginx"], inventory="/x", started_at=utcnow(), status="ok", pid=1)
    store.start_run(run)
    store.close()
    return run


def assert_one_line_error(result, code: ExitCode, *words: str):
    assert result.code == code, (result.code, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cmectl: error: ")
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


def assert_store_untouched(home, recorded):
    runs = open_store(home).list_runs()
    assert [r.id for r in runs] == [recorded.id]


def test_unknown_package(run_cli, inventory, home, recorded):
    result = run_cli("install", "ngnix", "-i", str(inventory))
    assert_one_line_error(result, ExitCode.UNKNOWN_PACKAGE, "'ngnix'", "did you mean 'nginx'")
    assert_store_untouched(home, recorded)


def test_planned_package_is_not_installable_yet(run_cli, inventory, home, recorded, tmp_path,
                                                monkeypatch):
    # Every catalogued package has its role now; a checkout whose catalogue lists one as planned
    # (the state of a package being added) must still refuse it.
    project = tmp_path / "checkout"
    project.mkdir()
    for entry in ROOT.iterdir():
        if entry.name != "catalogue.yml":
            (project / entry.name).symlink_to(entry)
    catalogue = (ROOT / "catalogue.yml").read_text(encoding="utf-8")
    project.joinpath("catalogue.yml").write_text(
        catalogue.replace("- id: vncserver\n", "- id: vncserver\n  status: planned\n", 1)
        .replace("  seed: VNCServer 部署\n  status: available\n", "  seed: VNCServer 部署\n", 1),
        encoding="utf-8")
    monkeypatch.setenv("CMECTL_PROJECT_DIR", str(project))
    assert load_catalogue(project).get("vncserver").status == "planned"
    result = run_cli("install", "vncserver", "-i", str(inventory))
    assert_one_line_error(result, ExitCode.UNKNOWN_PACKAGE, "not built yet")
    assert_store_untouched(home, recorded)


def test_missing_inventory(run_cli, tmp_path, home, recorded):
    result = run_cli("install", "nginx", "-i", str(tmp_path / "nope.yml"))
    assert_one_line_error(result, ExitCode.BAD_INVENTORY, "does not exist", "-i")
    assert_store_untouched(home, recorded)


def test_malformed_inventory(run_cli, tmp_path, home, recorded):
    bad = tmp_path / "bad.yml"
    bad.write_text("all:\n  hosts: [unclosed\n")
    result = run_cli("install", "nginx", "-i", str(bad))
    assert_one_line_error(result, ExitCode.BAD_INVENTORY, "malformed")
    assert_store_untouched(home, recorded)


def test_limit_matching_no_host(run_cli, inventory, home, recorded):
    result = run_cli("install", "nginx", "-i", str(inventory), "-l", "db-*")
    assert_one_line_error(result, ExitCode.NO_HOSTS, "'db-*'", "matches no host")
    assert_store_untouched(home, recorded)


def test_variable_of_wrong_type(run_cli, inventory, home, recorded):
    result = run_cli("install", "nginx", "-i", str(inventory), "-e", "nginx_http_port=eighty")
    assert_one_line_error(result, ExitCode.BAD_VARIABLE, "nginx_http_port")
    assert_store_untouched(home, recorded)


def test_bad_serial_spec(run_cli, inventory, home, recorded):
    result = run_cli("install", "nginx", "-i", str(inventory), "--serial", "1,x")
    assert_one_line_error(result, ExitCode.USAGE, "--serial")
    assert_store_untouched(home, recorded)


def test_uninstall_refuses_a_contradicting_state(run_cli, inventory, home, recorded):
    result = run_cli("uninstall", "nginx", "-i", str(inventory), "-e", "nginx_state=present")
    assert_one_line_error(result, ExitCode.BAD_VARIABLE, "contradicts uninstall")
    assert_store_untouched(home, recorded)


def test_unknown_run(run_cli, recorded):
    result = run_cli("runs", "show", "nope")
    assert_one_line_error(result, ExitCode.NOT_FOUND, "no run 'nope'")


def test_runs_list_and_show(run_cli, recorded):
    listed = run_cli("runs", "list", "--json").json()
    assert [r["id"] for r in listed] == [recorded.id]
    shown = run_cli("runs", "show", "last", "--json").json()
    assert shown["request_id"] == "SR-OLD"
