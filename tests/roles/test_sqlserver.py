"""The sqlserver role up to the point where SQL Server itself is needed.

No Windows host, no SQL Server media and no route to packages.microsoft.com exist here, so the
role never converges. These tests check everything before that: the files it generates
(ConfigurationFile.ini for Windows setup, the RHEL and Ubuntu repository definitions) and its
derived values, that cmectl's own check of the argument_specs refuses wrong input, that the
role's front door (argument spec and validate.yml, run by ansible-playbook against stand-in
facts) accepts good input and refuses bad input with a clear message and never prints a secret,
and that every task file parses with the installed collections (ansible-playbook --syntax-check).
"""

from __future__ import annotations

import configparser
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

ROLE = "sqlserver"
SA_PASSWORD = "Str0ng!Passw0rd"
PRODUCT_KEY = "ABCDE-12345-FGHIJ-67890-KLMNO"
SERVICE_PASSWORD = "Svc-Acc0unt#pw"
SHARE_PASSWORD = "Sh4re-Reader!pw"
SECRETS = (SA_PASSWORD, PRODUCT_KEY, SERVICE_PASSWORD, SHARE_PASSWORD)
CHECKSUM = "sha256:" + "0123456789abcdef" * 4

WINDOWS = {"os_family": "Windows", "distribution": "Microsoft Windows Server 2022 Standard",
           "distribution_version": "10.0.20348.0", "distribution_major_version": "10",
           "memtotal_mb": 16384, "hostname": "sql01", "system": "Win32NT"}
RHEL9 = {"os_family": "RedHat", "distribution": "RedHat", "distribution_major_version": "9",
         "distribution_version": "9.4", "distribution_release": "Plow", "memtotal_mb": 8192,
         "hostname": "sql02", "system": "Linux"}
RHEL8 = {**RHEL9, "distribution_major_version": "8", "distribution_version": "8.10"}
JAMMY = {"os_family": "Debian", "distribution": "Ubuntu", "distribution_major_version": "22",
         "distribution_version": "22.04", "distribution_release": "jammy", "memtotal_mb": 4096,
         "hostname": "sql03", "system": "Linux"}
DEBIAN12 = {"os_family": "Debian", "distribution": "Debian", "distribution_major_version": "12",
            "distribution_version": "12.8", "distribution_release": "bookworm",
            "memtotal_mb": 4096, "hostname": "sql04", "system": "Linux"}

WINDOWS_VARS = {
    "sqlserver_accept_license_terms": True,
    "sqlserver_sa_password": SA_PASSWORD,
    "sqlserver_windows_media": r"\\files.acme.example\media\SQLServer2022-x64-ENU.iso",
    "sqlserver_windows_media_checksum": CHECKSUM,
    "sqlserver_windows_sysadmin_accounts": [r"ACME\SQL-DBAs"],
}
LINUX_VARS = {"sqlserver_accept_license_terms": True, "sqlserver_sa_password": SA_PASSWORD}


def render(template: str, facts: dict[str, Any] = WINDOWS, **overrides: Any) -> str:
    return render_role(ROLE, template, ansible_facts=facts, **overrides)


def value(expression: str, facts: dict[str, Any] = WINDOWS, **overrides: Any) -> Any:
    return role_value(ROLE, expression, ansible_facts=facts, **overrides)


INI = "cmectl/sqlserver/ConfigurationFile.ini.j2"


def ini(**overrides: Any) -> dict[str, str]:
    parser = configparser.ConfigParser(comment_prefixes=(";",), interpolation=None)
    parser.optionxform = str  # setup's keys are upper case
    parser.read_string(render(INI, **{**WINDOWS_VARS, **overrides}))
    assert parser.sections() == ["OPTIONS"]
    return dict(parser["OPTIONS"])


# ConfigurationFile.ini --------------------------------------------------------------------------

