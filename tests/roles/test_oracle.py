"""The oracle role up to the point where Oracle Database itself is needed.

Oracle's media cannot be obtained here and the role is written for RHEL 8/9 only, so it never
converges. These tests check everything before that: the files it generates (the installer's and
dbca's response files, listener.ora, the systemd unit, the shell limits) and its derived values
(kernel parameters from the memory, the swap requirement, the database's memory), that cmectl's
own check of the argument_specs refuses wrong input, that the role's front door (argument spec
and validate.yml, run by ansible-playbook against stand-in facts) accepts good input and refuses
bad input with a clear message and never prints a password, and that every task file parses with
the installed collections (ansible-playbook --syntax-check).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from cmectl.errors import VariableError
from cmectl.variables import REDACTED
from tests.roles.harness import (
    FrontDoor,
    check_package,
    syntax_check_role,
)
from tests.roles.render import ROLES
from tests.roles.render import render as render_role
from tests.roles.render import value as role_value

ROLE = "oracle"
SYS_PASSWORD = "Sys0racle_19c"
SYSTEM_PASSWORD = "System0racle_19c"
PDB_PASSWORD = "PdbAdm1n#19c"
PASSWORDS = {"oracle_sys_password": SYS_PASSWORD, "oracle_system_password": SYSTEM_PASSWORD,
             "oracle_pdb_admin_password": PDB_PASSWORD}
MEDIA = "LINUX.X64_193000_db_home.zip"
CHECKSUM = "sha256:" + "0123456789abcdef" * 4
HOME = "/u01/app/oracle/product/19.0.0/dbhome_1"

RHEL9 = {"os_family": "RedHat", "distribution": "RedHat", "distribution_major_version": "9",
         "distribution_version": "9.4", "distribution_release": "Plow", "memtotal_mb": 16384,
         "swaptotal_mb": 16384, "hostname": "db01", "system": "Linux"}
RHEL8 = {**RHEL9, "distribution_major_version": "8", "distribution_version": "8.10"}
OL8 = {**RHEL8, "distribution": "OracleLinux"}
JAMMY = {"os_family": "Debian", "distribution": "Ubuntu", "distribution_major_version": "22",
         "distribution_version": "22.04", "distribution_release": "jammy", "memtotal_mb": 16384,
         "swaptotal_mb": 16384, "hostname": "db02", "system": "Linux"}


def render(template: str, facts: dict[str, Any] = RHEL9, **overrides: Any) -> str:
    return render_role(ROLE, template, family="RedHat", ansible_facts=facts,
                       **{**PASSWORDS, **overrides})


def value(expression: str, facts: dict[str, Any] = RHEL9, **overrides: Any) -> Any:
    return role_value(ROLE, expression, family="RedHat", ansible_facts=facts,
                      **{**PASSWORDS, **overrides})


def properties(text: str) -> dict[str, str]:
    """KEY=VALUE lines of a response file (comments skipped); keys must not repeat."""
    pairs = [line.split("=", 1) for line in text.splitlines()
             if line.strip() and not line.startswith("#")]
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"repeated keys in {keys}"
    return dict(pairs)


INSTALL_RSP = "u01/stage/db_install.rsp.j2"
DBCA_RSP = "u01/stage/dbca.rsp.j2"
LISTENER = "u01/app/oracle/product/19.0.0/dbhome_1/network/admin/listener.ora.j2"
UNIT = "etc/systemd/system/oracle-database.service.j2"
LIMITS = "etc/security/limits.d/99-oracle-database.conf.j2"


# db_install.rsp ---------------------------------------------------------------------------------

def test_installer_response_file():
    rsp = properties(render(INSTALL_RSP))
    assert rsp == {
        "oracle.install.responseFileVersion":
            "/oracle/install/rspfmt_dbinstall_response_schema_v19.0.0",
        "oracle.install.option": "INSTALL_DB_SWONLY",
        "UNIX_GROUP_NAME": "oinstall",
        "INVENTORY_LOCATION": "/u01/app/oraInventory",
        "ORACLE_HOME": HOME,
        "ORACLE_BASE": "/u01/app/oracle",
        "oracle.install.db.InstallEdition": "EE",
        "oracle.install.db.OSDBA_GROUP": "dba",
        "oracle.install.db.OSOPER_GROUP": "oper",
        "oracle.install.db.OSBACKUPDBA_GROUP": "backupdba",
        "oracle.install.db.OSDGDBA_GROUP": "dgdba",
        "oracle.install.db.OSKMDBA_GROUP": "kmdba",
        "oracle.install.db.OSRACDBA_GROUP": "racdba",
        "oracle.install.db.rootconfig.executeRootScript": "false",
    }


def test_installer_response_file_follows_the_layout_and_edition():
    rsp = properties(render(INSTALL_RSP, oracle_edition="SE2", oracle_base="/opt/oracle",
                            oracle_home="/opt/oracle/product/19c/db1",
                            oracle_inventory_dir="/opt/oraInventory"))
    assert rsp["oracle.install.db.InstallEdition"] == "SE2"
    assert rsp["ORACLE_BASE"] == "/opt/oracle"
    assert rsp["ORACLE_HOME"] == "/opt/oracle/product/19c/db1"
    assert rsp["INVENTORY_LOCATION"] == "/opt/oraInventory"


# dbca.rsp ---------------------------------------------------------------------------------------

def test_dbca_response_file_kept_on_the_host_has_no_password():
    text = render(DBCA_RSP)
    for secret in PASSWORDS.values():
        assert secret not in text
    rsp = properties(text)
    assert rsp["sysPassword"] == rsp["systemPassword"] == rsp["pdbAdminPassword"] == ""
    assert rsp["responseFileVersion"] == "/oracle/assistants/rspfmt_dbca_response_schema_v19.0.0"
    assert rsp["gdbName"] == "ORCL" and rsp["sid"] == "ORCL"
    assert rsp["templateName"] == "General_Purpose.dbc"
    assert rsp["databaseConfigType"] == "SI"
    assert rsp["createAsContainerDatabase"] == "true"
    assert rsp["numberOfPDBs"] == "1" and rsp["pdbName"] == "ORCLPDB1"
    assert rsp["storageType"] == "FS"
    assert rsp["datafileDestination"] == "/u01/oradata"
    assert rsp["recoveryAreaDestination"] == "/u01/fra"
    assert rsp["characterSet"] == "AL32UTF8" and rsp["nationalCharacterSet"] == "AL16UTF16"
    assert rsp["listeners"] == "LISTENER"
    assert rsp["automaticMemoryManagement"] == "false"
    assert rsp["totalMemory"] == "6553"  # 40 % of 16384 MB
    assert rsp["enableArchive"] == "false"
    assert rsp["emConfiguration"] == "NONE"
    assert rsp["initParams"] == "db_recovery_file_dest_size=10240M"


def test_dbca_response_file_handed_to_dbca_has_the_passwords():
    rsp = properties(render(DBCA_RSP, __oracle_rsp_with_passwords=True))
    assert rsp["sysPassword"] == SYS_PASSWORD
    assert rsp["systemPassword"] == SYSTEM_PASSWORD
    assert rsp["pdbAdminPassword"] == PDB_PASSWORD


def test_dbca_response_file_for_a_non_cdb_with_a_domain():
    rsp = properties(render(DBCA_RSP, oracle_container_database=False, oracle_sid="SALES",
                            oracle_db_domain="acme.example", oracle_archivelog=True,
                            oracle_character_set="ZHS16GBK", oracle_memory_percent=60,
                            oracle_recovery_size_mb=51200, oracle_listener_name="LSNR_SALES"))
    assert rsp["gdbName"] == "SALES.acme.example" and rsp["sid"] == "SALES"
    assert rsp["createAsContainerDatabase"] == "false"
    assert not {"numberOfPDBs", "pdbName", "pdbAdminPassword"} & set(rsp)
    assert rsp["enableArchive"] == "true"
    assert rsp["characterSet"] == "ZHS16GBK"
    assert rsp["totalMemory"] == "9830"
    assert rsp["initParams"] == "db_recovery_file_dest_size=51200M"
    assert rsp["listeners"] == "LSNR_SALES"


def test_password_tasks_hide_their_output_and_the_copy_is_deleted():
    tasks = yaml.safe_load((ROLES / ROLE / "tasks/database.yml").read_text())
    create = next(t for t in tasks if t["name"] == "Create the database")
    secret = next(t for t in create["block"] if "passwords" in t["name"])
    assert secret["no_log"] is True
    assert secret["vars"] == {"__oracle_rsp_with_passwords": True}
    assert secret["ansible.builtin.template"]["mode"] == "0600"
    assert secret["ansible.builtin.template"]["dest"] == "{{ __oracle_dbca_secret_rsp }}"
    dbca = next(t for t in create["block"] if t["name"].startswith("Create the database with dbca"))
    assert "{{ __oracle_dbca_secret_rsp }}" in dbca["ansible.builtin.command"]["argv"]
    # No password on dbca's command line (it would show in the process list).
    assert not any("assword" in str(a) for a in dbca["ansible.builtin.command"]["argv"])
    delete = create["always"][0]["ansible.builtin.file"]
    assert delete == {"path": "{{ __oracle_dbca_secret_rsp }}", "state": "absent"}
    assert value("__oracle_dbca_secret_rsp").startswith(value("oracle_setup_dir") + "/")


# listener.ora and the unit -----------------------------------------------------------------------

def test_listener():
    text = render(LISTENER, oracle_listener_port=1531)
    assert "LISTENER =\n  (DESCRIPTION_LIST =" in text
    assert "(ADDRESS = (PROTOCOL = TCP)(HOST = 0.0.0.0)(PORT = 1531))" in text
    assert "(ADDRESS = (PROTOCOL = IPC)(KEY = EXTPROC1531))" in text
    assert "ADR_BASE_LISTENER = /u01/app/oracle" in text
    assert text.count("(") == text.count(")")


def test_unit_runs_dbstart_and_dbshut_as_the_owner():
    lines = render(UNIT).splitlines()
    section = None
    unit: dict[str, dict[str, list[str]]] = {}
    for line in lines:
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            unit[section] = {}
        elif "=" in line and not line.startswith("#") and section:
            key, val = line.split("=", 1)
            unit[section].setdefault(key, []).append(val)
    service = unit["Service"]
    assert service["Type"] == ["oneshot"] and service["RemainAfterExit"] == ["yes"]
    assert service["User"] == ["oracle"] and service["Group"] == ["oinstall"]
    assert service["ExecStartPre"] == [f"-{HOME}/bin/lsnrctl start LISTENER"]
    assert service["ExecStart"] == [f"{HOME}/bin/dbstart"]
    assert service["ExecStop"] == [f"{HOME}/bin/dbshut"]
    assert service["ExecStopPost"] == [f"-{HOME}/bin/lsnrctl stop LISTENER"]
    assert f"ORACLE_HOME={HOME}" in service["Environment"]
    assert service["LimitNOFILE"] == ["65536"] and service["LimitMEMLOCK"] == ["infinity"]
    assert service["LimitSTACK"] == ["10485760:33554432"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    assert "network-online.target" in unit["Unit"]["After"][0]


def test_limits_of_the_owner():
    text = render(LIMITS, {**RHEL9, "memtotal_mb": 8192})
    rows = [line.split() for line in text.splitlines() if line and not line.startswith("#")]
    limits = {(r[1], r[2]): r[3] for r in rows}
    assert {r[0] for r in rows} == {"oracle"}
    assert limits[("soft", "nofile")] == "1024" and limits[("hard", "nofile")] == "65536"
    assert limits[("hard", "nproc")] == "16384"
    assert limits[("soft", "stack")] == "10240" and limits[("hard", "stack")] == "32768"
    assert limits[("soft", "memlock")] == limits[("hard", "memlock")] == "7549747"  # 90 % of 8 GiB


# Derived values ----------------------------------------------------------------------------------

@pytest.mark.parametrize("memory_mb, shmmax, shmall", [
    (2048, 1073741824, 262144),        # the database's 1024 MB (its minimum) > 40 % of the pages
    (16384, 8589934592, 1677721),      # 40 % of the pages
    (65536, 34359738368, 6710886),
])
def test_shared_memory_from_the_host_memory(memory_mb, shmmax, shmall):
    facts = {**RHEL9, "memtotal_mb": memory_mb}
    assert value("__oracle_shmmax", facts) == shmmax == memory_mb * 1048576 // 2
    assert value("__oracle_shmall", facts) == shmall
    sysctl = value("__oracle_sysctl", facts)
    assert sysctl["kernel.shmmax"] == shmmax and sysctl["kernel.shmall"] == shmall


def test_shmall_grows_with_a_large_database_share():
    facts = {**RHEL9, "memtotal_mb": 16384}
    # 80 % for the database is more than 40 % of the pages: the SGA must fit.
    assert value("__oracle_shmall", facts, oracle_memory_percent=80) == 13107 * 256


def test_kernel_parameters_are_oracles_minimums_with_overrides():
    sysctl = value("__oracle_sysctl", oracle_sysctl_overrides={"vm.nr_hugepages": "4096",
                                                               "fs.file-max": "8000000"})
    assert sysctl["kernel.sem"] == "250 32000 100 128"
    assert sysctl["kernel.shmmni"] == "4096"
    assert sysctl["fs.aio-max-nr"] == "1048576"
    assert sysctl["fs.file-max"] == "8000000"
    assert sysctl["net.ipv4.ip_local_port_range"] == "9000 65500"
    assert sysctl["net.core.rmem_max"] == "4194304" and sysctl["net.core.wmem_max"] == "1048576"
    assert sysctl["kernel.panic_on_oops"] == "1"
    assert sysctl["vm.nr_hugepages"] == "4096"


@pytest.mark.parametrize("memory_mb, swap_mb", [
    (1024, 1536), (2048, 3072),   # 1.5 times up to 2 GB
    (4096, 4096), (16384, 16384),  # as much as the memory up to 16 GB
    (65536, 16384),                # 16 GB above
])
def test_swap_requirement(memory_mb, swap_mb):
    assert value("__oracle_swap_required_mb", {**RHEL9, "memtotal_mb": memory_mb}) == swap_mb


@pytest.mark.parametrize("memory_mb, percent, db_mb", [
    (16384, 40, 6553), (2048, 40, 1024), (8192, 25, 2048), (65536, 70, 45875)])
def test_database_memory(memory_mb, percent, db_mb):
    assert value("__oracle_db_memory_mb", {**RHEL9, "memtotal_mb": memory_mb},
                 oracle_memory_percent=percent) == db_mb


def test_memlock_is_at_least_3_gib():
    assert value("__oracle_memlock_kb", {**RHEL9, "memtotal_mb": 2048}) == 3145728


def test_packages_per_release():
    rhel8 = value("__oracle_packages", RHEL8)
    rhel9 = value("__oracle_packages", RHEL9)
    common = {"libaio", "libnsl", "ksh", "unzip", "bc", "sysstat"}
    assert common | {"libaio-devel", "elfutils-libelf-devel"} <= set(rhel8)
    assert common | {"compat-openssl11", "libxcrypt-compat"} <= set(rhel9)
    assert "compat-openssl11" not in rhel8
    assert value("oracle_packages", RHEL9) == rhel9
    assert value("oracle_preinstall_package", RHEL9) == ""
    assert value("oracle_preinstall_package", OL8) == "oracle-database-preinstall-19c"


def test_installer_told_which_release_to_check_against():
    assert value("__oracle_cv_assume_distid") == {"8": "OEL7.8", "9": "OL8"}


@pytest.mark.parametrize("media, name, url", [
    (MEDIA, MEDIA, f"customer-media:///{MEDIA}"),
    (f"https://media.acme.example/oracle/{MEDIA}", MEDIA, f"https://media.acme.example/oracle/{MEDIA}"),
])
def test_media_name_and_url(media, name, url):
    assert value("__oracle_media_name", oracle_media=media) == name
    assert value("__oracle_media_url", oracle_media=media) == url
    assert value("__oracle_media_is_url", oracle_media=media) is media.startswith("https:")


@pytest.mark.parametrize("passwords, bad", [
    ({}, []),
    ({"oracle_sys_password": "short1A"}, ["oracle_sys_password"]),
    ({"oracle_system_password": "alllower1"}, ["oracle_system_password"]),
    ({"oracle_sys_password": "NoDigitsHere"}, ["oracle_sys_password"]),
    ({"oracle_sys_password": "1Starts_with_digit"}, ["oracle_sys_password"]),
    ({"oracle_sys_password": "Has space 1a"}, ["oracle_sys_password"]),
    ({"oracle_sys_password": "Quote\"d1abc"}, ["oracle_sys_password"]),
    ({"oracle_pdb_admin_password": ""}, ["oracle_pdb_admin_password"]),
])
def test_password_rules(passwords, bad):
    assert sorted(value("__oracle_bad_passwords", **passwords)) == bad


def test_no_pdb_password_needed_for_a_non_cdb():
    assert value("__oracle_bad_passwords", oracle_container_database=False,
                 oracle_pdb_admin_password="") == []


def test_other_homes_keep_the_central_inventory():
    inventory = f"""<INVENTORY><HOME_LIST>
