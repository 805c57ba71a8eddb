"""The vncserver role's front door and generated files. Molecule runs one valid set of displays on
Debian 12; these cover the inputs the role must refuse before it touches a host (without ever
printing a password), and the rendering of the per-user settings and the display map."""

from __future__ import annotations

from typing import Any

from tests.roles import harness
from tests.roles.harness import (
    FrontDoor,
    syntax_check_role,
    tasks_leaking,
)
from tests.roles.render import render as render_role
from tests.roles.render import value as role_value

ROLE = "vncserver"
SECRET = "Vnc-pw1!"
DEBIAN12 = {**harness.DEBIAN12, "hostname": "desk01"}
RHEL9 = {**harness.RHEL9, "hostname": "desk01"}
# Accounts every controller has (validate.yml looks the users up with getent on the host, here
# the controller itself).
GOOD = {"vncserver_displays": [
    {"user": "daemon", "display": 1, "password": SECRET},
    {"user": "bin", "display": 2, "password": SECRET, "geometry": "1280x800", "depth": 16,
     "localhost": True, "session": "xfce"}]}


def displays(*changes: dict) -> dict:
    """GOOD with the first display changed."""
    first = {**GOOD["vncserver_displays"][0]}
    for change in changes:
        first.update(change)
    return {"vncserver_displays": [first, GOOD["vncserver_displays"][1]]}


CASES: dict[str, tuple[dict, dict, str | None]] = {
    "good": (DEBIAN12, GOOD, None),
    "good_rhel": (RHEL9, GOOD, None),
    "no_displays": (DEBIAN12, {}, None),
    "absent_ignores_the_rest": (DEBIAN12, {"vncserver_state": "absent",
                                           "vncserver_geometry": "huge"}, None),
    "old_debian": ({**DEBIAN12, "distribution_major_version": "10"}, GOOD,
                   "does not support Debian 10"),
    "password_too_long": (DEBIAN12, displays({"password": "nine-char"}),
                          "The password of display(s) :1 must be 6 to 8 characters"),
    "password_too_short": (DEBIAN12, displays({"password": "abc"}),
                           "The password of display(s) :1 must be 6 to 8 characters"),
    "password_two_lines": (DEBIAN12, displays({"password": "abc\ndef"}),
                           "The password of display(s) :1 must be 6 to 8 characters"),
    "root": (DEBIAN12, displays({"user": "root"}), "other than root"),
    "display_zero": (DEBIAN12, displays({"display": 0}), "the display number is 1 to 99"),
    "display_100": (DEBIAN12, displays({"display": 100}), "the display number is 1 to 99"),
    "bad_geometry": (DEBIAN12, displays({"geometry": "1280*800"}), "geometry is WIDTHxHEIGHT"),
    "bad_depth": (DEBIAN12, displays({"depth": 8}), "depth must be one of: 16, 24, 32"),
    "bad_session": (DEBIAN12, displays({"session": "gnome session"}), "session names a file"),
    "bad_default_geometry": (DEBIAN12, {**GOOD, "vncserver_geometry": "big"},
                             "vncserver_geometry must be WIDTHxHEIGHT"),
    "same_display": (DEBIAN12, displays({"display": 2}), "Each display number and each user"),
    "same_user": (DEBIAN12, displays({"user": "bin"}), "Each display number and each user"),
    "missing_user": (DEBIAN12, displays({"user": "nosuchvncuser"}),
                     "have no account on missing_user: nosuchvncuser"),
    "missing_password": (DEBIAN12, {"vncserver_displays": [{"user": "daemon", "display": 1}]},
                         "missing required arguments: password"),
}


class TestFrontDoor(FrontDoor):
    role = ROLE
    cases = CASES
    secrets = (SECRET, "nine-char")


def test_every_task_handling_the_displays_list_is_no_log():
    assert tasks_leaking(ROLE, ["vncserver_displays", "password"]) == []


def test_every_task_file_parses(tmp_path):
    proc, _ = syntax_check_role(tmp_path, ROLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- derived values and generated files -----------------------------------------------------

def value(expression: str, **overrides: Any) -> Any:
    return role_value(ROLE, expression, **overrides)


def render(template: str, **overrides: Any) -> str:
    return render_role(ROLE, template, **overrides)


def settings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_ports_and_the_public_list_hold_no_password():
    assert value("__vncserver_ports", **GOOD) == [5901, 5902]
    public = value("__vncserver_displays_public", **GOOD)
    assert [d["user"] for d in public] == ["daemon", "bin"]
    assert all("password" not in d for d in public)


def test_debian_11_keeps_vncpasswd_in_tigervnc_common():
    debian11 = {**DEBIAN12, "distribution_major_version": "11"}
    assert value("__vncserver_packages", ansible_facts=debian11) == [
        "tigervnc-standalone-server", "tigervnc-common"]
    assert value("__vncserver_packages") == ["tigervnc-standalone-server", "tigervnc-tools"]


def test_settings_of_a_display_that_sets_nothing():
    text = render("home/USER/.vnc/config.j2",
                  __vncserver_display={"user": "alice", "display": 1})
    assert text.startswith("#")
    assert settings(text) == ["session=twm", "geometry=1920x1080", "depth=24", "localhost=no"]


def test_settings_of_a_display_on_127_0_0_1_with_its_own_size():
    text = render("home/USER/.vnc/config.j2",
                  __vncserver_display={"user": "bob", "display": 2, "geometry": "1024x768",
                                       "depth": 16, "localhost": True, "session": "xfce"})
    assert settings(text) == ["session=xfce", "geometry=1024x768", "depth=16", "localhost=yes"]
    assert "port 5902" in text


def test_upstream_settings_say_localhost_only_when_it_is_on():
    remote = render("home/USER/.vnc/config.j2", family="RedHat",
                    __vncserver_display={"user": "alice", "display": 1})
    local = render("home/USER/.vnc/config.j2", family="RedHat",
                   __vncserver_display={"user": "alice", "display": 1, "localhost": True})
    assert not [line for line in settings(remote) if line.startswith("localhost")]
    assert "localhost" in settings(local)
    assert "session=gnome" in settings(remote)


def test_display_map_is_sorted_and_holds_no_password():
    text = render("etc/tigervnc/vncserver.users.j2", vncserver_displays=[
        {"user": "carol", "display": 3, "password": SECRET},
        {"user": "alice", "display": 1, "password": SECRET}])
    assert settings(text) == [":1=alice", ":3=carol"]
    assert SECRET not in text