def test_configuration_file_for_the_default_instance():
    options = ini()
    assert options["ACTION"] == '"Install"'
    assert options["FEATURES"] == "SQLENGINE"
    assert options["INSTANCENAME"] == '"MSSQLSERVER"'
    assert options["INSTANCEID"] == '"MSSQLSERVER"'
    assert options["SQLSVCACCOUNT"] == r'"NT Service\MSSQLSERVER"'
    assert options["AGTSVCACCOUNT"] == r'"NT Service\SQLSERVERAGENT"'
    assert options["AGTSVCSTARTUPTYPE"] == '"Automatic"'
    assert options["SQLSYSADMINACCOUNTS"] == r'"ACME\SQL-DBAs"'
    assert options["SECURITYMODE"] == '"SQL"'
    assert options["TCPENABLED"] == '"1"'
    assert options["NPENABLED"] == '"0"'
    assert options["IACCEPTSQLSERVERLICENSETERMS"] == '"True"'
    assert options["SQLCOLLATION"] == '"SQL_Latin1_General_CP1_CI_AS"'
    assert options["BROWSERSVCSTARTUPTYPE"] == '"Disabled"'  # a default instance needs none
    assert options["UPDATEENABLED"] == '"False"'
    assert options["USESQLRECOMMENDEDMEMORYLIMITS"] == '"True"'
    assert "SQLMAXMEMORY" not in options and "INSTALLSQLDATADIR" not in options
    # /QS comes from the command line; QUIET in the file as well would make setup refuse both.
    assert not {"QUIET", "QUIETSIMPLE"} & set(options)


def test_configuration_file_for_a_named_instance():
    options = ini(sqlserver_windows_instance_name="SALES", sqlserver_agent_enabled=False,
                  sqlserver_max_memory_mb=12288, sqlserver_windows_data_dir=r"D:\SQLData",
                  sqlserver_windows_features=["SQLENGINE", "FULLTEXT", "fulltext"],
                  sqlserver_collation="Latin1_General_CI_AS",
                  sqlserver_windows_sysadmin_accounts=[r"ACME\SQL-DBAs", r"ACME\svc-backup"])
    assert options["INSTANCENAME"] == '"SALES"'
    assert options["SQLSVCACCOUNT"] == r'"NT Service\MSSQL$SALES"'
    assert options["AGTSVCACCOUNT"] == r'"NT Service\SQLAgent$SALES"'
    assert options["AGTSVCSTARTUPTYPE"] == '"Disabled"'
    assert options["BROWSERSVCSTARTUPTYPE"] == '"Automatic"'  # clients find named instances
    assert options["FEATURES"] == "SQLENGINE,FULLTEXT"
    assert options["SQLMAXMEMORY"] == '"12288"'
    assert "USESQLRECOMMENDEDMEMORYLIMITS" not in options
    assert options["INSTALLSQLDATADIR"] == r'"D:\SQLData"'
    assert options["SQLCOLLATION"] == '"Latin1_General_CI_AS"'
    assert options["SQLSYSADMINACCOUNTS"] == r'"ACME\SQL-DBAs" "ACME\svc-backup"'


def test_configuration_file_with_a_domain_service_account():
    options = ini(sqlserver_windows_service_account=r"ACME\svc-sql",
                  sqlserver_windows_service_password=SERVICE_PASSWORD)
    assert options["SQLSVCACCOUNT"] == r'"ACME\svc-sql"'
    assert "SQLSVCPASSWORD" not in options


def test_configuration_file_holds_no_secret():
    text = render(INI, **{**WINDOWS_VARS, "sqlserver_product_key": PRODUCT_KEY,
                          "sqlserver_windows_service_account": r"ACME\svc-sql",
                          "sqlserver_windows_service_password": SERVICE_PASSWORD,
                          "sqlserver_windows_media_username": r"ACME\media-reader",
                          "sqlserver_windows_media_password": SHARE_PASSWORD})
    for secret in SECRETS:
        assert secret not in text
    keys = {line.split("=", 1)[0] for line in text.splitlines() if "=" in line}
    assert not keys & {"SAPWD", "PID", "SQLSVCPASSWORD", "AGTSVCPASSWORD"}
    assert text.startswith(";")  # ansible_managed as an INI comment


