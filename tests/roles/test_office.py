"""The office role up to the Windows host and the Office media it cannot get here.

No Windows host and no Office media can be obtained, so setup.exe never runs: these tests render
the Office Deployment Tool configurations the role would hand it and parse them as XML, check
when the role decides to run setup, its validate rules, the argument specs through cmectl's own
validation, that product keys stay in the one file that needs them (and out of logs and the
fact), how the shared media step reads its inputs, and that every task file parses with the
installed collections.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import yaml

from cmectl.catalog import load_catalogue
from cmectl.errors import VariableError
from tests.roles import harness

ROLE = "office"
CONFIG = "ProgramData/cmectl/office/configuration.xml.j2"
REMOVE = "ProgramData/cmectl/office/remove.xml.j2"
KEY = "ABCDE-FGHIJ-KLMNO-PQRST-23456"
VISIO_KEY = "VVVVV-22222-33333-44444-55555"
SHARE_PASSWORD = "Sh4re-S3cret!"
SECRETS = ["office_pidkeys", "office_source_password"]
MEDIA = {"office_odt_src": r"\\files.acme.example\media\office\setup.exe",
         "office_odt_checksum": "sha256:" + "ab" * 32,
         "office_source_path": r"\\files.acme.example\media\office\ltsc2024"}
C2R = {"exists": True, "properties": {
    "ProductReleaseIds": {"value": "ProPlus2024Volume"},
    "Platform": {"value": "x64"}, "VersionToReport": {"value": "16.0.17932.20162"},
    "InstallationPath": {"value": r"C:\Program Files\Microsoft Office"}}}


def value(expression: str, **overrides):
    return harness.evaluate(ROLE, expression, **{**MEDIA, **overrides})


def render(template: str, **overrides) -> ET.Element:
    text = harness.render_template(ROLE, template, **{**MEDIA, **overrides})
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>\n<!--')
    return ET.fromstring(text.encode("utf-8"))


def check(raw: dict, entry_point: str = "main"):
    return harness.check_package("office", raw, entry_point)


# --- configuration.xml -------------------------------------------------------------------

def test_default_configuration():
    root = render(CONFIG)
    assert root.tag == "Configuration"
    add = root.find("Add")
    assert add.attrib == {"OfficeClientEdition": "64", "Channel": "PerpetualVL2024",
                          "SourcePath": MEDIA["office_source_path"],
                          "AllowCdnFallback": "FALSE"}
    products = add.findall("Product")
    assert [p.get("ID") for p in products] == ["ProPlus2024Volume"]
    assert "PIDKEY" not in products[0].attrib
    assert [lang.get("ID") for lang in products[0].findall("Language")] == ["en-us"]
    assert [a.get("ID") for a in products[0].findall("ExcludeApp")] == ["Groove", "Lync",
                                                                       "OneDrive"]
    props = {p.get("Name"): p.get("Value") for p in root.findall("Property")}
    assert props == {"SharedComputerLicensing": "0", "FORCEAPPSHUTDOWN": "TRUE"}
    assert root.find("Updates").attrib == {"Enabled": "FALSE"}
    assert root.find("RemoveMSI") is not None
    assert root.find("Display").attrib == {"Level": "None", "AcceptEULA": "TRUE"}
    assert root.find("Logging").attrib == {"Level": "Standard",
                                           "Path": r"C:\ProgramData\cmectl\office\logs"}


def test_configuration_with_keys_languages_and_options():
    root = render(CONFIG, office_products=["ProPlus2024Volume", "VisioPro2024Volume"],
                  office_pidkeys={"ProPlus2024Volume": KEY.lower()},
                  office_languages=["zh-CN", "en-us"], office_exclude_apps=["Teams"],
                  office_edition="32", office_auto_activate=True,
                  office_shared_computer_licensing=True, office_remove_msi=False,
                  office_force_app_shutdown=False, office_updates_enabled=True,
                  office_update_path=r"\\files\office\updates",
                  office_staging_dir=r"D:\stage\office")
    add = root.find("Add")
    assert add.get("OfficeClientEdition") == "32"
    proplus, visio = add.findall("Product")
    assert proplus.get("PIDKEY") == KEY  # upper-cased
    assert "PIDKEY" not in visio.attrib
    for product in (proplus, visio):
        assert [lang.get("ID") for lang in product.findall("Language")] == ["zh-cn", "en-us"]
        assert [a.get("ID") for a in product.findall("ExcludeApp")] == ["Teams"]
    props = {p.get("Name"): p.get("Value") for p in root.findall("Property")}
    assert props == {"SharedComputerLicensing": "1", "FORCEAPPSHUTDOWN": "FALSE",
                     "AUTOACTIVATE": "1"}
    assert root.find("Updates").attrib == {"Enabled": "TRUE", "Channel": "PerpetualVL2024",
                                           "UpdatePath": r"\\files\office\updates"}
    assert root.find("RemoveMSI") is None
    assert root.find("Logging").get("Path") == r"D:\stage\office\logs"


def test_paths_with_xml_special_characters_are_escaped():
    root = render(CONFIG, office_source_path=r'\\files\R&D "office"')
    assert root.find("Add").get("SourcePath") == r'\\files\R&D "office"'


def test_a_key_appears_only_in_the_configuration_of_its_product():
    text = harness.render_template(ROLE, CONFIG, **MEDIA, office_pidkeys={"ProPlus2024Volume": KEY},
                           office_products=["ProPlus2024Volume", "VisioPro2024Volume"])
    assert text.count(KEY) == 1


# --- remove.xml --------------------------------------------------------------------------

def test_removal_configuration_lists_what_this_role_installed():
    root = render(REMOVE, __office_c2r={"exists": True, "properties": {"ProductReleaseIds": {
        "value": "ProPlus2024Volume,VisioPro2024Volume,ProjectPro2024Volume"}}},
        cmectl_win_fact_current={"products": ["VisioPro2024Volume"]},
        office_pidkeys={"ProPlus2024Volume": KEY})
    assert [p.get("ID") for p in root.find("Remove").findall("Product")] == [
        "ProPlus2024Volume", "VisioPro2024Volume"]  # ProjectPro was not ours
    assert root.find("Display").attrib == {"Level": "None", "AcceptEULA": "TRUE"}
    assert KEY not in ET.tostring(root, encoding="unicode")
    assert all(not p.attrib.keys() - {"ID"} for p in root.iter("Product"))


# --- when setup runs ---------------------------------------------------------------------

SETTINGS = {"products": ["ProPlus2024Volume"], "channel": "PerpetualVL2024", "edition": "64",
            "languages": ["en-us"], "exclude_apps": ["Groove", "Lync", "OneDrive"],
            "shared_computer_licensing": False, "updates_enabled": False}
RECORDED = {**SETTINGS, "version": "16.0.17932.20162", "package": "office",
            "request_id": "SR-1"}


@pytest.mark.parametrize("c2r, recorded, overrides, needed", [
    ({"exists": False}, {}, {}, True),
    (C2R, {}, {}, True),                      # installed by someone else: apply our settings
    (C2R, RECORDED, {}, False),               # nothing to do: changed=0
    (C2R, RECORDED, {"office_languages": ["en-us", "zh-cn"]}, True),
    (C2R, RECORDED, {"office_exclude_apps": ["Groove"]}, True),
    (C2R, RECORDED, {"office_products": ["ProPlus2024Volume", "VisioPro2024Volume"]}, True),
    (C2R, {**RECORDED, "channel": "PerpetualVL2021"}, {}, True),
    (C2R, RECORDED, {"office_exclude_apps": ["OneDrive", "Lync", "Groove"]}, False),  # order
    (C2R, RECORDED, {"office_languages": ["EN-US"]}, False),
])
def test_setup_runs_only_when_needed(c2r, recorded, overrides, needed):
    assert value("__office_setup_needed", __office_c2r=c2r, cmectl_win_fact_current=recorded,
                 **overrides) is needed


def test_settings_are_what_the_fact_records():
    assert value("__office_settings") == SETTINGS
    record = harness.load_tasks(ROLE, "record.yml")[0]
    facts = value(record["vars"]["cmectl_win_fact_facts"].strip().removeprefix("{{")
                  .removesuffix("}}"), __office_c2r=C2R,
                  office_pidkeys={"ProPlus2024Volume": KEY})
    assert {k: facts[k] for k in SETTINGS} == SETTINGS
    assert facts["version"] == "16.0.17932.20162"
    assert facts["platform"] == "x64"
    assert facts["installed_products"] == ["ProPlus2024Volume"]
    assert facts["licensed_with_key"] == ["ProPlus2024Volume"]
    assert KEY not in str(facts)
    assert record["vars"]["cmectl_win_fact_name"] == ROLE


# --- validate.yml ------------------------------------------------------------------------

def test_defaults_with_media_pass_validation():
    assert harness.failing_asserts(ROLE, "validate.yml", **MEDIA) == []


@pytest.mark.parametrize("change, failing_check", [
    ({"office_odt_src": ""}, "Check the media"),
    ({"office_odt_checksum": ""}, "Check the media"),
    ({"office_source_path": ""}, "Check the media"),
    ({"office_source_password": SHARE_PASSWORD}, "Check the media"),
    ({"office_products": []}, "Check the product IDs"),
    ({"office_products": ["Office 2024"]}, "Check the product IDs"),
    ({"office_products": ["ProPlus2024Volume", "ProPlus2024Volume"]}, "Check the product IDs"),
    ({"office_products": ["ProPlus2021Volume"]}, "Check that the channel fits the products"),
    ({"office_products": ["ProPlus2024Volume", "VisioPro2021Volume"]},
     "Check that the channel fits the products"),
    ({"office_products": ["O365ProPlusRetail"]}, "Check that the channel fits the products"),
    ({"office_channel": "MonthlyEnterprise"}, "Check that the channel fits the products"),
    ({"office_languages": []}, "Check the languages"),
    ({"office_languages": ["english"]}, "Check the languages"),
    ({"office_pidkeys": {"VisioPro2024Volume": KEY}}, "Check the product keys"),
    ({"office_pidkeys": {"ProPlus2024Volume": "12345"}}, "Check the product keys"),
])
def test_validate_refuses(change, failing_check):
    assert failing_check in harness.failing_asserts(ROLE, "validate.yml", **{**MEDIA, **change})


@pytest.mark.parametrize("products, channel", [
    (["O365ProPlusRetail", "VisioProRetail"], "MonthlyEnterprise"),
    (["ProPlus2021Volume", "VisioStd2021Volume"], "PerpetualVL2021"),
    (["ProPlus2019Volume"], "PerpetualVL2019"),
])
def test_channels_that_fit(products, channel):
    assert harness.failing_asserts(ROLE, "validate.yml", **MEDIA, office_products=products,
                           office_channel=channel, office_languages=["zh-cn", "MatchOS"],
                           office_pidkeys={products[0]: KEY.lower()}) == []


def test_removal_needs_no_media_variables():
    assert harness.failing_asserts(ROLE, "validate.yml", office_state="absent") == []


# --- argument specs, through cmectl's own validation -------------------------------------

@pytest.mark.parametrize("raw, message", [
    ({"office_state": "latest"}, "office_state"),
    ({"office_channel": "Monthly"}, "office_channel"),
    ({"office_edition": "86"}, "office_edition"),
    ({"office_exclude_apps": ["Word", "Solitaire"]}, "office_exclude_apps"),
    ({"office_pidkeys": [KEY]}, "office_pidkeys"),
    ({"office_auto_activate": "later"}, "office_auto_activate"),
    ({"office_product": ["ProPlus2024Volume"]}, "did you mean office_products"),
])
def test_argument_specs_refuse_wrong_input(raw, message):
    with pytest.raises(VariableError) as err:
        check(raw)
    assert message in str(err.value)
    assert KEY not in str(err.value)


def test_keys_and_password_are_secrets():
    checked = check({"office_pidkeys": {"ProPlus2024Volume": KEY},
                     "office_source_password": SHARE_PASSWORD, **MEDIA})
    assert set(SECRETS) <= checked.secret_names
    assert KEY not in str(checked.redacted()) and SHARE_PASSWORD not in str(checked.redacted())


def test_verify_takes_the_install_variables():
    check({**MEDIA, "office_products": ["ProPlus2024Volume"]}, entry_point="verify")


# --- keys and passwords stay out of logs and files ---------------------------------------

def test_every_task_handling_a_key_or_password_has_no_log():
    assert harness.tasks_leaking(ROLE, SECRETS) == []


def test_the_configuration_with_keys_is_private_unlogged_and_deleted():
    install = harness.load_tasks(ROLE, "install.yml")
    run = next(t for t in install if t.get("name") == "Run the Office Deployment Tool")
    write = next(t for t in run["block"] if "ansible.windows.win_template" in t)
    assert write["no_log"] is True
    assert write["ansible.windows.win_template"]["src"] == CONFIG
    delete = run["always"][0]["ansible.windows.win_file"]
    assert delete == {"path": "{{ __office_configuration }}", "state": "absent"}
    assert value("__office_configuration") == r"C:\ProgramData\cmectl\office\configuration.xml"
    private = next(t for t in install if t.get("name") == "Create the private staging directory")
    assert private["ansible.builtin.include_role"] == {"name": "cmectl_win_media",
                                                       "tasks_from": "private_dir"}
    assert private["vars"]["cmectl_win_media_private_dir"] == "{{ office_staging_dir }}"
    # the private directory comes before anything is written into it
    assert install.index(private) < install.index(run)


# --- the shared media step (cmectl_win_media) --------------------------------------------

@pytest.mark.parametrize("src, kind", [
    ("https://files.acme.example/office/setup.exe", "http"),
    ("HTTP://files/office/setup.exe", "http"),
    (r"\\files.acme.example\media\setup.exe", "unc"),
    (r"C:\media\setup.exe", "local"),
    ("files/setup.exe", "unknown"),
    (r"\\files", "unknown"),
    ("ftp://files/setup.exe", "unknown"),
])
def test_media_sources(src, kind):
    assert harness.evaluate("cmectl_win_media", "__cmectl_win_media_kind",
                    cmectl_win_media_src=src) == kind


def test_media_checksums():
    got = harness.evaluate("cmectl_win_media",
                           "[__cmectl_win_media_algorithm, __cmectl_win_media_digest]",
                           cmectl_win_media_checksum="SHA256:" + "AB" * 32)
    assert got == ["sha256", "ab" * 32]
    lengths = harness.evaluate("cmectl_win_media", "__cmectl_win_media_digest_lengths")
    assert lengths["sha256"] == 64 and lengths["sha512"] == 128


def test_media_password_is_a_secret_and_never_logged():
    assert harness.tasks_leaking("cmectl_win_media", ["cmectl_win_media_password"]) == []
    specs = yaml.safe_load((harness.ROLES / "cmectl_win_media/meta/argument_specs.yml").read_text())
    assert specs["argument_specs"]["main"]["options"]["cmectl_win_media_password"]["no_log"]


def test_ansible_checks_the_arguments_at_run_time(tmp_path):
    first = harness.first_failures(tmp_path, ROLE, [
        ("main", MEDIA), ("verify", MEDIA),
        ("main", {**MEDIA, "office_pidkeys": {"ProPlus2024Volume": KEY}}),
        ("main", {**MEDIA, "office_exclude_apps": ["Solitaire"]})])
    assert first[0] == "Gather the minimal facts the role relies on"
    assert first[1] == "Read the installed Click-to-Run products"
    assert first[2] == "Gather the minimal facts the role relies on"
    assert first[3].startswith("Validating arguments against arg spec 'main'")


# --- every module name resolves in the installed collections -------------------------------

def test_syntax_check(tmp_path):
    plays = harness.every_task_file(ROLE) + harness.every_task_file("cmectl_win_media")
    proc = harness.syntax_check(tmp_path, plays)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_platforms_are_the_catalogues():
    meta = yaml.safe_load((harness.ROLES / ROLE / "meta" / "main.yml").read_text())
    assert meta["galaxy_info"]["platforms"] == [{"name": "Windows", "versions": ["2019", "2022"]}]
    assert load_catalogue(harness.ROOT).get("office").platforms == {"Windows": ["2019", "2022"]}
