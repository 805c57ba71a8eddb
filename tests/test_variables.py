"""Extra variables: parsing, checking against argument_specs, redaction."""

from __future__ import annotations

import pytest

from cmectl.catalog import load_catalogue
from cmectl.errors import VariableError
from cmectl.variables import REDACTED, check_vars, parse_extra_vars


@pytest.fixture(scope="module")
def nginx():
    catalogue = load_catalogue()
    return catalogue, [catalogue.get("nginx")]


def test_key_value_and_yaml_file(tmp_path):
    f = tmp_path / "vars.yml"
    f.write_text("nginx_https_enabled: true\nnginx_sites: []\n")
    got = parse_extra_vars(["nginx_http_port=8080", f"@{f}"])
    assert got == {"nginx_http_port": "8080", "nginx_https_enabled": True, "nginx_sites": []}


@pytest.mark.parametrize("item, message", [
    ("novalue", "is not KEY=VALUE"),
    ("bad-name=1", "is not KEY=VALUE"),
    ("@/does/not/exist.yml", "cannot read variables file"),
])
def test_malformed_items_are_refused(item, message):
    with pytest.raises(VariableError, match=message):
        parse_extra_vars([item])


def test_yaml_file_must_be_a_mapping(tmp_path):
    f = tmp_path / "list.yml"
    f.write_text("- a\n- b\n")
    with pytest.raises(VariableError, match="not a mapping"):
        parse_extra_vars([f"@{f}"])


def test_values_are_converted_to_the_declared_type(nginx):
    catalogue, pkgs = nginx
    checked = check_vars(catalogue, pkgs, {"nginx_http_port": "8080",
                                           "nginx_https_enabled": "yes"})
    assert checked.values["nginx_http_port"] == 8080
    assert checked.values["nginx_https_enabled"] is True


def test_sub_options_left_out_stay_left_out():
    # The role's own default for a sub-option (svn: a repository without "access" rules) must
    # apply; the validator would otherwise hand the role "access: None". Given values are still
    # converted, inside lists of dicts too.
    catalogue = load_catalogue()
    checked = check_vars(catalogue, [catalogue.get("svn")], {
        "svn_repositories": [{"name": "project"}],
        "svn_users": [{"name": "alice", "password": "Secret-1"}]})
    assert checked.values["svn_repositories"] == [{"name": "project"}]
    checked = check_vars(catalogue, [catalogue.get("vncserver")], {
        "vncserver_displays": [{"user": "alice", "display": "3", "password": "Secret-1"}]})
    assert checked.values["vncserver_displays"] == [
        {"user": "alice", "display": 3, "password": "Secret-1"}]


def test_wrong_type_is_refused_naming_variable_and_role(nginx):
    catalogue, pkgs = nginx
    with pytest.raises(VariableError) as err:
        check_vars(catalogue, pkgs, {"nginx_http_port": "eighty"})
    assert "nginx_http_port" in str(err.value) and "role nginx" in str(err.value)
    assert "cmectl catalog show nginx" in str(err.value)


def test_value_outside_choices_is_refused(nginx):
    catalogue, pkgs = nginx
    with pytest.raises(VariableError, match="nginx_state"):
        check_vars(catalogue, pkgs, {"nginx_state": "installed"})


def test_misspelt_role_variable_gets_a_suggestion(nginx):
    catalogue, pkgs = nginx
    with pytest.raises(VariableError, match="did you mean nginx_https_enabled"):
        check_vars(catalogue, pkgs, {"nginx_htps_enabled": "true"})


def test_unrelated_variables_pass_through(nginx):
    catalogue, pkgs = nginx
    checked = check_vars(catalogue, pkgs, {"ansible_user": "deploy"})
    assert checked.values == {"ansible_user": "deploy"}


def test_secrets_are_redacted_by_spec_and_by_name(nginx):
    catalogue, pkgs = nginx
    checked = check_vars(catalogue, pkgs, {
        "nginx_tls_key": "-----BEGIN PRIVATE KEY-----x", "db_password": "hunter2",
        "nginx_http_port": "80"})
    red = checked.redacted()
    assert red["nginx_tls_key"] == REDACTED and red["db_password"] == REDACTED
    assert red["nginx_http_port"] == 80
