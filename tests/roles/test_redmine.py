"""The redmine role's generated files and front door. Molecule converges one layout (Debian 12,
local PostgreSQL, Apache with Passenger); these cover database.yml for the other database set-ups
and hostile passwords, the Apache site, and the checks that stop a run before anything changes,
including the platforms Molecule cannot run (Debian 11 and the RedHat family have no package)."""

from __future__ import annotations

import pytest
import yaml

from tests.roles.harness import (
    FrontDoor,
    check_package,
    syntax_check_role,
)
from tests.roles.render import render as render_role
from tests.roles.render import value as role_value

ROLE = "redmine"
DB_PASSWORD = "Db-Pw<%= `id` %>'\"#: x"
ADMIN_PASSWORD = "Admin-Pw-42"
SECRETS = {"redmine_db_password": DB_PASSWORD, "redmine_admin_password": ADMIN_PASSWORD}

BOOKWORM = {"os_family": "Debian", "distribution": "Debian", "distribution_major_version": "12",
            "distribution_release": "bookworm", "hostname": "pm01", "system": "Linux"}
BULLSEYE = {**BOOKWORM, "distribution_major_version": "11", "distribution_release": "bullseye"}
NOBLE = {**BOOKWORM, "distribution": "Ubuntu", "distribution_major_version": "24",
         "distribution_release": "noble"}
ROCKY9 = {"os_family": "RedHat", "distribution": "Rocky", "distribution_major_version": "9",
          "distribution_release": "Blue Onyx", "hostname": "pm02", "system": "Linux"}


def render(template: str, **variables):
    return render_role(ROLE, template, **{**SECRETS, **variables})


def value(expression: str, **variables):
    return role_value(ROLE, expression, **{**SECRETS, **variables})


def database_yml(**variables) -> dict:
    """database.yml as Redmine reads it: ERB first ("<%%" is a literal "<%"), then YAML."""
    text = render("etc/redmine/instance/database.yml.j2", **variables)
    assert "<%" not in text.replace("<%%", "")  # no ERB tag anywhere, comments included
    return yaml.safe_load(text.replace("<%%", "<%"))["production"]


# database.yml -------------------------------------------------------------------------------

def test_local_postgresql_is_reached_over_tcp_on_loopback():
    conf = database_yml()
    assert conf == {"adapter": "postgresql", "database": "redmine", "host": "127.0.0.1",
                    "port": 5432, "username": "redmine", "password": DB_PASSWORD,
                    "encoding": "utf8"}


def test_local_mariadb_is_reached_over_its_socket():
    conf = database_yml(redmine_db_type="mysql")
    assert conf["adapter"] == "mysql2"
    assert conf["host"] == "localhost"
    assert conf["socket"] == "/run/mysqld/mysqld.sock"
    assert conf["port"] == 3306
    assert conf["encoding"] == "utf8mb4"
    assert conf["password"] == DB_PASSWORD


def test_remote_database_uses_the_given_host_and_port():
    conf = database_yml(redmine_db_type="mysql", redmine_db_mode="remote",
                        redmine_db_host="db1.example.internal", redmine_db_port=3307,
                        redmine_db_name="pm", redmine_db_user="pm_app")
    assert (conf["host"], conf["port"], conf["database"], conf["username"]) == \
        ("db1.example.internal", 3307, "pm", "pm_app")
    assert "socket" not in conf


@pytest.mark.parametrize("password", ["plain", "ünïcødé", "a\\b", "trailing ", "x: y # z",
                                      "{{ not jinja }}", "%>", "<%%"])
def test_any_password_survives_yaml_and_erb(password):
    assert database_yml(redmine_db_password=password)["password"] == password


# Apache site and URLs --------------------------------------------------------------------------

def test_site_runs_the_instance_under_passenger_as_the_web_user():
    vhost = value("__redmine_vhost", redmine_instance="tracker",
                  __redmine_home="/usr/share/redmine",
                  __redmine_web_user="www-data", __redmine_web_group="www-data")
    assert vhost["name"] == "redmine" and vhost["default"] is True
    assert vhost["document_root"] == "/usr/share/redmine/public"
    assert "server_name" not in vhost
    assert "SetEnv REDMINE_INSTANCE tracker" in vhost["directives"]
    assert "PassengerAppGroupName redmine_tracker" in vhost["directives"]
    assert "PassengerUser www-data" in vhost["directives"]
    assert "PassengerRestartDir /var/lib/redmine/tracker/tmp" in vhost["directives"]


