"""The active_directory role up to the Windows hosts it cannot reach here.

No Windows host can be obtained, so no forest is created and no domain controller promoted:
these tests check the role's decisions (which host creates the forest, how the others find the
domain), its validate rules, the argument specs through cmectl's own validation, that the
passwords stay out of the log, the scripts and the fact, and that every task file parses with
the installed collections (microsoft.ad, ansible.windows).
"""

from __future__ import annotations

import pytest
import yaml

from cmectl.catalog import load_catalogue
from cmectl.errors import VariableError
from tests.roles import harness

ROLE = "active_directory"
DSRM = "Dsrm-S3cret!"
ADMIN = "Adm1n-S3cret!"
LOCAL = "L0cal-S3cret!"
SECRETS = ["active_directory_safe_mode_password", "active_directory_admin_password",
           "active_directory_local_admin_password"]
DCS = ["dc01", "dc02", "dc03"]
HOSTVARS = {"dc01": {"ansible_host": "10.0.0.11"}, "dc02": {"ansible_host": "10.0.0.12"},
            "dc03": {"ansible_host": "10.0.0.13"}}
BASE = {"active_directory_domain": "corp.acme.example",
        "active_directory_safe_mode_password": DSRM,
        "active_directory_admin_password": ADMIN,
        "active_directory_group": "dcs",
        "groups": {"dcs": DCS, "all": [*DCS, "web01"]},
        "ansible_play_hosts_all": DCS, "hostvars": HOSTVARS}


def value(expression: str, **overrides):
    return harness.evaluate(ROLE, expression, **{**BASE, **overrides})


def failing(**overrides):
    return harness.failing_asserts(ROLE, "validate.yml", **{**BASE, **overrides})


def check(raw: dict, entry_point: str = "main"):
    return harness.check_package("active-directory", raw, entry_point)


# --- decisions ---------------------------------------------------------------------------

@pytest.mark.parametrize("host, first", [("dc01", True), ("dc02", False), ("dc03", False)])
def test_the_groups_first_host_in_inventory_order_creates_the_forest(host, first):
    assert value("__active_directory_first_dc", inventory_hostname=host) == "dc01"
    assert value("__active_directory_is_first", inventory_hostname=host) is first


def test_inventory_order_not_sorted_order():
    groups = {"dcs": ["dc02", "dc01"]}
    assert value("__active_directory_first_dc", groups=groups) == "dc02"


def test_without_a_group_the_plays_hosts_are_the_domain_controllers():
    assert value("__active_directory_hosts", active_directory_group="",
                 ansible_play_hosts_all=["b", "a"]) == ["b", "a"]


def test_additional_domain_controllers_find_the_domain_at_the_first_hosts_address():
    assert value("__active_directory_dns_servers", inventory_hostname="dc02") == ["10.0.0.11"]
    assert value("__active_directory_dns_servers",
                 active_directory_dns_servers=["10.0.0.1", "10.0.0.2"]) == ["10.0.0.1", "10.0.0.2"]


def test_names():
    assert value("__active_directory_admin_user") == "Administrator@corp.acme.example"
    assert value("__active_directory_admin_user",
                 active_directory_admin_user=r"ACME\ops") == r"ACME\ops"
    assert value("__active_directory_domain_dn") == "DC=corp,DC=acme,DC=example"


def test_features_services_and_ports_follow_the_dns_choice():
    assert value("__active_directory_features") == ["AD-Domain-Services", "DNS"]
    assert value("__active_directory_services") == ["NTDS", "Netlogon", "kdc", "ADWS", "DNS"]
    assert value("__active_directory_ports") == [88, 389, 636, 3268, 53]
    no_dns = {"active_directory_install_dns": False}
    assert value("__active_directory_features", **no_dns) == ["AD-Domain-Services"]
    assert "DNS" not in value("__active_directory_services", **no_dns)
    assert 53 not in value("__active_directory_ports", **no_dns)


@pytest.mark.parametrize("password, strong", [
    (DSRM, True), ("Passw0rd", True), ("password1!", True), ("Sh0rt!", False),
    ("alllowercase", False), ("ALLUPPER123", False), ("ALLUPPER12!", True),
    ("NoDigitsHere", False), ("", False)])
def test_dsrm_complexity(password, strong):
    assert value("__active_directory_dsrm_strong",
                 active_directory_safe_mode_password=password) is strong


# --- validate.yml ------------------------------------------------------------------------

