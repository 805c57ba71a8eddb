"""The weblogic role's generated files, rendered the way its tasks render them.

Oracle's media cannot be obtained here, so the installer, WLST, node manager and the server never
run in the Molecule scenario: these tests check what the role would hand them (response file,
oraInst.loc, the WLST script and its credentials file, boot.properties, node manager properties,
units, limits) and the role's derived values, plus that every task writing a secret keeps it 0600
and out of the log.
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.roles.render import ROLES
from tests.roles.render import render as render_role
from tests.roles.render import value as role_value

ROLE = "weblogic"
PASSWORD = "S3cret-Adm1n\\pw"
JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
# What a run has set by the time the templates are written (prepare.yml sets the Java home).
RUN_VARS = {"weblogic_admin_password": PASSWORD, "__weblogic_java_home": JAVA_HOME}


def render(template: str, **overrides: Any) -> str:
    return render_role(ROLE, template, **{**RUN_VARS, **overrides})


def value(expression: str, **overrides: Any) -> Any:
    return role_value(ROLE, expression, **{**RUN_VARS, **overrides})


def lines(text: str) -> list[str]:
    return text.splitlines()


SETUP = "u01/app/oracle/setup"
RSP = f"{SETUP}/wls.rsp.j2"
ORAINST = f"{SETUP}/oraInst.loc.j2"
WLST = f"{SETUP}/create_domain.py.j2"
CREDENTIALS = f"{SETUP}/domain.properties.j2"
NODEMANAGER = f"{SETUP}/nodemanager.properties.j2"
BOOT = "u01/app/oracle/config/domains/domain/servers/admin/security/boot.properties.j2"
ADMIN_UNIT = "etc/systemd/system/weblogic-admin.service.j2"
NM_UNIT = "etc/systemd/system/weblogic-nodemanager.service.j2"
LIMITS = "etc/security/limits.d/weblogic.conf.j2"


# --- response file and inventory pointer ---------------------------------------------------

def test_response_file_installs_weblogic_server_into_the_middleware_home():
    text = render(RSP)
    assert text.startswith("#")  # ansible_managed comment first
    parser = configparser.ConfigParser(interpolation=None, comment_prefixes=("#",))
    parser.optionxform = str  # keys are upper case and must stay so
    parser.read_string(text)
    assert parser["ENGINE"]["Response File Version"] == "1.0.0.0.0"
    generic = parser["GENERIC"]
    assert generic["ORACLE_HOME"] == "/u01/app/oracle/middleware"
    assert generic["INSTALL_TYPE"] == "WebLogic Server"
    assert generic["DECLINE_SECURITY_UPDATES"] == "true"
    assert generic["SECURITY_UPDATES_VIA_MYORACLESUPPORT"] == "false"
    assert generic["DECLINE_AUTO_UPDATES"] == "true"
    assert generic["MYORACLESUPPORT_USERNAME"] == ""


def test_response_file_follows_the_paths_and_install_type():
    text = render(RSP, weblogic_oracle_base="/opt/oracle",
                  weblogic_install_type="Complete with Examples")
    assert "ORACLE_HOME=/opt/oracle/middleware" in lines(text)
    assert "INSTALL_TYPE=Complete with Examples" in lines(text)


def test_inventory_pointer():
    text = render(ORAINST, weblogic_inventory_dir="/u02/oraInventory", weblogic_group="fmwgrp")
    assert [line for line in lines(text) if not line.startswith("#")] == [
        "inventory_loc=/u02/oraInventory", "inst_group=fmwgrp"]


# --- WLST script and its credentials ---------------------------------------------------------

def test_wlst_script_creates_the_domain_as_configured():
    text = render(WLST)
    assert 'domain_home = "/u01/app/oracle/config/domains/base_domain"' in lines(text)
    template = "/u01/app/oracle/middleware/wlserver/common/templates/wls/wls.jar"
    assert f'domain_template = "{template}"' in lines(text)
    assert f'java_home = "{JAVA_HOME}"' in lines(text)
    assert 'admin_server = "AdminServer"' in lines(text)
    assert "admin_port = 7001" in lines(text)
    assert 'start_mode = "prod"' in lines(text)
    assert "nodemanager_port = 5556" in lines(text)
    assert "setOption('OverwriteDomain', 'false')" in text
    assert "writeDomain(domain_home)" in text


def test_wlst_script_takes_the_credentials_from_the_properties_file_only():
    text = render(WLST)
    assert PASSWORD not in text and "S3cret" not in text
    assert "cmo.setPassword(admin_password)" in text
    assert "cmo.setName(admin_username)" in text
    assert "set('NodeManagerPasswordEncrypted', admin_password)" in text
    # WLST never prints them.
    assert not [line for line in lines(text) if "print" in line and "admin_password" in line]


def test_wlst_script_is_valid_python_syntax():
    compile(render(WLST), "create_domain.py", "exec")


@pytest.mark.parametrize("version, disabled", [("14.1.2.0.0", True), ("14.1.1.0.0", False),
                                               ("12.2.1.4.0", False)])
def test_secured_production_mode_is_switched_off_where_it_is_the_default(version, disabled):
    text = render(WLST, weblogic_version=version)
    assert f"disable_secure_mode = {disabled}" in lines(text)
    assert "set('SecureModeEnabled', 'false')" in text


def test_wlst_script_development_mode_other_names_and_port():
    text = render(WLST, weblogic_production_mode=False, weblogic_domain_name="shop",
                  weblogic_admin_server_name="admin1", weblogic_admin_port=7101,
                  weblogic_admin_listen_address="10.0.0.5")
    assert 'start_mode = "dev"' in lines(text)
    assert 'domain_name = "shop"' in lines(text)
    assert 'domain_home = "/u01/app/oracle/config/domains/shop"' in lines(text)
    assert 'admin_server = "admin1"' in lines(text)
    assert 'admin_listen_address = "10.0.0.5"' in lines(text)
    assert "admin_port = 7101" in lines(text)


def test_credentials_file_holds_the_administrator_in_properties_syntax():
    body = [line for line in lines(render(CREDENTIALS)) if not line.startswith("#")]
    # A backslash is an escape in Java properties: it is doubled.
    assert body == ["admin_username=weblogic", "admin_password=S3cret-Adm1n\\\\pw"]


def test_boot_properties_holds_the_boot_identity():
    text = render(BOOT, weblogic_admin_user="ops")
    body = [line for line in lines(text) if not line.startswith("#")]
    assert body == ["username=ops", "password=S3cret-Adm1n\\\\pw"]


def _tasks(name: str) -> list[dict]:
    tasks = yaml.safe_load((ROLES / ROLE / "tasks" / name).read_text())
    flat = []
    for task in tasks:
        flat.append(task)
        for key in ("block", "rescue", "always"):
            flat.extend(task.get(key, []))
    return flat


@pytest.mark.parametrize("template", [CREDENTIALS, BOOT])
def test_secret_files_are_written_0600_by_their_owner_and_never_logged(template):
    writers = [t for name in ("configure.yml", "domain.yml") for t in _tasks(name)
               if t.get("ansible.builtin.template", {}).get("src") == template]
    assert writers, f"no task writes {template}"
    for task in writers:
        assert task["ansible.builtin.template"]["mode"] == "0600"
        assert task["ansible.builtin.template"]["owner"] == "{{ weblogic_user }}"
        assert task.get("no_log") is True


def test_wlst_run_reads_the_password_from_the_file_and_is_not_logged():
    run = next(t for t in _tasks("domain.yml") if "ansible.builtin.shell" in t)
    cmd = run["ansible.builtin.shell"]["cmd"]
    assert "-loadProperties {{ __weblogic_domain_properties | quote }}" in cmd
    assert "password" not in cmd
    assert run["no_log"] is True
    assert run["become_user"] == "{{ weblogic_user }}"


# --- node manager, units, limits ---------------------------------------------------------------

def test_node_manager_properties():
    body = dict(line.split("=", 1) for line in lines(render(NODEMANAGER))
                if line and not line.startswith("#"))
    home = "/u01/app/oracle/config/domains/base_domain/nodemanager"
    assert body["NodeManagerHome"] == home
    assert body["DomainsFile"] == f"{home}/nodemanager.domains"
    assert body["ListenAddress"] == "localhost"
    assert body["ListenPort"] == "5556"
    assert body["SecureListener"] == "false"
    assert body["JavaHome"] == JAVA_HOME
    assert body["StartScriptEnabled"] == "true"


def test_admin_unit_runs_the_domain_as_the_owner_with_a_heap_from_memory():
    text = render(ADMIN_UNIT)  # 4096 MB of memory in the test facts
    domain = "/u01/app/oracle/config/domains/base_domain"
    assert f"ExecStart={domain}/bin/startWebLogic.sh" in lines(text)
    assert "User=oracle" in lines(text) and "Group=oinstall" in lines(text)
    assert f"Environment=JAVA_HOME={JAVA_HOME}" in lines(text)
    assert 'Environment="USER_MEM_ARGS=-Xms1024m -Xmx1024m"' in lines(text)
    assert "LimitNOFILE=65536" in lines(text) and "LimitNPROC=16384" in lines(text)
    assert "SuccessExitStatus=143" in lines(text)
    assert PASSWORD not in text


@pytest.mark.parametrize("memory, heap_mb, expected",
                         [(1024, 0, 512), (16384, 0, 4096), (4096, 2048, 2048)])
def test_admin_heap(memory, heap_mb, expected):
    text = render(ADMIN_UNIT, ansible_facts={"memtotal_mb": memory}, weblogic_admin_heap_mb=heap_mb)
    assert f'Environment="USER_MEM_ARGS=-Xms{expected}m -Xmx{expected}m"' in lines(text)


def test_node_manager_unit():
    text = render(NM_UNIT, weblogic_domains_dir="/srv/domains", weblogic_domain_name="shop")
    assert "ExecStart=/srv/domains/shop/bin/startNodeManager.sh" in lines(text)
    assert "User=oracle" in lines(text)
    assert "LimitNOFILE=65536" in lines(text)


def test_limits_file():
    body = [line.split() for line in lines(render(LIMITS, weblogic_limits_nofile=131072))
            if line and not line.startswith("#")]
    assert body == [["oracle", "soft", "nofile", "131072"], ["oracle", "hard", "nofile", "131072"],
                    ["oracle", "soft", "nproc", "16384"], ["oracle", "hard", "nproc", "16384"]]


# --- derived values -------------------------------------------------------------------------

@pytest.mark.parametrize("version, allowed, default", [
    ("14.1.2.0.0", [17, 21], 17), ("14.1.1.0.0", [8, 11], 11), ("12.2.1.4.0", [8], 8)])
def test_java_versions_follow_the_release(version, allowed, default):
    assert value("__weblogic_java_allowed", weblogic_version=version) == allowed
    assert int(value("weblogic_java_version", weblogic_version=version)) == default


def test_unknown_release_allows_no_java():
    assert value("__weblogic_java_allowed", weblogic_version="10.3.6.0.0") == []


@pytest.mark.parametrize("installer, name, is_url, is_zip", [
    ("fmw_14.1.2.0.0_wls.jar", "fmw_14.1.2.0.0_wls.jar", False, False),
    ("V1045131-01.zip", "V1045131-01.zip", False, True),
    ("https://nexus.example.lan/oracle/fmw_14.1.1.0.0_wls_lite_generic.jar",
     "fmw_14.1.1.0.0_wls_lite_generic.jar", True, False),
])
def test_installer_name_and_kind(installer, name, is_url, is_zip):
    assert value("__weblogic_installer_name", weblogic_installer=installer).strip() == name
    assert bool(value("__weblogic_installer_is_url", weblogic_installer=installer)) is is_url
    assert bool(value("__weblogic_installer_is_zip", weblogic_installer=installer)) is is_zip


def test_media_is_found_in_the_artifact_dir_or_the_cache(tmp_path):
    media, cache = tmp_path / "media", tmp_path / "cache"
    media.mkdir()
    cache.mkdir()
    found = "__weblogic_media_on_controller | bool"
    common = {"weblogic_installer": "V1.zip", "cmectl_artifact_dir": str(media),
              "cmectl_artifact_cache": str(cache)}
    assert value(found, **common) is False
    (cache / "V1.zip").write_bytes(b"x")
    assert value(found, **common) is True
    (cache / "V1.zip").unlink()
    (media / "V1.zip").write_bytes(b"x")
    assert value(found, **common) is True


def test_parent_directories_the_role_may_create():
    assert value("__weblogic_parent_dirs") == ["/u01", "/u01/app", "/u01/app/oracle/config"]
    assert value("__weblogic_parent_dirs", weblogic_oracle_base="/opt/oracle",
                 weblogic_inventory_dir="/opt/oraInventory") == ["/opt", "/opt/oracle/config"]


def test_ready_url_probes_loopback_unless_bound_elsewhere():
    assert value("__weblogic_ready_url") == "http://127.0.0.1:7001/weblogic/ready"
    assert value("__weblogic_ready_url", weblogic_admin_listen_address="10.0.0.5",
                 weblogic_admin_port=7101) == "http://10.0.0.5:7101/weblogic/ready"


def test_templates_start_with_the_managed_comment():
    for path in (Path(ROLES / ROLE / "templates")).rglob("*.j2"):
        assert path.read_text().startswith("{{ ansible_managed | comment }}"), path