def test_setup_secrets_go_to_the_command_line_of_a_no_log_task():
    tasks = yaml.safe_load((ROLES / ROLE / "tasks/install-Windows.yml").read_text())
    block = next(t for t in tasks if t["name"] == "Install the instance")["block"]
    setup = next(t for t in block if t["name"] == "Run SQL Server setup unattended")
    assert setup["no_log"] is True
    secret_args = setup["vars"]["__sqlserver_win_setup_secret_args"]
    for arg in ("/SAPWD=", "/PID=", "/SQLSVCPASSWORD="):
        assert arg in secret_args
    assert setup["vars"]["__sqlserver_win_setup_argv"][1:] == [
        "/ConfigurationFile={{ __sqlserver_win_config_file }}", "/QS"]


# Repository definitions (Linux) -----------------------------------------------------------------

@pytest.mark.parametrize("facts, version", [(RHEL8, "2019"), (RHEL8, "2022"), (RHEL9, "2022")])
def test_rhel_repository(facts, version):
    text = render("etc/yum.repos.d/microsoft-sqlserver.repo.j2", facts, family="RedHat",
                  sqlserver_version=version)
    major = facts["distribution_major_version"]
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    server = parser[f"packages-microsoft-com-mssql-server-{version}"]
    assert server["baseurl"] == f"https://packages.microsoft.com/rhel/{major}/mssql-server-{version}/"
    assert server["gpgcheck"] == "1"
    assert server["gpgkey"] == "file:///etc/pki/rpm-gpg/microsoft-sqlserver.asc"
    assert parser["packages-microsoft-com-prod"]["baseurl"] == \
        f"https://packages.microsoft.com/rhel/{major}/prod/"


def test_rhel_repository_from_a_mirror_without_tools():
    text = render("etc/yum.repos.d/microsoft-sqlserver.repo.j2", RHEL9, family="RedHat",
                  sqlserver_repo_base_url="https://mirror.acme.example/microsoft//",
                  sqlserver_install_tools=False)
    assert "baseurl=https://mirror.acme.example/microsoft/rhel/9/mssql-server-2022/" in text
    assert "packages.microsoft.com" not in text.split("\n", 3)[-1].replace(
        "packages.microsoft.com)", "")  # only the comment names the original
    assert "[packages-microsoft-com-prod]" not in text


def test_ubuntu_repository():
    text = render("etc/apt/sources.list.d/microsoft-sqlserver.sources.j2", JAMMY, family="Debian",
                  sqlserver_repo_base_url="http://mirror.acme.example/ms")
    stanzas = [s for s in text.split("\n\n") if "Types:" in s]
    assert len(stanzas) == 2
    fields = [dict(line.split(": ", 1) for line in s.splitlines() if not line.startswith("#"))
              for s in stanzas]
    assert fields[0]["URIs"] == "http://mirror.acme.example/ms/ubuntu/22.04/mssql-server-2022"
    assert fields[1]["URIs"] == "http://mirror.acme.example/ms/ubuntu/22.04/prod"
    for f in fields:
        assert f["Suites"] == "jammy" and f["Components"] == "main"
        assert f["Signed-By"] == "/etc/apt/keyrings/microsoft-sqlserver.asc"


# Derived values ----------------------------------------------------------------------------------

@pytest.mark.parametrize("password, classes, ok", [
    ("Str0ng!Passw0rd", 4, True),
    ("abcDEF12", 3, True),       # 8 characters, three classes
    ("abcdEFGH", 2, False),      # two classes only
    ("Ab1!", 4, False),          # too short
    ("password", 1, False),
    ("", 0, False),
    ("A1!" + "x" * 126, 4, False),  # 129 characters: too long
])
def test_sa_password_policy(password, classes, ok):
    assert value("__sqlserver_sa_password_classes", sqlserver_sa_password=password) == classes
    assert value("__sqlserver_sa_password_ok", sqlserver_sa_password=password) is ok


