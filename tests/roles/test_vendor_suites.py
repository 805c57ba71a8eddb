"""The vendor-suite roles (weaver_oa, landray_oa, yonyou_oa, kingdee, yonyou_erp, infor):
each role's description of its suite, rendered through the shared vendor-media role's
templates (roles/cmectl_vendor_media), and its argument_specs.

Every test runs once per suite in SUITES; the per-suite values come from that table.
The vendors' media cannot be obtained here: the unpack step, installer and service never run.
See tests/roles/test_cmectl_vendor_media.py for the shared role's own tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.roles.test_cmectl_vendor_media import (
    DB_PASSWORD,
    LICENSE_KEY,
    accepts,
    properties,
    rejects,
    suite_files,
    suite_inputs,
    syntax_check,
    unit_settings,
)

CHECKSUM = "sha256:" + "0" * 64
DB_CLIENTS = {"mariadb-client", "postgresql-client"}


@dataclass(frozen=True)
class Suite:
    role: str  # role name; also the prefix of the role's variables
    package: str  # catalogue package id
    title: str
    user: str
    install_dir: str
    port: int
    install_method: str
    unit_type: str
    java_version: int
    # Debian package of the database client; None: no distribution client
    # (Oracle's client comes from Oracle, not the distribution).
    db_client: str | None

    def var(self, name: str) -> str:
        return f"{self.role}_{name}"


SUITES = [
    Suite(
        role="weaver_oa",
        package="weaver-oa",
        title="Weaver e-cology OA",
        user="weaver",
        install_dir="/opt/weaver",
        port=8080,
        install_method="unpack",
        unit_type="forking",
        java_version=8,
        db_client="mariadb-client",
    ),
    Suite(
        role="landray_oa",
        package="landray-oa",
        title="Landray EKP OA",
        user="landray",
        install_dir="/opt/landray",
        port=8080,
        install_method="unpack",
        unit_type="simple",
        java_version=8,
        db_client="mariadb-client",
    ),
    Suite(
        role="yonyou_oa",
        package="yonyou-oa",
        title="Yonyou OA",
        user="yonyou",
        install_dir="/opt/yonyou-oa",
        port=8080,
        install_method="installer",
        unit_type="forking",
        java_version=8,
        db_client="mariadb-client",
    ),
    Suite(
        role="kingdee",
        package="kingdee",
        title="Kingdee ERP",
        user="kingdee",
        install_dir="/opt/kingdee",
        port=6888,
        install_method="installer",
        unit_type="forking",
        java_version=8,
        db_client="postgresql-client",
    ),
    Suite(
        role="yonyou_erp",
        package="yonyou-erp",
        title="Yonyou ERP (U8 / NC)",
        user="yonyou",
        install_dir="/opt/yonyou-nc",
        port=8080,
        install_method="installer",
        unit_type="forking",
        java_version=8,
        db_client=None,
    ),
    Suite(
        role="infor",
        package="infor",
        title="Infor",
        user="infor",
        install_dir="/opt/infor",
        port=8080,
        install_method="installer",
        unit_type="forking",
        java_version=11,
        db_client="postgresql-client",
    ),
]

each_suite = pytest.mark.parametrize("s", SUITES, ids=[s.role for s in SUITES])


@each_suite
def test_suite_description(s: Suite):
    suite, secrets = suite_inputs(s.role)
    assert suite["name"] == s.role and suite["title"] == s.title
    assert suite["user"] == s.user and suite["install_dir"] == s.install_dir
    assert suite["java_version"] == s.java_version
    assert suite["ports"] == [s.port]
    assert suite["install_method"] == s.install_method
    assert suite["media"] == []
    assert secrets == {}
    for font in ("fonts-wqy-microhei", "fonts-noto-cjk", "unzip"):
        assert font in suite["packages"]["Debian"]
    assert "google-noto-sans-cjk-ttc-fonts" in suite["packages"]["RedHat"]
    if s.db_client is None:
        assert not DB_CLIENTS & set(suite["packages"]["Debian"])
    else:
        assert s.db_client in suite["packages"]["Debian"]
    assert len(suite["manual_steps"]) >= 3
    assert any("licen" in step.lower() for step in suite["manual_steps"])


@each_suite
def test_media_and_extra_steps_reach_the_shared_role(s: Suite):
    suite, _ = suite_inputs(
        s.role,
        **{
            s.var("media"): "media.zip",
            s.var("media_checksum"): CHECKSUM,
            s.var("manual_steps_extra"): ["Call the customer"],
            s.var("extra_ports"): [9090],
        },
    )
    assert suite["media"] == [{"file": "media.zip", "checksum": CHECKSUM}]
    assert suite["manual_steps"][-1] == "Call the customer"
    assert suite["ports"] == [s.port, 9090]


@each_suite
def test_unit_file(s: Suite):
    settings = unit_settings(suite_files(s.role)["unit"])
    assert settings["User"] == [s.user]
    assert settings["Type"] == [s.unit_type]
    assert settings["ExecStart"][0].startswith(s.install_dir + "/")
    assert settings["WorkingDirectory"] == [s.install_dir]
    assert any(e.startswith('"JAVA_OPTS=-Xms2048m -Xmx2048m') for e in settings["Environment"])


@each_suite
def test_response_file_holds_the_answers_and_the_secrets(s: Suite):
    answers = properties(
        suite_files(
            s.role,
            **{
                s.var("db_host"): "db01.example.internal",
                s.var("response"): {"EXTRA_KEY": "x"},
            },
        )["response"]
    )
    assert answers["INSTALL_DIR"] == s.install_dir
    assert answers["HTTP_PORT"] == str(s.port)
    assert answers["DB_HOST"] == "db01.example.internal"
    assert answers["DB_PASSWORD"] == DB_PASSWORD
    assert answers["LICENSE_KEY"] == LICENSE_KEY
    assert answers["EXTRA_KEY"] == "x"


@each_suite
def test_secret_keys_can_be_renamed_for_the_vendors_format(s: Suite):
    answers = properties(
        suite_files(
            s.role,
            **{s.var("response_secret_keys"): {"db_password": "db.pass", "license_key": "lic"}},
        )["response"]
    )
    assert answers["db.pass"] == DB_PASSWORD and answers["lic"] == LICENSE_KEY
    assert "DB_PASSWORD" not in answers


@each_suite
def test_no_secret_in_the_unit_or_limits(s: Suite):
    files = suite_files(s.role)
    for name in ("unit", "limits"):
        assert DB_PASSWORD not in files[name] and LICENSE_KEY not in files[name]


@each_suite
def test_argument_specs_reject_wrong_input(s: Suite):
    for name, value in (
        ("install_method", "msi"),
        ("http_port", "eighty"),
        ("db_type", "access"),
        ("mediaa", "x.zip"),
    ):
        assert s.var(name) in rejects(s.package, {s.var(name): value})


@each_suite
def test_argument_specs_accept_a_real_request(s: Suite):
    accepts(
        s.package,
        {
            s.var("media"): "media.zip",
            s.var("media_checksum"): CHECKSUM,
            s.var("db_password"): DB_PASSWORD,
            s.var("http_port"): 8081,
            s.var("stop_before_media"): False,
        },
    )


@each_suite
def test_syntax_check(s: Suite, tmp_path):
    result = syntax_check(tmp_path, s.role)
    assert result.returncode == 0, result.stdout + result.stderr