<HOME NAME="OraDB19Home1" LOC="{HOME}" TYPE="O" IDX="1"/>
<HOME NAME="OraClient19" LOC="/opt/oracle/client" TYPE="O" IDX="2" REMOVED="T"/>
</HOME_LIST></INVENTORY>"""
    assert value("__oracle_other_homes", __oracle_inventory_text=inventory) == []
    inventory = inventory.replace(' REMOVED="T"', "")
    assert len(value("__oracle_other_homes", __oracle_inventory_text=inventory)) == 1


# cmectl's check of the argument_specs -----------------------------------------------------------


@pytest.mark.parametrize("raw, message", [
    ({"oracle_edition": "XE"}, "oracle_edition"),
    ({"oracle_state": "gone"}, "oracle_state"),
    ({"oracle_listener_port": "fifteen"}, "oracle_listener_port"),
    ({"oracle_memory_percent": "lots"}, "oracle_memory_percent"),
    ({"oracle_national_character_set": "AL32UTF8"}, "oracle_national_character_set"),
    ({"oracle_group_ids": "dba"}, "oracle_group_ids"),
    ({"oracle_create_database": "perhaps"}, "oracle_create_database"),
    ({"oracle_sys_pasword": SYS_PASSWORD}, "did you mean oracle_sys_password"),
])
def test_wrong_input_is_refused_before_any_host_is_touched(raw, message):
    with pytest.raises(VariableError) as err:
        check_package("oracle", raw)
    assert message in str(err.value)
    assert SYS_PASSWORD not in str(err.value)


def test_good_input_is_converted_and_passwords_redacted():
    checked = check_package("oracle", {"oracle_listener_port": "1531",
                                       "oracle_archivelog": "true", **PASSWORDS})
    assert checked.values["oracle_listener_port"] == 1531
    assert checked.values["oracle_archivelog"] is True
    redacted = checked.redacted()
    for name in PASSWORDS:
        assert redacted[name] == REDACTED


# The role's front door, run by ansible-playbook -----------------------------------------------

GOOD = {"oracle_media": f"https://media.acme.example/oracle/{MEDIA}",
        "oracle_media_checksum": CHECKSUM, **PASSWORDS}

# One host per case, all local; each gets stand-in facts and the role runs only as far as its
# argument spec and validate.yml (--tags oracle_validate). host: (facts, vars, expected) where
# expected is None for "passes" or a text the failure message must contain.
CASES: dict[str, tuple[dict, dict, str | None]] = {
    "rhel9_ok": (RHEL9, GOOD, None),
    "rhel8_ok": (RHEL8, {**GOOD, "oracle_edition": "SE2"}, None),
    "ol8_ok": (OL8, GOOD, None),
    "media_on_controller_ok": (RHEL9, {**GOOD, "oracle_media": MEDIA}, None),
    "non_cdb_ok": (RHEL9, {**GOOD, "oracle_container_database": False,
                           "oracle_pdb_admin_password": ""}, None),
    "software_only_ok": (RHEL9, {"oracle_media": GOOD["oracle_media"],
                                 "oracle_media_checksum": CHECKSUM,
                                 "oracle_create_database": False}, None),
    "absent_ok": (RHEL9, {"oracle_state": "absent"}, None),
    "ubuntu": (JAMMY, GOOD, "does not support Ubuntu 22"),
    "no_media": (RHEL9, {**GOOD, "oracle_media": ""}, "Give the customer's Oracle Database 19c"),
    "media_not_a_zip": (RHEL9, {**GOOD, "oracle_media": "https://media/db.tar.gz"},
                        "Give the customer's Oracle Database 19c"),
    "bad_checksum": (RHEL9, {**GOOD, "oracle_media_checksum": "md5:0123"},
                     "oracle_media_checksum=sha256"),
    "media_missing": (RHEL9, {**GOOD, "oracle_media": "V982063-01.zip"},
                      "V982063-01.zip is neither in cmectl_artifact_dir"),
    "small_swap": ({**RHEL9, "swaptotal_mb": 2048}, GOOD,
                   "has 2048 MB of swap; with 16384 MB of memory Oracle requires 16384 MB"),
    "small_swap_accepted": ({**RHEL9, "swaptotal_mb": 2048}, {**GOOD, "oracle_check_swap": False},
                            None),
    "small_memory": ({**RHEL9, "memtotal_mb": 768, "swaptotal_mb": 2048}, GOOD,
                     "needs at least 1024 MB"),
    "weak_passwords": (RHEL9, {**GOOD, "oracle_sys_password": "oracle",
                               "oracle_pdb_admin_password": "Pdb"},
                       "oracle_sys_password, oracle_pdb_admin_password must be 8 to 30"),
    "home_outside_base": (RHEL9, {**GOOD, "oracle_home": "/opt/oracle/db"},
                          "oracle_home (/opt/oracle/db) must lie below oracle_base"),
    "inventory_in_base": (RHEL9, {**GOOD, "oracle_inventory_dir": "/u01/app/oracle/oraInventory"},
                          "oracle_inventory_dir (/u01/app/oracle/oraInventory) outside it"),
    "bad_sid": (RHEL9, {**GOOD, "oracle_sid": "1ORCL"}, "oracle_sid (1ORCL)"),
    "long_sid": (RHEL9, {**GOOD, "oracle_sid": "SALESPROD1"}, "oracle_sid (SALESPROD1)"),
    "groups": (RHEL9, {**GOOD, "oracle_group_ids": {"oinstall": 1000, "dba": 1001}},
               "oracle_group_ids must give the ids of exactly"),
    "memory_share": (RHEL9, {**GOOD, "oracle_memory_percent": 90}, "must be between 10 and 80"),
    "bad_edition": (RHEL9, {**GOOD, "oracle_edition": "XE"}, "oracle_edition"),
}


class TestFrontDoor(FrontDoor):
    role = ROLE
    cases = CASES
    secrets = tuple(PASSWORDS.values())
    media = MEDIA


# Every task file parses and every module resolves --------------------------------------------

def test_syntax_check(tmp_path):
    proc, files = syntax_check_role(tmp_path, ROLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(files) >= 10