def test_edition_or_product_key_for_mssql_conf():
    assert value("__sqlserver_pid", RHEL9, family="RedHat") == "Developer"
    assert value("__sqlserver_pid", RHEL9, family="RedHat",
                 sqlserver_edition="Standard") == "Standard"
    assert value("__sqlserver_pid", RHEL9, family="RedHat",
                 sqlserver_product_key=PRODUCT_KEY) == PRODUCT_KEY


def test_mssql_conf_settings():
    settings = value("__sqlserver_mssql_conf", RHEL9, family="RedHat")
    assert settings == [
        {"section": "network", "option": "tcpport", "value": "1433"},
        {"section": "sqlagent", "option": "enabled", "value": "true"},
        {"section": "memory", "option": "memorylimitmb", "value": ""},  # SQL Server's default
    ]
    settings = value("__sqlserver_mssql_conf", RHEL9, family="RedHat", sqlserver_port=14330,
                     sqlserver_agent_enabled=False, sqlserver_max_memory_mb=6144)
    assert [s["value"] for s in settings] == ["14330", "false", "6144"]


def test_memory_limit_for_the_fact():
    assert value("__sqlserver_memory_limit_mb", RHEL9, family="RedHat") == 6553  # 80 % of 8192
    assert value("__sqlserver_memory_limit_mb", RHEL9, family="RedHat",
                 sqlserver_max_memory_mb=4096) == 4096


@pytest.mark.parametrize("instance, service, agent", [
    ("MSSQLSERVER", "MSSQLSERVER", "SQLSERVERAGENT"),
    ("mssqlserver", "MSSQLSERVER", "SQLSERVERAGENT"),
    ("SALES", "MSSQL$SALES", "SQLAgent$SALES"),
])
def test_windows_service_names(instance, service, agent):
    assert value("__sqlserver_win_service", sqlserver_windows_instance_name=instance) == service
    assert value("__sqlserver_win_agent_service",
                 sqlserver_windows_instance_name=instance) == agent


@pytest.mark.parametrize("media, name", [
    ("https://files.acme.example/sql/SQLServer2022-x64-ENU.iso?token=1",
     "SQLServer2022-x64-ENU.iso"),
    (r"\\files.acme.example\media\SQLServer2019-x64-ENU.iso", "SQLServer2019-x64-ENU.iso"),
    (r"D:\media\SQLServer2022.iso", "SQLServer2022.iso"),
])
def test_staged_media_file(media, name):
    assert value("__sqlserver_win_media_name", sqlserver_windows_media=media) == name
    assert value("__sqlserver_win_media_file", sqlserver_windows_media=media) == \
        "C:\\cmectl\\sqlserver\\" + name


@pytest.mark.parametrize("media, ok", [
    ("https://files.acme.example/sql/x.iso", True),
    (r"\\files\media\x.iso", True),
    (r"C:\media\x.iso", True),
    ("ftp://files/x.iso", False),
    ("files/x.iso", False),
    (r"\\files\x.iso", False),  # a share needs a server and a share name
])
def test_media_sources_the_role_accepts(media, ok):
    assert value("__media is match(__sqlserver_media_source_pattern)", __media=media) is ok


@pytest.mark.parametrize("major, path", [
    ("15", r"C:\Program Files\Microsoft SQL Server\150\Setup Bootstrap\SQL2019\setup.exe"),
    ("16", r"C:\Program Files\Microsoft SQL Server\160\Setup Bootstrap\SQL2022\setup.exe"),
])
def test_setup_used_to_uninstall(major, path):
    assert value("__sqlserver_win_bootstrap_setup", family="Windows",
                 __sqlserver_win_major=major) == path


