"""The iis role up to the Windows host it cannot reach here.

No Windows host can be obtained, so IIS never runs: these tests check what the role would hand
the modules (bindings, pool attributes), its validate rules, the argument specs through cmectl's
own validation, the index page, that secrets stay out of the log and the fact, and that every
task file parses with the installed collections (ansible.windows, community.windows,
microsoft.iis).
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
import yaml

from cmectl.catalog import load_catalogue
from cmectl.errors import VariableError
from tests.roles import harness

ROLE = "iis"
THUMB = "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678"
PFX_B64 = "MIIKAQIBAzCCCccGCSqGSIb3DQEHAaCCCbgEggm0MIIJsDCCBGcGCSqGSIb3DQEHBqCCBFgw"
PFX_PASSWORD = "Pfx-S3cret!"
POOL_PASSWORD = "P00l-S3cret!"
SECRETS = ["iis_tls_pfx", "iis_tls_pfx_password", "iis_app_pool_passwords",
           "__iis_pool_attributes"]

HTTPS_SITES = [
    {"name": "shop", "physical_path": r"D:\sites\shop", "app_pool": "shop",
     "bindings": [{"protocol": "http", "port": 80, "hostname": "www.acme.example"},
                  {"protocol": "https", "port": 443, "hostname": "www.acme.example",
                   "use_sni": True}]},
    {"name": "intranet", "physical_path": r"D:\sites\intranet", "app_pool": "intranet",
     "state": "stopped",
     "bindings": [{"protocol": "http", "port": 8080},
                  {"protocol": "https", "port": 8443, "certificate_hash": THUMB.lower()}]},
]
POOLS = [{"name": "shop", "runtime": ""},
         {"name": "intranet", "identity": "SpecificUser", "username": r"ACME\svc-intranet"}]
HTTPS = {"iis_sites": HTTPS_SITES, "iis_app_pools": POOLS,
         "iis_app_pool_passwords": {"intranet": POOL_PASSWORD},
         "iis_tls_pfx": PFX_B64, "iis_tls_pfx_password": PFX_PASSWORD}


def value(expression: str, **overrides):
    return harness.evaluate(ROLE, expression, **overrides)


def check(raw: dict, entry_point: str = "main"):
    return harness.check_package("iis", raw, entry_point)


# --- derived values --------------------------------------------------------------------------

def test_default_installation_is_one_site_on_port_80():
    bindings = value("__iis_bindings")
    assert bindings == [{"site": "cmectl", "started": True, "protocol": "http", "port": 80,
                         "ip": "*", "hostname": "", "use_sni": False, "certificate_hash": ""}]
    assert value("__iis_ports") == [80]
    assert value("__iis_pfx_needed") is False
    assert value("iis_sites[0].physical_path") == r"C:\inetpub\cmectl"
    assert "Web-Server" in value("iis_features")


def test_bindings_are_flattened_with_their_defaults():
    bindings = value("__iis_bindings", **HTTPS)
    assert [(b["site"], b["protocol"], b["port"], b["hostname"]) for b in bindings] == [
        ("shop", "http", 80, "www.acme.example"), ("shop", "https", 443, "www.acme.example"),
        ("intranet", "http", 8080, ""), ("intranet", "https", 8443, "")]
    assert all(b["ip"] == "*" for b in bindings)
    assert bindings[3]["certificate_hash"] == THUMB  # upper-cased like IIS reports it
    assert [b["started"] for b in bindings] == [True, True, False, False]
    assert value("__iis_ports", **HTTPS) == [80, 443, 8080, 8443]
    assert value("__iis_listen_addresses", **HTTPS) == [["*", 80], ["*", 443]]


def test_only_https_bindings_without_their_own_thumbprint_need_the_pfx():
    assert value("__iis_pfx_needed", **HTTPS) is True
    own_only = [{**HTTPS_SITES[1], "app_pool": "shop"}]
    assert value("__iis_pfx_needed", iis_sites=own_only, iis_app_pools=POOLS) is False
    assert value("__iis_https_enabled", iis_sites=own_only) is True


def test_site_bindings_as_the_website_module_gets_them():
    shop = value("__iis_site_bindings", __iis_site=HTTPS_SITES[0], __iis_tls_thumbprint=THUMB,
                 **HTTPS)
    assert shop == [
        {"protocol": "http", "port": 80, "ip": "*", "hostname": "www.acme.example"},
        {"protocol": "https", "port": 443, "ip": "*", "hostname": "www.acme.example",
         "use_sni": True, "certificate_store_name": "My", "certificate_hash": THUMB}]
    # A binding with its own thumbprint keeps it; no PFX thumbprint is needed for it.
    intranet = value("__iis_site_bindings", __iis_site=HTTPS_SITES[1], **HTTPS)
    assert intranet[1]["certificate_hash"] == THUMB
    # The module matches bindings by "ip:port:hostname": both are always given, so a second
    # run finds the binding it made.
    assert all("ip" in b and "hostname" in b for b in shop + intranet)


def test_pool_attributes():
    shop = value("__iis_pool_attributes", __iis_pool=POOLS[0], **HTTPS)
    assert shop == {"managedRuntimeVersion": "", "managedPipelineMode": "Integrated",
                    "processModel.identityType": "ApplicationPoolIdentity"}
    intranet = value("__iis_pool_attributes", __iis_pool=POOLS[1], **HTTPS)
    assert intranet["processModel.identityType"] == "SpecificUser"
    assert intranet["processModel.userName"] == r"ACME\svc-intranet"
    assert intranet["processModel.password"] == POOL_PASSWORD
    extra = value("__iis_pool_attributes",
                  __iis_pool={"name": "x", "attributes": {"autoStart": False}})
    assert extra["autoStart"] is False and extra["managedRuntimeVersion"] == "v4.0"


def test_pfx_text_is_recognised_as_base64():
    assert value("__iis_pfx_is_base64", iis_tls_pfx=PFX_B64 + "==\n" + PFX_B64[:8]) is False
    assert value("__iis_pfx_is_base64", iis_tls_pfx=PFX_B64[:40] + "\n" + PFX_B64[40:]) is True
    assert value("__iis_pfx_is_base64", iis_tls_pfx="-----BEGIN CERTIFICATE-----") is False


def test_paths_on_the_host():
    assert value("__iis_pfx_path") == r"C:\ProgramData\cmectl\iis\server.pfx"
    assert value("__iis_pfx_b64_path", iis_staging_dir=r"D:\stage") == r"D:\stage\server.pfx.b64"


# --- validate.yml ------------------------------------------------------------------------

@pytest.mark.parametrize("build, ok", [("10.0.20348.0", True), ("10.0.17763.5329", True),
                                       ("10.0.14393.0", False), ("6.3.9600.0", False)])
def test_platform_check_by_build_number(build, ok):
    failed = harness.failing_asserts(ROLE, "validate.yml",
                             ansible_facts={"distribution_version": build})
    assert ("Check that the platform is supported" in failed) is not ok


def test_linux_hosts_are_refused():
    failed = harness.failing_asserts(ROLE, "validate.yml", ansible_facts={
        "os_family": "Debian", "distribution": "Debian", "distribution_version": "12.5"})
    assert failed == ["Check that the platform is supported"]


def test_defaults_and_a_full_https_setup_pass_validation():
    assert harness.failing_asserts(ROLE, "validate.yml") == []
    assert harness.failing_asserts(ROLE, "validate.yml", **HTTPS) == []


@pytest.mark.parametrize("change, failing", [
    ({"iis_features": ["Web-Static-Content"]}, "Check that the features include the web server"),
    ({"iis_app_pool_passwords": {}}, "Check the application pools"),
    ({"iis_app_pool_passwords": {"intranet": "x", "typo": "y"}}, "Check the application pools"),
    ({"iis_app_pools": [{"name": "shop"}, {"name": "shop"}]}, "Check the application pools"),
    ({"iis_sites": [{**HTTPS_SITES[0], "app_pool": "missing"}]}, "Check each site"),
    ({"iis_sites": [{**HTTPS_SITES[0], "physical_path": "sites/shop"}]}, "Check each site"),
    ({"iis_sites": [{**HTTPS_SITES[0], "bindings": []}]}, "Check each site"),
    ({"iis_sites": []}, "Check that iis_sites is not empty and its names are unique"),
    ({"iis_sites": [HTTPS_SITES[0], HTTPS_SITES[0]]},
     "Check that iis_sites is not empty and its names are unique"),
    ({"iis_sites": [{**HTTPS_SITES[0], "bindings": [{"protocol": "https", "port": 443,
                                                     "use_sni": True}]}]}, "Check each binding"),
    ({"iis_sites": [{**HTTPS_SITES[0], "bindings": [{"protocol": "http", "port": 80,
                                                     "certificate_hash": THUMB}]}]},
     "Check each binding"),
    ({"iis_sites": [{**HTTPS_SITES[0], "bindings": [{"protocol": "https", "port": 443,
                                                     "certificate_hash": "abc"}]}]},
     "Check each binding"),
    ({"iis_sites": [{**HTTPS_SITES[0], "bindings": [{"protocol": "http", "port": 70000}]}]},
     "Check each binding"),
    ({"iis_sites": [HTTPS_SITES[0], {**HTTPS_SITES[1], "bindings": [
        {"protocol": "http", "port": 80, "hostname": "www.acme.example"}]}]},
     "Check that no two bindings take the same address, port and host name"),
    ({"iis_remove_default_site": False, "iis_sites": [{**HTTPS_SITES[1], "app_pool": "shop",
                                                        "bindings": [{"port": 80}]}]},
     "Check that the Default Web Site does not hold a binding's address"),
    ({"iis_tls_pfx": ""}, "Check that the HTTPS bindings have a certificate, given one way only"),
    ({"iis_tls_pfx_file": "/etc/hostname"},
     "Check that the HTTPS bindings have a certificate, given one way only"),
    ({"iis_tls_pfx": "", "iis_tls_pfx_file": "/nonexistent/acme.pfx"},
     "Check that the PFX file exists on the controller"),
    ({"iis_tls_pfx": "not base64!"}, "Check that the PFX text is base64"),
])
def test_validate_refuses(change, failing):
    assert failing in harness.failing_asserts(ROLE, "validate.yml", **{**HTTPS, **change})


def test_absent_skips_the_input_checks():
    assert harness.failing_asserts(ROLE, "validate.yml", iis_state="absent", iis_sites=[],
                           iis_features=[]) == []


# --- argument specs, through cmectl's own validation -------------------------------------

@pytest.mark.parametrize("raw, message", [
    ({"iis_state": "latest"}, "iis_state"),
    ({"iis_features": "Web-Server"}, None),  # a string becomes a one-element list: accepted
    ({"iis_app_pools": [{"name": "a", "identity": "Admin"}]}, "identity"),
    ({"iis_app_pools": [{"name": "a", "runtime": "v5.0"}]}, "runtime"),
    ({"iis_app_pools": [{"identity": "NetworkService"}]}, "name"),
    ({"iis_sites": [{"name": "a", "physical_path": r"C:\a", "app_pool": "a",
                     "bindings": [{"protocol": "ftp", "port": 21}]}]}, "protocol"),
    ({"iis_sites": [{"name": "a", "physical_path": r"C:\a", "app_pool": "a",
                     "bindings": [{"protocol": "http"}]}]}, "port"),
    ({"iis_sites": [{"name": "a", "physical_path": r"C:\a", "app_pool": "a",
                     "bindings": [{"port": "eighty"}]}]}, "port"),
    ({"iis_sites": [{"name": "a", "app_pool": "a", "bindings": []}]}, "physical_path"),
    ({"iis_firewall": "maybe"}, "iis_firewall"),
    ({"iis_site": []}, "did you mean iis_sites"),
])
def test_argument_specs_refuse_wrong_input(raw, message):
    if message is None:
        assert check(raw).values["iis_features"] == ["Web-Server"]
        return
    with pytest.raises(VariableError) as err:
        check(raw)
    assert message in str(err.value)


def test_secrets_are_marked_and_never_quoted():
    checked = check({"iis_tls_pfx": PFX_B64, "iis_tls_pfx_password": PFX_PASSWORD,
                     "iis_app_pool_passwords": {"intranet": POOL_PASSWORD}})
    assert {"iis_tls_pfx", "iis_tls_pfx_password", "iis_app_pool_passwords"} <= checked.secret_names
    redacted = checked.redacted()
    assert PFX_PASSWORD not in str(redacted) and POOL_PASSWORD not in str(redacted)
    with pytest.raises(VariableError) as err:
        check({"iis_app_pool_passwords": ["intranet", POOL_PASSWORD]})
    assert "iis_app_pool_passwords" in str(err.value)
    assert POOL_PASSWORD not in str(err.value)


def test_verify_takes_the_install_variables():
    check({"iis_sites": HTTPS_SITES, "iis_tls_pfx_file": "x.pfx"}, entry_point="verify")


# --- generated files ---------------------------------------------------------------------

def test_index_page():
    html = harness.render_template(ROLE, "inetpub/cmectl/index.html.j2", inventory_hostname="WEB01")
    assert html.startswith("<!DOCTYPE html>\n<!--")
    assert "Managed by cmectl" in html
    assert "<h1>WEB01</h1>" in html
    HTMLParser().feed(html)


# --- secrets stay out of the log and the fact --------------------------------------------

def test_every_task_handling_a_secret_has_no_log():
    assert harness.tasks_leaking(ROLE, SECRETS) == []


def test_the_fact_holds_no_secret():
    record = harness.load_tasks(ROLE, "record.yml")
    facts = next(t for t in record if "ansible.builtin.include_role" in t)["vars"]
    text = yaml.safe_dump(facts["cmectl_win_fact_facts"])
    assert not any(s in text for s in SECRETS)
    rendered = value("cmectl_win_fact_facts", __iis_version_reg={"value": "Version 10.0"},
                     __iis_tls_thumbprint=THUMB, __iis_tls_subject="CN=www.acme.example",
                     __iis_tls_not_after="2026-01-01T00:00:00Z",
                     cmectl_win_fact_facts=facts["cmectl_win_fact_facts"], **HTTPS)
    assert rendered["version"] == "10.0"
    assert rendered["tls_thumbprint"] == THUMB
    assert rendered["bindings"][1] == "shop:https:*:443:www.acme.example"
    assert rendered["ports"] == [80, 443, 8080, 8443]
    assert PFX_PASSWORD not in str(rendered) and POOL_PASSWORD not in str(rendered)
    assert PFX_B64 not in str(rendered)


def test_the_fact_name_is_the_role_name():
    for name in ("record.yml", "uninstall.yml", "configure.yml"):
        for task in harness.load_tasks(ROLE, name):
            if "ansible.builtin.include_role" in task:
                assert task["vars"]["cmectl_win_fact_name"] == ROLE


def test_ansible_checks_the_arguments_at_run_time(tmp_path):
    first = harness.first_failures(tmp_path, ROLE, [
        ("main", {}), ("verify", {}), ("main", HTTPS),
        ("main", {"iis_state": "latest"}),
        ("main", {"iis_sites": [{"name": "x", "app_pool": "cmectl", "bindings": []}]})])
    assert first[:3] == ["Gather the minimal facts the role relies on",
                         "Gather the minimal facts the checks rely on",
                         "Gather the minimal facts the role relies on"]
    assert all(f.startswith("Validating arguments against arg spec 'main'") for f in first[3:])


# --- every module name resolves in the installed collections -------------------------------

def test_syntax_check(tmp_path):
    proc = harness.syntax_check(tmp_path, harness.every_task_file(ROLE))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_platforms_are_the_catalogues():
    meta = yaml.safe_load((harness.ROLES / ROLE / "meta" / "main.yml").read_text())
    assert meta["galaxy_info"]["platforms"] == [{"name": "Windows", "versions": ["2019", "2022"]}]
    assert load_catalogue(harness.ROOT).get("iis").platforms == {"Windows": ["2019", "2022"]}
