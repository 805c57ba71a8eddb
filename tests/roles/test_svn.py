"""The svn role's front door and generated files. Molecule runs svnserve and mod_dav_svn with one
set of repositories, users and rules; these cover the inputs the role must refuse before it
touches a host (without ever printing a password), and the rendering of the access rules, of
svnserve's files and unit and of Apache's Location section in their other shapes."""

from __future__ import annotations

import configparser
from typing import Any

from tests.roles import harness
from tests.roles.harness import (
    FrontDoor,
    syntax_check_role,
    tasks_leaking,
)
from tests.roles.render import render as render_role

ROLE = "svn"
SECRET = "Svn-secret-1"
DEBIAN12 = {**harness.DEBIAN12, "hostname": "scm01"}
RHEL9 = {**harness.RHEL9, "hostname": "scm01"}
USERS = [{"name": "alice", "password": SECRET}, {"name": "bob", "password": SECRET},
         {"name": "ci@build", "password": SECRET}]
GROUPS = [{"name": "developers", "members": ["alice", "bob"]},
          {"name": "everyone", "members": ["@developers", "ci@build"]}]
REPOSITORIES = [
    {"name": "project", "access": [
        {"path": "/", "rules": {"@developers": "rw", "ci@build": "r", "*": ""}},
        {"path": "/tags", "rules": {"@developers": "r", "alice": "rw", "~@developers": ""}}]},
    {"name": "docs"}]
GOOD = {"svn_users": USERS, "svn_groups": GROUPS, "svn_repositories": REPOSITORIES}


def rules(*entries: dict) -> dict:
    """GOOD with these access rules for "project" only."""
    return {**GOOD, "svn_repositories": [{"name": "project", "access": list(entries)}]}


def third_user(user: dict) -> dict:
    """GOOD with ``user`` in place of ci@build."""
    return {**GOOD, "svn_users": [*USERS[:2], user]}


CASES: dict[str, tuple[dict, dict, str | None]] = {
    "good": (DEBIAN12, GOOD, None),
    "good_dav_rhel": (RHEL9, {**GOOD, "svn_server": "dav", "svn_anonymous_access": "read"}, None),
    "nothing": (DEBIAN12, {}, None),
    "absent_ignores_the_rest": (DEBIAN12, {"svn_state": "absent", "svn_dav_path": "svn"}, None),
    "old_debian": ({**DEBIAN12, "distribution_major_version": "10"}, GOOD,
                   "does not support Debian 10"),
    "wrong_server": (DEBIAN12, {**GOOD, "svn_server": "git"}, "svn_server must be one of"),
    "repository_name": (DEBIAN12, {**GOOD, "svn_repositories": [{"name": "my repo"}]},
                        "needs a unique name of letters, digits"),
    "same_repository": (DEBIAN12, {**GOOD, "svn_repositories": [{"name": "a"}, {"name": "a"}]},
                        "needs a unique name of letters, digits"),
    "relative_path": (DEBIAN12, rules({"path": "trunk", "rules": {"alice": "rw"}}),
                      "access rules of repository 'project' are not valid"),
    "same_path": (DEBIAN12, rules({"path": "/", "rules": {"alice": "rw"}},
                                  {"path": "/", "rules": {"bob": "r"}}),
                  "access rules of repository 'project' are not valid"),
    "unknown_user": (DEBIAN12, rules({"path": "/", "rules": {"mallory": "rw"}}),
                     "Subjects given: mallory"),
    "unknown_group": (DEBIAN12, rules({"path": "/", "rules": {"@admins": "rw"}}),
                      "Subjects given: @admins"),
    "wrong_permission": (DEBIAN12, rules({"path": "/", "rules": {"alice": "write"}}),
                         "to r, rw or '' (no access)"),
    "user_name": (DEBIAN12, third_user({"name": "eve smith", "password": SECRET}),
                  "Each entry of svn_users needs a unique name"),
    "same_user": (DEBIAN12, third_user({"name": "alice", "password": SECRET}),
                  "Each entry of svn_users needs a unique name"),
    "password_spaces": (DEBIAN12, third_user({"name": "ci@build", "password": " padded "}),
                        "passwords to fix: ci@build"),
    "password_expansion": (DEBIAN12, third_user({"name": "ci@build", "password": "a%(b)s"}),
                           "passwords to fix: ci@build"),
    "empty_password": (DEBIAN12, third_user({"name": "ci@build", "password": ""}),
                       "passwords to fix: ci@build"),
    "missing_password": (DEBIAN12, {**GOOD, "svn_users": [{"name": "alice"}]},
                         "missing required arguments: password"),
    "unknown_member": (DEBIAN12, {**GOOD, "svn_groups": [*GROUPS, {"name": "g", "members": ["z"]}]},
                       "members that are users of svn_users or other groups"),
    "dav_path": (DEBIAN12, {**GOOD, "svn_dav_path": "svn/"}, "svn_dav_path a URL path"),
    "svnserve_as_root": (DEBIAN12, {**GOOD, "svn_user": "root"}, "an account name other than root"),
    "relative_repositories_dir": (DEBIAN12, {**GOOD, "svn_repositories_dir": "srv/svn"},
                                  "must be an absolute path"),
    "anonymous_write": (DEBIAN12, {**GOOD, "svn_anonymous_access": "write"},
                        "svn_anonymous_access must be one of"),
}