def test_a_complete_setup_passes_on_every_host():
    for host in DCS:
        assert failing(inventory_hostname=host) == []


@pytest.mark.parametrize("build, ok", [("10.0.20348.0", True), ("10.0.17763.1", True),
                                       ("10.0.14393.0", False)])
def test_platform_check_by_build_number(build, ok):
    failed = failing(ansible_facts={"distribution_version": build}, inventory_hostname="dc01")
    assert ("Check that the platform is supported" in failed) is not ok


@pytest.mark.parametrize("change, failing_check", [
    ({"active_directory_group": "domaincontrollers"}, "Check the domain controller group"),
    ({"inventory_hostname": "web01"}, "Check the domain controller group"),
    ({"active_directory_domain": ""}, "Check the domain"),
    ({"active_directory_domain": "corp"}, "Check the domain"),
    ({"active_directory_domain": "corp_acme.example"}, "Check the domain"),
    ({"active_directory_netbios_name": "ACME-CORPORATION"}, "Check the domain"),
    ({"active_directory_admin_user": "ops"}, "Check the domain"),
    ({"active_directory_safe_mode_password": "secret"}, "Check the secrets a promotion needs"),
    ({"active_directory_admin_password": ""}, "Check the secrets a promotion needs"),
    ({"inventory_hostname": "dc02", "active_directory_dns_servers": ["dc01.acme.example"]},
     "Check how an additional domain controller finds the domain"),
    ({"inventory_hostname": "dc02", "hostvars": {"dc01": {"ansible_host": "dc01.acme.example"}}},
     "Check how an additional domain controller finds the domain"),
    ({"active_directory_state": "absent", "inventory_hostname": "dc02"},
     "Check what a demotion needs"),
    ({"active_directory_state": "absent", "inventory_hostname": "dc01",
      "active_directory_local_admin_password": LOCAL}, "Check what a demotion needs"),
])
def test_validate_refuses(change, failing_check):
    assert failing_check in failing(**{"inventory_hostname": "dc01", **change})


def test_the_first_host_may_use_a_name_as_dns_server_it_does_not_need_one():
    assert failing(inventory_hostname="dc01",
                   hostvars={"dc01": {"ansible_host": "dc01.acme.example"}}) == []


def test_demotion_with_everything_it_needs_passes():
    absent = {"active_directory_state": "absent", "active_directory_local_admin_password": LOCAL}
    assert failing(inventory_hostname="dc02", **absent) == []
    assert failing(inventory_hostname="dc01", active_directory_remove_forest=True, **absent) == []
    # A demotion does not need the DSRM password any more.
    assert failing(inventory_hostname="dc02", active_directory_safe_mode_password="",
                   **absent) == []


@pytest.mark.parametrize("domain_facts, ok", [
    ({"windows_domain": "WORKGROUP", "windows_domain_member": False,
      "windows_domain_role": "Stand-alone server"}, True),
    ({"windows_domain": "corp.acme.example", "windows_domain_member": True,
      "windows_domain_role": "Member server"}, True),
    ({"windows_domain": "CORP.ACME.EXAMPLE", "windows_domain_member": True,
      "windows_domain_role": "Backup domain controller"}, True),
    ({"windows_domain": "other.example", "windows_domain_member": True,
      "windows_domain_role": "Member server"}, False),
])
def test_a_host_of_another_domain_is_left_alone(domain_facts, ok):
    failed = failing(inventory_hostname="dc02", ansible_facts=domain_facts)
    assert failed == []
    failed = harness.failing_asserts(ROLE, "install.yml", **{**BASE, "inventory_hostname": "dc02",
                                                     "ansible_facts": domain_facts})
    assert (failed == ["Check that a host already in a domain is in this one"]) is not ok


# --- argument specs, through cmectl's own validation -------------------------------------

@pytest.mark.parametrize("raw, message", [
    ({"active_directory_state": "latest"}, "active_directory_state"),
    ({"active_directory_forest_mode": "Win2022"}, "active_directory_forest_mode"),
    ({"active_directory_domain_mode": "2016"}, "active_directory_domain_mode"),
    ({"active_directory_reboot_timeout": "half an hour"}, "active_directory_reboot_timeout"),
    ({"active_directory_remove_forest": "please"}, "active_directory_remove_forest"),
    ({"active_directory_dns_servers": {"a": 1}}, "active_directory_dns_servers"),
    ({"active_directory_domian": "x"}, "did you mean active_directory_domain"),
])
def test_argument_specs_refuse_wrong_input(raw, message):
    with pytest.raises(VariableError) as err:
        check(raw)
    assert message in str(err.value)