def test_edition_names_in_the_registry_cover_every_edition():
    spec = yaml.safe_load((ROLES / ROLE / "meta/argument_specs.yml").read_text())
    editions = spec["argument_specs"]["main"]["options"]["sqlserver_edition"]["choices"]
    names = value("__sqlserver_win_edition_names")
    assert set(names) == set(editions)
    assert "Enterprise Edition: Core-based Licensing (64-bit)".startswith(names["EnterpriseCore"])
    assert "Developer Edition (64-bit)".startswith(names["Developer"])


def test_releases_per_distribution():
    releases = value("__sqlserver_linux_releases")
    assert releases["2019"] == {"RedHat": ["8"], "Debian": []}
    assert releases["2022"] == {"RedHat": ["8", "9"], "Debian": ["22"]}
    assert value("__sqlserver_windows_builds") == {"17763": "2019", "20348": "2022"}


# cmectl's check of the argument_specs -----------------------------------------------------------


@pytest.mark.parametrize("raw, message", [
    ({"sqlserver_version": "2017"}, "sqlserver_version"),
    ({"sqlserver_edition": "Home"}, "sqlserver_edition"),
    ({"sqlserver_state": "removed"}, "sqlserver_state"),
    ({"sqlserver_port": "fourteen"}, "sqlserver_port"),
    ({"sqlserver_windows_features": ["SQLENGINE", "SSIS"]}, "sqlserver_windows_features"),
    ({"sqlserver_windows_firewall_profiles": ["all"]}, "sqlserver_windows_firewall_profiles"),
    ({"sqlserver_sa_pasword": SA_PASSWORD}, "did you mean sqlserver_sa_password"),
])
def test_wrong_input_is_refused_before_any_host_is_touched(raw, message):
    with pytest.raises(VariableError) as err:
        check_package("sqlserver", raw)
    assert message in str(err.value)
    assert SA_PASSWORD not in str(err.value)


def test_good_input_is_converted_and_secrets_redacted():
    checked = check_package("sqlserver", {
        "sqlserver_port": "1533", "sqlserver_accept_license_terms": "yes",
        "sqlserver_sa_password": SA_PASSWORD, "sqlserver_product_key": PRODUCT_KEY,
        "sqlserver_windows_media_password": SHARE_PASSWORD,
        "sqlserver_windows_service_password": SERVICE_PASSWORD})
    assert checked.values["sqlserver_port"] == 1533
    assert checked.values["sqlserver_accept_license_terms"] is True
    redacted = checked.redacted()
    for name in ("sqlserver_sa_password", "sqlserver_product_key",
                 "sqlserver_windows_media_password", "sqlserver_windows_service_password"):
        assert redacted[name] == REDACTED
    assert not set(SECRETS) & set(map(str, redacted.values()))


# The role's front door, run by ansible-playbook -----------------------------------------------

