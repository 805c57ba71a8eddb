"""The dynamics role (Business Central on-premises) up to the Windows host and the media it cannot
get here.

No Windows host and no Business Central media can be obtained, so setup never runs: these tests
render the setup configuration the role would hand it and parse it as XML, check the derived
names, paths and ports, the checklist of manual steps that reaches the fulfilment record, the
validate rules, the argument specs through cmectl's own validation, that passwords stay out of
logs and the fact, and that every task file parses with the installed collections.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import yaml

from cmectl.catalog import load_catalogue
from cmectl.errors import VariableError
from tests.roles import harness

ROLE = "dynamics"
CONFIG = "ProgramData/cmectl/dynamics/setup-config.xml.j2"
SERVICE_PASSWORD = "Svc-S3cret<&>!"
MEDIA_PASSWORD = "Med1a-S3cret!"
SECRETS = ["dynamics_service_password", "dynamics_media_password"]
MEDIA = {"dynamics_media_src": r"\\files.acme.example\media\Dynamics.365.BC.24.W1.DVD.zip",
         "dynamics_media_checksum": "sha256:" + "cd" * 32,
         "dynamics_database": "ACME-BC"}


def value(expression: str, **overrides):
    return harness.evaluate(ROLE, expression, **{**MEDIA, **overrides})


def render(**overrides) -> ET.Element:
    text = harness.render_template(ROLE, CONFIG, **{**MEDIA, **overrides})
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>\n<!--')
    return ET.fromstring(text.encode("utf-8"))


def parameters(root: ET.Element) -> dict[str, str]:
    return {p.get("Id"): p.get("Value") for p in root.findall("Parameter")}


def check(raw: dict, entry_point: str = "main"):
    return harness.check_package("dynamics", raw, entry_point)


# --- setup-config.xml --------------------------------------------------------------------

def test_default_setup_configuration():
    root = render()
    assert root.tag == "Configuration"
    assert {c.get("Id"): c.get("State") for c in root.findall("Component")} == {
        "ServiceTier": "Local", "WebClient": "Local"}
    assert all(c.get("ShowOptionNode") == "yes" for c in root.findall("Component"))
    assert parameters(root) == {
        "TargetPath": r"C:\Program Files (x86)\Microsoft Dynamics 365 Business Central\240",
        "TargetPathX64": r"C:\Program Files\Microsoft Dynamics 365 Business Central\240",
        "NavServiceServerName": "localhost",
        "NavServiceInstanceName": "BC",
        "NavServiceAccount": r"NT AUTHORITY\NETWORK SERVICE",
        "NavServiceAccountPassword": "",
        "ManagementServicesPort": "7045",
        "ClientServicesPort": "7046",
        "SOAPServicesPort": "7047",
        "ODataServicesPort": "7048",
        "DeveloperServicesPort": "7049",
        "SQLServer": "localhost",
        "SQLInstance": "",
        "SQLDatabaseName": "ACME-BC",
        "WebServerPort": "8080",
        "NavFirewallOption": "false",
    }


def test_setup_configuration_follows_the_variables():
    root = render(dynamics_version="25", dynamics_instance="ACME",
                  dynamics_service_account=r"ACME\svc-bc",
                  dynamics_service_password=SERVICE_PASSWORD,
                  dynamics_sql_server="sql01.acme.example", dynamics_sql_instance="BC",
                  dynamics_client_port=8046, dynamics_web_port=443,
                  dynamics_components={"ServiceTier": "Local", "WebClient": "Absent",
                                       "SQLDemoDatabase": "Local"},
                  dynamics_setup_parameters={"PublicWebBaseUrl": "https://erp.acme.example/ACME/",
                                             "SQLServer": "sql02"})
    params = parameters(root)
    assert params["TargetPathX64"].endswith(r"Business Central\250")
    assert params["NavServiceInstanceName"] == "ACME"
    assert params["NavServiceAccount"] == r"ACME\svc-bc"
    assert params["NavServiceAccountPassword"] == SERVICE_PASSWORD  # XML-escaped in the file
    assert params["SQLServer"] == "sql02"  # dynamics_setup_parameters wins
    assert params["SQLInstance"] == "BC"
    assert params["ClientServicesPort"] == "8046"
    assert params["WebServerPort"] == "443"
    assert params["PublicWebBaseUrl"] == "https://erp.acme.example/ACME/"
    hidden = [p.get("Id") for p in root.findall("Parameter") if p.get("IsHidden") == "yes"]
    assert hidden == ["NavServiceAccountPassword"]
    assert {c.get("Id"): c.get("State") for c in root.findall("Component")}["WebClient"] == "Absent"


def test_the_password_is_escaped_in_the_file():
    text = harness.render_template(ROLE, CONFIG, **MEDIA,
                                   dynamics_service_password=SERVICE_PASSWORD)
    assert "Svc-S3cret&lt;&amp;&gt;!" in text
    assert text.count("S3cret") == 1


# --- derived values ----------------------------------------------------------------------

def test_names_and_paths():
    assert value("__dynamics_service") == "MicrosoftDynamicsNavServer$BC"
    assert value("__dynamics_service",
                 dynamics_instance="ACME") == "MicrosoftDynamicsNavServer$ACME"
    assert value("__dynamics_installed_setup") == (
        r"C:\Program Files (x86)\Common Files\Microsoft Dynamics 365 Business Central\240"
        r"\Setup\setup.exe")
    assert value("__dynamics_custom_settings") == (
        r"C:\Program Files\Microsoft Dynamics 365 Business Central\240\Service"
        r"\CustomSettings.config")
    assert value("__dynamics_setup") == r"C:\ProgramData\cmectl\dynamics\media\setup.exe"
    assert value("__dynamics_setup", dynamics_media_setup=r"DVD\setup.exe") == (
        r"C:\ProgramData\cmectl\dynamics\media\DVD\setup.exe")
    assert value("__dynamics_config") == r"C:\ProgramData\cmectl\dynamics\setup-config.xml"


def test_ports_and_firewall():
    assert value("__dynamics_ports") == [7045, 7046, 7047, 7048, 7049, 8080]
    assert value("__dynamics_firewall_ports") == [7046, 7047, 7048, 8080]
    no_web = {"dynamics_components": {"ServiceTier": "Local", "WebClient": "Absent"}}
    assert 8080 not in value("__dynamics_ports", **no_web)
    assert value("__dynamics_firewall_ports", **no_web) == [7046, 7047, 7048]


def test_server_settings():
    settings = value("__dynamics_server_settings", dynamics_sql_instance="BC",
                     dynamics_server_settings={"ClientServicesCredentialType": "NavUserPassword",
                                               "DatabaseName": "OTHER"})
    assert settings["DatabaseServer"] == "localhost"
    assert settings["DatabaseInstance"] == "BC"
    assert settings["DatabaseName"] == "OTHER"
    assert settings["ClientServicesCredentialType"] == "NavUserPassword"
    assert settings["ODataServicesPort"] == "7048"


@pytest.mark.parametrize("path, expected", [
    (r"Prerequisite Components\DotNetCore\hosting.exe",
     r"C:\ProgramData\cmectl\dynamics\media\Prerequisite Components\DotNetCore\hosting.exe"),
    (r"D:\installers\sqlsysclrtypes.msi", r"D:\installers\sqlsysclrtypes.msi"),
    (r"\\files\installers\x.msi", r"\\files\installers\x.msi"),
])
def test_prerequisite_paths(path, expected):
    assert value("__dynamics_prerequisite_path", __dynamics_prerequisite={"path": path}) == expected


# --- the checklist and the fact ------------------------------------------------------------

def record_tasks():
    return harness.load_tasks(ROLE, "record.yml")


def test_manual_steps_are_templated_for_the_host():
    steps = value("dynamics_manual_steps", dynamics_instance="ACME", dynamics_web_port=8081)
    assert len(steps) == 3
    assert "Import-NAVServerLicense -ServerInstance ACME" in steps[0]
    assert "MicrosoftDynamicsNavServer$ACME" in steps[0]
    assert "http://web01.corp.example.com:8081/ACME/" in steps[1]
    assert "New-NAVServerUser" in steps[2]


def test_the_fact_carries_the_checklist_and_no_secret():
    task = next(t for t in record_tasks() if "ansible.builtin.include_role" in t)
    assert task["vars"]["cmectl_win_fact_name"] == ROLE
    facts_template = task["vars"]["cmectl_win_fact_facts"]
    assert facts_template["manual_steps"] == "{{ dynamics_manual_steps }}"
    assert not any(s in yaml.safe_dump(facts_template) for s in SECRETS)
    facts = value("facts", facts=facts_template, dynamics_service_password=SERVICE_PASSWORD,
                  dynamics_media_password=MEDIA_PASSWORD)
    assert facts["manual_steps"] == value("dynamics_manual_steps")
    assert facts["service"] == "MicrosoftDynamicsNavServer$BC"
    assert facts["version"] == "24"
    assert facts["components"] == ["ServiceTier", "WebClient"]
    assert facts["ports"] == [7045, 7046, 7047, 7048, 7049, 8080]
    assert facts["web_client_url"] == "http://web01.corp.example.com:8080/BC/"
    assert facts["database"] == "ACME-BC" and facts["sql_instance"] is None
    assert facts["firewall_ports"] == [7046, 7047, 7048, 8080]
    assert SERVICE_PASSWORD not in str(facts) and MEDIA_PASSWORD not in str(facts)


def test_the_checklist_is_printed_last():
    last = record_tasks()[-1]
    assert "ansible.builtin.debug" in last
    msg = value(last["ansible.builtin.debug"]["msg"].strip().removeprefix("{{")
                .removesuffix("}}"), inventory_hostname="erp01")
    assert msg[0] == "Manual steps left on erp01 (also in the fulfilment record):"
    assert msg[1:] == value("dynamics_manual_steps", inventory_hostname="erp01")


# --- validate.yml ------------------------------------------------------------------------

def test_defaults_with_media_pass_validation():
    assert harness.failing_asserts(ROLE, "validate.yml", **MEDIA) == []


@pytest.mark.parametrize("change, failing_check", [
    ({"dynamics_version": "2024"}, "Check the version and the instance name"),
    ({"dynamics_instance": "BC 24"}, "Check the version and the instance name"),
    ({"dynamics_media_src": ""}, "Check the media"),
    ({"dynamics_media_src": r"\\files\media\dvd.iso"}, "Check the media"),
    ({"dynamics_media_checksum": ""}, "Check the media"),
    ({"dynamics_media_password": MEDIA_PASSWORD}, "Check the media"),
    ({"dynamics_components": {"ServiceTier": "Local", "WebClient": "Yes"}},
     "Check the components"),
    ({"dynamics_components": {"WebClient": "Local"}}, "Check the components"),
    ({"dynamics_database": ""}, "Check the database"),
    ({"dynamics_service_account": r"ACME\svc-bc"}, "Check the service account"),
    ({"dynamics_web_port": 7048}, "Check the ports"),
    ({"dynamics_client_port": 70000}, "Check the ports"),
    ({"dynamics_prerequisites": [{"name": "hosting bundle", "path": "x.exe"}]},
     "Check the prerequisites"),
])
def test_validate_refuses(change, failing_check):
    assert failing_check in harness.failing_asserts(ROLE, "validate.yml", **{**MEDIA, **change})


@pytest.mark.parametrize("change", [
    {"dynamics_service_account": "NT AUTHORITY\\LOCAL SERVICE"},
    {"dynamics_service_account": "LocalSystem"},
    {"dynamics_service_account": r"ACME\svc-bc", "dynamics_service_password": SERVICE_PASSWORD},
    {"dynamics_database": "", "dynamics_components": {"ServiceTier": "Local",
                                                      "SQLDemoDatabase": "Local"}},
    {"dynamics_prerequisites": [{"name": "x", "path": "x.msi", "product_id": "{GUID}"}]},
])
def test_validate_accepts(change):
    assert harness.failing_asserts(ROLE, "validate.yml", **{**MEDIA, **change}) == []


def test_removal_needs_no_media():
    assert harness.failing_asserts(ROLE, "validate.yml", dynamics_state="absent") == []


# --- argument specs, through cmectl's own validation -------------------------------------

@pytest.mark.parametrize("raw, message", [
    ({"dynamics_state": "latest"}, "dynamics_state"),
    ({"dynamics_web_port": "http"}, "dynamics_web_port"),
    ({"dynamics_components": ["ServiceTier"]}, "dynamics_components"),
    ({"dynamics_prerequisites": [{"name": "x"}]}, "path"),
    ({"dynamics_prerequisites": [{"path": "x.exe"}]}, "name"),
    ({"dynamics_manual_steps": {"a": "b"}}, "dynamics_manual_steps"),
    ({"dynamics_keep_media": "sometimes"}, "dynamics_keep_media"),
    ({"dynamics_databse": "x"}, "did you mean dynamics_database"),
])
def test_argument_specs_refuse_wrong_input(raw, message):
    with pytest.raises(VariableError) as err:
        check(raw)
    assert message in str(err.value)


def test_passwords_are_secrets():
    checked = check({"dynamics_service_password": SERVICE_PASSWORD,
                     "dynamics_media_password": MEDIA_PASSWORD, **MEDIA})
    assert set(SECRETS) <= checked.secret_names
    assert SERVICE_PASSWORD not in str(checked.redacted())
    assert MEDIA_PASSWORD not in str(checked.redacted())


def test_verify_takes_the_install_variables():
    check({**MEDIA, "dynamics_instance": "ACME", "dynamics_odata_port": 7148}, entry_point="verify")


# --- secrets stay out of logs and files --------------------------------------------------

def test_every_task_handling_a_password_has_no_log():
    assert harness.tasks_leaking(ROLE, [*SECRETS, "__dynamics_setup_parameters"]) == []


def test_the_setup_configuration_is_private_unlogged_and_deleted():
    install = harness.load_tasks(ROLE, "install.yml")
    run = next(t for t in install if t.get("name") == "Run setup from the customer's media")
    write = next(t for t in run["block"] if "ansible.windows.win_template" in t)
    assert write["no_log"] is True and write["ansible.windows.win_template"]["src"] == CONFIG
    assert run["always"][0]["ansible.windows.win_file"] == {"path": "{{ __dynamics_config }}",
                                                           "state": "absent"}
    private = next(t for t in install if t.get("name") == "Create the private staging directory")
    assert private["ansible.builtin.include_role"]["tasks_from"] == "private_dir"
    assert install.index(private) < install.index(run)
    setup = next(t for t in run["block"] if "ansible.windows.win_command" in t)
    argv = setup["ansible.windows.win_command"]["argv"]
    assert argv[1:4] == ["/config", "{{ __dynamics_config }}", "/quiet"]
    assert not any(s in yaml.safe_dump(argv) for s in SECRETS)


def test_media_are_staged_with_the_shared_building_block():
    install = harness.load_tasks(ROLE, "install.yml")
    run = next(t for t in install if t.get("name") == "Run setup from the customer's media")
    stage = run["block"][0]
    assert stage["ansible.builtin.include_role"] == {"name": "cmectl_win_media"}
    assert stage["vars"]["cmectl_win_media_checksum"] == "{{ dynamics_media_checksum }}"
    assert stage["vars"]["cmectl_win_media_unpack_to"] == "{{ __dynamics_media_dir }}"


def test_ansible_checks_the_arguments_at_run_time(tmp_path):
    first = harness.first_failures(tmp_path, ROLE, [
        ("main", MEDIA), ("verify", MEDIA),
        ("main", {**MEDIA, "dynamics_prerequisites": [
            {"name": "hosting bundle", "path": "x.exe", "creates_path": r"C:\x"}]}),
        ("main", {**MEDIA, "dynamics_prerequisites": [{"name": "no path"}]})])
    assert first[0] == "Gather the minimal facts the role relies on"
    assert first[1] == "Read the state of the server instance"
    assert first[2] == "Gather the minimal facts the role relies on"
    assert first[3].startswith("Validating arguments against arg spec 'main'")


# --- every module name resolves in the installed collections -------------------------------

def test_syntax_check(tmp_path):
    plays = harness.every_task_file(ROLE, {"__dynamics_reboot_for": "tests"})
    proc = harness.syntax_check(tmp_path, plays)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_platforms_are_the_catalogues():
    meta = yaml.safe_load((harness.ROLES / ROLE / "meta" / "main.yml").read_text())
    assert meta["galaxy_info"]["platforms"] == [{"name": "Windows", "versions": ["2019", "2022"]}]
    assert load_catalogue(harness.ROOT).get("dynamics").platforms == {"Windows": ["2019", "2022"]}