class TestFrontDoor(FrontDoor):
    role = ROLE
    cases = CASES
    secrets = (SECRET, "padded", "a%(b)s")


def test_every_task_handling_the_users_is_no_log():
    assert tasks_leaking(ROLE, ["svn_users", "password"]) == []


def test_every_task_file_parses(tmp_path):
    proc, _ = syntax_check_role(tmp_path, ROLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- generated files ------------------------------------------------------------------------

def render(template: str, **overrides: Any) -> str:
    return render_role(ROLE, template, **{**GOOD, **overrides})


def ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, allow_no_value=True,
                                       comment_prefixes=("#",), delimiters=("=",))
    parser.optionxform = str  # user names keep their case
    parser.read_string(text)
    return parser


def test_authz_has_the_groups_and_each_path_in_order():
    text = render("etc/svn/authz.j2")
    authz = ini(text)
    assert dict(authz["groups"]) == {"developers": "alice, bob",
                                     "everyone": "@developers, ci@build"}
    assert authz.sections() == ["groups", "project:/", "project:/tags", "docs:/"]
    assert dict(authz["project:/"]) == {"@developers": "rw", "ci@build": "r", "*": ""}
    assert dict(authz["project:/tags"]) == {"@developers": "r", "alice": "rw", "~@developers": ""}
    # a repository without rules: every user who logs in, nobody else
    assert dict(authz["docs:/"]) == {"$authenticated": "rw"}
    assert SECRET not in text


def test_anonymous_read_opens_only_repositories_without_rules():
    authz = ini(render("etc/svn/authz.j2", svn_anonymous_access="read"))
    assert dict(authz["docs:/"]) == {"$authenticated": "rw", "$anonymous": "r"}
    assert "$anonymous" not in dict(authz["project:/"])


def test_svnserve_conf_refuses_anonymous_clients_by_default():
    conf = ini(render("etc/svn/svnserve.conf.j2", inventory_hostname="scm01"))
    assert dict(conf["general"]) == {
        "anon-access": "none", "auth-access": "write", "password-db": "/etc/svn/passwd",
        "authz-db": "/etc/svn/authz", "realm": "Subversion on scm01"}
    assert conf["sasl"]["use-sasl"] == "false"
    assert ini(render("etc/svn/svnserve.conf.j2", svn_anonymous_access="read",
                      svn_realm="ACME"))["general"]["anon-access"] == "read"


def test_svnserve_passwd_lists_every_user():
    assert dict(ini(render("etc/svn/passwd.j2"))["users"]) == {
        "alice": SECRET, "bob": SECRET, "ci@build": SECRET}


def test_unit_runs_svnserve_unprivileged_on_the_given_address():
    unit = render("etc/systemd/system/svnserve.service.j2")
    assert ("ExecStart=/usr/bin/svnserve --daemon --foreground --root /srv/svn "
            "--config-file /etc/svn/svnserve.conf --listen-port 3690\n") in unit
    for line in ("User=svn", "Group=svn", "NoNewPrivileges=true", "ProtectSystem=full",
                 "ReadWritePaths=/srv/svn"):
        assert line in unit.splitlines()
    assert "AmbientCapabilities" not in unit
    low = render("etc/systemd/system/svnserve.service.j2", svn_port=690,
                 svn_listen_address="10.0.0.5")
    assert "--listen-port 690 --listen-host 10.0.0.5\n" in low
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in low.splitlines()


def test_apache_location_requires_a_login_unless_anonymous_read():
    section = render("etc/apache2/conf-available/svn-repositories.conf.j2", svn_server="dav")
    lines = [line.strip() for line in section.splitlines()]
    for line in ("<Location /svn>", "DAV svn", "SVNParentPath /srv/svn", "AuthType Basic",
                 "AuthUserFile /etc/svn/htpasswd", "AuthzSVNAccessFile /etc/svn/authz",
                 "Require valid-user"):
        assert line in lines
    assert "Satisfy Any" not in lines
    anonymous = render("etc/apache2/conf-available/svn-repositories.conf.j2", svn_server="dav",
                       svn_anonymous_access="read", svn_dav_path="/repos")
    lines = [line.strip() for line in anonymous.splitlines()]
    assert "<Location /repos>" in lines and "Satisfy Any" in lines