# One host per case, all local; each gets stand-in facts and the role runs only as far as its
# argument spec and validate.yml (--tags sqlserver_validate). host: (facts, vars, expected)
# where expected is None for "passes" or a text the failure message must contain.
CASES: dict[str, tuple[dict, dict, str | None]] = {
    "win_ok": (WINDOWS, WINDOWS_VARS, None),
    "win_url_ok": (WINDOWS, {**WINDOWS_VARS, "sqlserver_product_key": PRODUCT_KEY,
                             "sqlserver_windows_media": "https://files.acme.example/sql/x.iso",
                             "sqlserver_windows_media_username": r"ACME\media-reader",
                             "sqlserver_windows_media_password": SHARE_PASSWORD,
                             "sqlserver_windows_service_account": r"ACME\svc-sql",
                             "sqlserver_windows_service_password": SERVICE_PASSWORD}, None),
    "win_gmsa_ok": (WINDOWS, {**WINDOWS_VARS,
                              "sqlserver_windows_service_account": r"ACME\gmsa-sql$"}, None),
    "win_2016": ({**WINDOWS, "distribution_version": "10.0.14393.0"}, WINDOWS_VARS,
                 "does not support this Windows release (build 14393"),
    "win_licence": (WINDOWS, {**WINDOWS_VARS, "sqlserver_accept_license_terms": False},
                    "sqlserver_accept_license_terms=true"),
    "win_weak_password": (WINDOWS, {**WINDOWS_VARS, "sqlserver_sa_password": "password1"},
                          "(it has 9) from at least three of the four classes"),
    "win_no_media": (WINDOWS, {**WINDOWS_VARS, "sqlserver_windows_media": ""},
                     "Give the customer's SQL Server installation ISO"),
    "win_not_an_iso": (WINDOWS, {**WINDOWS_VARS, "sqlserver_windows_media": r"\\f\m\setup.exe"},
                       "Give the customer's SQL Server installation ISO"),
    "win_bad_checksum": (WINDOWS, {**WINDOWS_VARS, "sqlserver_windows_media_checksum": "md5:abc"},
                         "sqlserver_windows_media_checksum=sha256"),
    "win_password_no_user": (WINDOWS, {**WINDOWS_VARS,
                                       "sqlserver_windows_media_password": SHARE_PASSWORD},
                             "A media password needs its user name"),
    "win_no_sysadmins": (WINDOWS, {**WINDOWS_VARS, "sqlserver_windows_sysadmin_accounts": []},
                         "sqlserver_windows_sysadmin_accounts"),
    "win_bad_instance": (WINDOWS, {**WINDOWS_VARS, "sqlserver_windows_instance_name": "9SALES"},
                         "sqlserver_windows_instance_name must be"),
    "win_no_engine": (WINDOWS, {**WINDOWS_VARS, "sqlserver_windows_features": ["FULLTEXT"]},
                      "must include SQLENGINE"),
    "win_service_no_password": (WINDOWS, {**WINDOWS_VARS,
                                          "sqlserver_windows_service_account": r"ACME\svc-sql"},
                                "give its password as sqlserver_windows_service_password"),
    "win_express_agent": (WINDOWS, {**WINDOWS_VARS, "sqlserver_edition": "Express"},
                          "The Express edition of SQL Server has no SQL Server Agent"),
    "win_bad_key": (WINDOWS, {**WINDOWS_VARS, "sqlserver_product_key": "ABCDE-12345"},
                    "sqlserver_product_key is not a product key"),
    "win_bad_edition": (WINDOWS, {**WINDOWS_VARS, "sqlserver_edition": "Home"},
                        "sqlserver_edition"),
    "win_absent": (WINDOWS, {"sqlserver_state": "absent"}, None),
    "rhel9_ok": (RHEL9, LINUX_VARS, None),
    "rhel8_2019_ok": (RHEL8, {**LINUX_VARS, "sqlserver_version": "2019"}, None),
    "rhel9_2019": (RHEL9, {**LINUX_VARS, "sqlserver_version": "2019"},
                   "Microsoft publishes no SQL Server 2019 packages for RedHat 9"),
    "jammy_ok": (JAMMY, {**LINUX_VARS, "sqlserver_edition": "Express",
                         "sqlserver_agent_enabled": False}, None),
    "rhel9_small": ({**RHEL9, "memtotal_mb": 1536}, LINUX_VARS, "needs at least 2000 MB"),
    "rhel9_repo": (RHEL9, {**LINUX_VARS, "sqlserver_repo_base_url": "mirror.acme.example"},
                   "sqlserver_repo_base_url must be"),
    "rhel9_memory": (RHEL9, {**LINUX_VARS, "sqlserver_max_memory_mb": 512},
                     "sqlserver_max_memory_mb"),
    "debian12": (DEBIAN12, LINUX_VARS, "does not support Debian 12"),
}


class TestFrontDoor(FrontDoor):
    role = ROLE
    cases = CASES
    secrets = SECRETS


# Every task file parses and every module resolves --------------------------------------------

def test_syntax_check(tmp_path):
    proc, files = syntax_check_role(tmp_path, ROLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(files) >= 14
