"""Settings precedence: default < config file < environment < command line."""

from __future__ import annotations

import pytest

from cmectl.config import load_settings
from cmectl.errors import UsageError


def test_precedence_and_origins(home, monkeypatch):
    assert load_settings().origins["forks"] == "default"
    (home / "config.toml").write_text("forks = 20\ntransport = 'paramiko'\n")
    s = load_settings()
    assert (s.forks, s.transport) == (20, "paramiko")
    assert s.origins["forks"].endswith("config.toml")
    monkeypatch.setenv("CMECTL_FORKS", "30")
    s = load_settings()
    assert s.forks == 30 and s.origins["forks"] == "CMECTL_FORKS"
    s = load_settings({"forks": 40, "transport": None})
    assert s.forks == 40 and s.origins["forks"] == "command line"
    assert s.transport == "paramiko"


@pytest.mark.parametrize("content, message", [
    ("forks = 'many'", "is not a whole number"),
    ("transport = 'telnet'", "not one of"),
    ("colour = true", "unknown setting"),
    ("forks = [", "not valid TOML"),
    ("forks = 0", "at least 1"),
])
def test_bad_config_is_a_clear_error(home, content, message):
    (home / "config.toml").write_text(content)
    with pytest.raises(UsageError, match=message):
        load_settings()


def test_config_show_lists_origins(run_cli, home):
    (home / "config.toml").write_text("forks = 7\n")
    result = run_cli("config", "show", "--json")
    rows = {r["name"]: r for r in result.json()}
    assert rows["forks"]["value"] == 7 and rows["forks"]["origin"].endswith("config.toml")
    assert rows["home"]["value"] == str(home)


def test_config_show_masks_the_store_password(run_cli, home, monkeypatch):
    monkeypatch.setenv("CMECTL_STORE", "postgresql://cme:s3cret@db.internal/cmectl")
    rows = {r["name"]: r for r in run_cli("config", "show", "--json").json()}
    assert rows["store"]["value"] == "postgresql://cme:****@db.internal/cmectl"


def test_unsupported_store_url_is_a_clear_error(run_cli, home, monkeypatch):
    monkeypatch.setenv("CMECTL_STORE", "mysql://x@y/z")
    result = run_cli("runs", "list")
    assert result.code == 2 and "not supported" in result.stderr
