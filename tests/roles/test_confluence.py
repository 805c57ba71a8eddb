"""The confluence role's generated files, rendered the way its tasks render them.

Atlassian's archive cannot be fetched here, so Confluence never runs in the Molecule scenario
(prep mode): these tests check what the role would hand it (server.xml behind the proxy,
confluence-init.properties, the systemd unit), the nginx site it gives the nginx role, its derived
values, argument_specs rejecting wrong input, and that no password reaches a file or the fact.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import yaml

from tests.roles.render import ROLES
from tests.roles.render import render as render_role
from tests.roles.render import value as role_value
from tests.roles.test_cmectl_vendor_media import (
    accepts,
    rejects,
    syntax_check,
    unit_settings,
)

ROLE = "confluence"
PACKAGE = "confluence"
PASSWORD = "Conf-Db-S3cret"
JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
RUN_VARS = {"confluence_db_password": PASSWORD, "jdk_java_home": JAVA_HOME}
CHECKSUM = "sha256:" + "1" * 64


def render(template: str, role: str = ROLE, **overrides: Any) -> str:
    return render_role(role, template, **{**RUN_VARS, **overrides})


def value(expression: str, **overrides: Any) -> Any:
    return role_value(ROLE, expression, **{**RUN_VARS, **overrides})


SERVER_XML = "opt/atlassian/confluence/conf/server.xml.j2"
INIT = "opt/atlassian/confluence/confluence/WEB-INF/classes/confluence-init.properties.j2"
UNIT = "etc/systemd/system/confluence.service.j2"


def connector(**overrides: Any) -> ET.Element:
    root = ET.fromstring(render(SERVER_XML, **overrides))
    return root.find("./Service/Connector")


def test_server_xml_is_xml_with_the_proxy_settings():
    root = ET.fromstring(render(SERVER_XML, confluence_proxy_name="wiki.example.internal"))
    assert root.get("port") == "8000" and root.get("address") == "127.0.0.1"
    conn = root.find("./Service/Connector")
    assert conn.get("port") == "8090"
    assert conn.get("proxyName") == "wiki.example.internal"
    assert conn.get("proxyPort") == "80"
    assert conn.get("scheme") == "http" and conn.get("secure") == "false"
    assert root.find("./Service/Engine/Host/Context").get("path") == ""


def test_server_xml_https_proxy_and_context_path():
    conn = connector(confluence_proxy_scheme="https", confluence_proxy_port=443)
    assert (
        conn.get("scheme") == "https"
        and conn.get("secure") == "true"
        and conn.get("proxyPort") == "443"
    )
    root = ET.fromstring(render(SERVER_XML, confluence_context_path="/confluence"))
    assert root.find("./Service/Engine/Host/Context").get("path") == "/confluence"


def test_proxy_name_defaults_to_the_fqdn_and_can_be_off():
    assert connector().get("proxyName") == "app01.example.internal"
    assert connector(confluence_proxy_enabled=False).get("proxyName") is None


def test_init_properties_point_at_confluence_home():
    lines = [x for x in render(INIT).splitlines() if not x.startswith("#")]
    assert lines == ["confluence.home=/var/atlassian/application-data/confluence"]


def test_unit_runs_confluence_as_its_user_with_java_and_heap():
    settings = unit_settings(render(UNIT))
    assert settings["User"] == ["confluence"] and settings["Type"] == ["forking"]
    assert settings["ExecStart"] == ["/opt/atlassian/confluence/current/bin/start-confluence.sh"]
    assert settings["ExecStop"] == ["/opt/atlassian/confluence/current/bin/stop-confluence.sh"]
    assert f'"JAVA_HOME={JAVA_HOME}"' in settings["Environment"]
    assert any(e.startswith('"CATALINA_OPTS=-Xms2048m -Xmx2048m') for e in settings["Environment"])
    assert "postgresql.service" in settings["After"][0]


def test_heap_floor_and_external_database_unit():
    assert int(value("__confluence_heap", ansible_facts={"memtotal_mb": 1024})) == 1024
    settings = unit_settings(render(UNIT, confluence_db_mode="external", confluence_db_host="db01"))
    assert "postgresql" not in settings["After"][0]


def test_jdbc_url_local_and_external():
    assert value("__confluence_jdbc_url") == "jdbc:postgresql://127.0.0.1:5432/confluence"
    assert (
        value(
            "__confluence_jdbc_url",
            confluence_db_mode="external",
            confluence_db_host="db01",
            confluence_db_port=5433,
        )
        == "jdbc:postgresql://db01:5433/confluence"
    )


def test_nginx_site_proxies_to_the_connector():
    sites = value("__confluence_nginx_sites", confluence_proxy_name="wiki.example.internal")
    site_text = render(
        "etc/nginx/conf.d/site.conf.j2",
        role="nginx",
        __nginx_site=sites[0],
        __nginx_version="1.22.1",
    )
    assert "server_name wiki.example.internal _;" in site_text
    assert "proxy_pass http://127.0.0.1:8090;" in site_text
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in site_text
    assert "client_max_body_size 100m;" in site_text
    assert "listen 80 default_server;" in site_text


def test_no_password_in_rendered_files():
    for template in (SERVER_XML, INIT, UNIT):
        assert PASSWORD not in render(template)


def test_fact_and_secret_tasks():
    record = yaml.safe_load((ROLES / ROLE / "tasks/record.yml").read_text())[0]
    assert "password" not in yaml.safe_dump(record["cmectl_fact"]["facts"])
    for path in (ROLES / ROLE / "tasks").glob("*.yml"):
        for task in yaml.safe_load(path.read_text()) or []:
            if "confluence_db_password" in yaml.safe_dump(task):
                assert task.get("no_log") is True, f"{path.name}: {task['name']}"
    specs = yaml.safe_load((ROLES / ROLE / "meta/argument_specs.yml").read_text())
    assert specs["argument_specs"]["main"]["options"]["confluence_db_password"]["no_log"] is True


def test_argument_specs_reject_wrong_input():
    assert "confluence_db_mode" in rejects(PACKAGE, {"confluence_db_mode": "mysql"})
    assert "confluence_proxy_scheme" in rejects(PACKAGE, {"confluence_proxy_scheme": "ftp"})
    assert "confluence_http_port" in rejects(PACKAGE, {"confluence_http_port": "high"})
    assert "confluence_java_version" in rejects(PACKAGE, {"confluence_java_version": 8})
    assert "confluence_chcksum" in rejects(PACKAGE, {"confluence_chcksum": CHECKSUM})


def test_argument_specs_accept_a_real_request():
    accepts(
        PACKAGE,
        {
            "confluence_version": "9.2.6",
            "confluence_checksum": CHECKSUM,
            "confluence_db_password": PASSWORD,
            "confluence_proxy_name": "wiki.example.internal",
        },
    )


def test_syntax_check(tmp_path):
    result = syntax_check(tmp_path, ROLE, {"confluence_db_password": PASSWORD})
    assert result.returncode == 0, result.stdout + result.stderr