def test_site_takes_the_server_name_when_given():
    vhost = value("__redmine_vhost", redmine_server_name="pm.example.com")
    assert vhost["server_name"] == "pm.example.com"


@pytest.mark.parametrize("variables, url", [
    ({}, "http://pm01/"),
    ({"redmine_server_name": "pm.example.com", "redmine_http_port": 8080},
     "http://pm.example.com:8080/"),
    ({"redmine_server_name": "pm.example.com", "apache_https_enabled": True},
     "https://pm.example.com/"),
    ({"apache_https_enabled": True, "apache_https_port": 8443}, "https://pm01:8443/"),
])
def test_public_url(variables, url):
    assert value("__redmine_public_url | trim", inventory_hostname="pm01", **variables) == url


def test_templates_start_with_the_managed_comment():
    for template in ("etc/redmine/instance/database.yml.j2",
                     "etc/apache2/conf-available/redmine-passenger.conf.j2"):
        assert render(template).startswith("#")


# The front door: argument specs (cmectl's check) and validate.yml on stand-in hosts -------------

def test_cmectl_rejects_an_unknown_database_type_and_names_it():
    with pytest.raises(Exception, match="redmine_db_type"):
        check_package("redmine", {"redmine_db_type": "oracle"})


def test_cmectl_rejects_a_misspelt_variable():
    with pytest.raises(Exception, match="redmine_db_pasword"):
        check_package("redmine", {"redmine_db_pasword": "x"})


GOOD = dict(SECRETS)
CASES = {
    "bookworm": (BOOKWORM, GOOD, None),
    "noble": (NOBLE, GOOD, None),
    "bullseye": (BULLSEYE, GOOD, "Debian 11 (Debian family) has none"),
    "rocky": (ROCKY9, GOOD, "neither RHEL nor EPEL carries one"),
    "absent_without_passwords": (BOOKWORM, {"redmine_state": "absent"}, None),
    "no_admin_password": (BOOKWORM, {**GOOD, "redmine_admin_password": ""},
                          "redmine_admin_password must be set, at least 8 characters long"),
    "admin_admin": (BOOKWORM, {**GOOD, "redmine_admin_password": "admin"},
                    "redmine_admin_password must be set, at least 8 characters long"),
    "short_admin_password": (BOOKWORM, {**GOOD, "redmine_admin_password": "Short1"},
                             "redmine_admin_password must be set, at least 8 characters long"),
    "no_db_password": (BOOKWORM, {**GOOD, "redmine_db_password": ""},
                       "redmine_db_password must be set"),
    "remote_without_host": (BOOKWORM, {**GOOD, "redmine_db_mode": "remote"},
                            "needs redmine_db_host"),
    "remote_with_host": (BOOKWORM, {**GOOD, "redmine_db_mode": "remote",
                                    "redmine_db_host": "db1.example.internal"}, None),
    "bad_db_name": (BOOKWORM, {**GOOD, "redmine_db_name": "red mine"}, "plain identifiers"),
    "bad_instance": (BOOKWORM, {**GOOD, "redmine_instance": "../etc"}, "redmine_instance must"),
    "bad_language": (BOOKWORM, {**GOOD, "redmine_default_language": "english"},
                     "redmine_default_language must"),
    "bad_server_name": (BOOKWORM, {**GOOD, "redmine_server_name": "a b"},
                        "redmine_server_name a host name"),
    "bad_type": (BOOKWORM, {**GOOD, "redmine_db_type": "oracle"}, "redmine_db_type"),
}


class TestFrontDoor(FrontDoor):
    role = ROLE
    cases = CASES
    secrets = (DB_PASSWORD, ADMIN_PASSWORD, "Short1")


def test_syntax_check(tmp_path):
    proc, files = syntax_check_role(tmp_path, ROLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(files) >= 10