def test_passwords_are_secrets_and_never_quoted():
    checked = check({"active_directory_safe_mode_password": DSRM,
                     "active_directory_admin_password": ADMIN,
                     "active_directory_local_admin_password": LOCAL,
                     "active_directory_domain": "corp.acme.example"})
    assert set(SECRETS) <= checked.secret_names
    assert not {DSRM, ADMIN, LOCAL} & set(map(str, checked.redacted().values()))
    with pytest.raises(VariableError) as err:
        check({"active_directory_admin_password": ADMIN, "active_directory_state": ADMIN})
    assert ADMIN not in str(err.value)


def test_verify_takes_the_install_variables():
    checked = check({"active_directory_domain": "corp.acme.example",
                     "active_directory_admin_password": ADMIN}, entry_point="verify")
    assert "active_directory_admin_password" in checked.secret_names


# --- secrets stay out of the log, the scripts and the fact -------------------------------

def test_every_task_handling_a_password_has_no_log():
    assert harness.tasks_leaking(ROLE, SECRETS) == []


def test_the_forest_removal_gets_the_passwords_as_parameters():
    block = next(t for t in harness.load_tasks(ROLE, "uninstall.yml") if "block" in t)["block"]
    task = next(t for t in block if "ansible.windows.win_powershell" in t)
    args = task["ansible.windows.win_powershell"]
    assert not any(s in args["script"] for s in [*SECRETS, "{{"])
    names = {p["name"] for p in args["sensitive_parameters"]}
    assert names == {"LocalAdministratorPassword", "Credential"}
    assert "[SecureString]$LocalAdministratorPassword" in args["script"]
    assert "-LastDomainControllerInDomain" not in args["script"]  # splatted
    assert "LastDomainControllerInDomain = $true" in args["script"]
    assert task["no_log"] is True


def test_the_connection_switch_is_not_logged():
    for name in ("promote.yml", "uninstall.yml"):
        tasks = [t for t in yaml.safe_dump(harness.load_tasks(ROLE, name)).split("- name: ")
                 if "ansible_password" in t]
        assert tasks and all("no_log: true" in t for t in tasks)


def test_the_fact_holds_no_secret():
    task = next(t for t in harness.load_tasks(ROLE, "record.yml")
                if "ansible.builtin.include_role" in t)
    facts = task["vars"]["cmectl_win_fact_facts"]
    assert task["vars"]["cmectl_win_fact_name"] == ROLE
    assert not any(s in yaml.safe_dump(facts) for s in SECRETS)
    rendered = value("facts", facts=facts, inventory_hostname="dc02")
    assert rendered["role"] == "additional"
    assert rendered["first_dc"] == "dc01"
    assert rendered["domain_dn"] == "DC=corp,DC=acme,DC=example"
    assert rendered["ports"] == [88, 389, 636, 3268, 53]
    assert rendered["site"] is None
    assert not {DSRM, ADMIN} & set(map(str, rendered.values()))


def test_ansible_checks_the_arguments_at_run_time(tmp_path):
    good = {"active_directory_domain": "corp.acme.example",
            "active_directory_safe_mode_password": DSRM, "active_directory_admin_password": ADMIN}
    first = harness.first_failures(tmp_path, ROLE, [
        ("main", good), ("verify", good),
        ("main", {**good, "active_directory_forest_mode": "Win2022"}),
        ("main", {**good, "active_directory_dns_servers": "10.0.0.11"})])
    assert first == ["Gather the minimal facts the role relies on",
                     "Gather the facts the checks rely on",
                     "Validating arguments against arg spec 'main' - Create an Active Directory "
                     "forest and additional domain controllers, or demote them.",
                     "Gather the minimal facts the role relies on"]  # a string becomes a list


# --- every module name resolves in the installed collections -------------------------------

def test_syntax_check(tmp_path):
    proc = harness.syntax_check(tmp_path, harness.every_task_file(ROLE))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_platforms_are_the_catalogues():
    meta = yaml.safe_load((harness.ROLES / ROLE / "meta" / "main.yml").read_text())
    assert meta["galaxy_info"]["platforms"] == [{"name": "Windows", "versions": ["2019", "2022"]}]
    assert load_catalogue(harness.ROOT).get("active-directory").platforms == {
        "Windows": ["2019", "2022"]}
