"""The activemq role's generated files where they carry logic the Molecule scenario does not
exercise: heap sizing, the unit's command line (systemd escaping), optional connectors, IPv6
addresses, and the escaping of passwords in the properties files."""

from __future__ import annotations

import shlex
import xml.etree.ElementTree as ET

import pytest

from tests.roles.render import render, value

ROLE = "activemq"
JAVA = "/usr/lib/jvm/java-17-openjdk-amd64"
CORE = "{http://activemq.apache.org/schema/core}"


def unit(**overrides):
    return render(ROLE, "etc/systemd/system/activemq.service.j2",
                  __activemq_java_home=JAVA, **overrides)


def exec_start(text: str) -> list[str]:
    """The ExecStart command line, continuation lines joined, split as systemd would."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("ExecStart="))
    command = lines[start][len("ExecStart="):]
    while command.endswith("\\"):
        start += 1
        command = command[:-1] + lines[start]
    return shlex.split(command)


@pytest.mark.parametrize("memtotal, heap_mb, percent, expected", [
    (4096, 0, 50, 2048),       # half the memory by default
    (300, 0, 50, 256),         # never below 256 MB
    (262144, 0, 50, 31744),    # never above 31 GB (compressed object pointers)
    (4096, 0, 25, 1024),
    (4096, 768, 50, 768),      # a set heap wins
])
def test_heap_is_sized_from_memory_unless_set(memtotal, heap_mb, percent, expected):
    got = value(ROLE, "__activemq_heap_mb | int", activemq_heap_mb=heap_mb,
                activemq_heap_percent=percent, ansible_facts={"memtotal_mb": memtotal})
    assert got == expected


def test_unit_runs_the_jvm_with_the_base_and_heap():
    args = exec_start(unit())
    assert args[0] == f"{JAVA}/bin/java"
    assert args[1:3] == ["-Xms2048m", "-Xmx2048m"]
    assert "-Dactivemq.base=/var/lib/activemq" in args
    assert "-Dactivemq.home=/opt/activemq/current" in args
    assert "--add-opens=java.base/java.lang=ALL-UNNAMED" in args
    assert args[-4:] == ["-jar", "/opt/activemq/current/bin/activemq.jar", "start",
                         "xbean:file:/var/lib/activemq/conf/activemq.xml"]


def test_unit_escapes_what_systemd_would_expand():
    text = unit(activemq_java_opts=["-Dmsg=50%", "-Dpath=$HOME", "-Dname=two words"])
    args = exec_start(text)
    assert "-Dmsg=50%%" in args                  # % is a specifier in unit files
    assert "-Dpath=$$HOME" in args               # $ would be an environment variable
    assert "-Dname=two words" in args            # quoted: one argument


def broker(**overrides) -> ET.Element:
    root = ET.fromstring(render(ROLE, "var/lib/activemq/conf/activemq.xml.j2", **overrides))
    return root.find(f"{CORE}broker")


def test_only_openwire_by_default_with_authentication_and_the_console():
    text = render(ROLE, "var/lib/activemq/conf/activemq.xml.j2")
    b = broker()
    uris = {c.get("name"): c.get("uri") for c in b.iter(f"{CORE}transportConnector")}
    assert uris == {"openwire": "tcp://0.0.0.0:61616"
                                "?maximumConnections=1000&wireFormat.maxFrameSize=104857600"}
    jaas = b.find(f"{CORE}plugins/{CORE}jaasAuthenticationPlugin")
    assert jaas.get("configuration") == "activemq"
    assert b.get("brokerName") == "localhost"   # the console connects to vm://localhost
    assert '<import resource="jetty.xml"/>' in text


def test_optional_connectors_an_ipv6_address_and_no_console():
    overrides = dict(activemq_amqp_enabled=True, activemq_stomp_enabled=True,
                     activemq_transport_address="::", activemq_console_enabled=False)
    text = render(ROLE, "var/lib/activemq/conf/activemq.xml.j2", **overrides)
    uris = {c.get("name"): c.get("uri").split("?")[0]
            for c in broker(**overrides).iter(f"{CORE}transportConnector")}
    assert uris == {"openwire": "tcp://[::]:61616", "amqp": "amqp://[::]:5672",
                    "stomp": "stomp://[::]:61613"}
    assert "jetty.xml" not in text.split("-->", 1)[1]


def test_console_listens_where_told_and_serves_the_release_itself():
    text = render(ROLE, "var/lib/activemq/conf/jetty.xml.j2", activemq_console_address="10.0.0.5",
                  activemq_console_port=8162)
    root = ET.fromstring(text)
    ns = "{http://www.springframework.org/schema/beans}"
    port = next(b for b in root.iter(f"{ns}bean") if b.get("id") == "jettyPort")
    props = {p.get("name"): p.get("value") for p in port.iter(f"{ns}property")}
    assert props == {"host": "10.0.0.5", "port": "8162"}
    # Jetty refuses resources reached through the "current" link.
    assert "/opt/activemq/apache-activemq-5.18.3/webapps/admin" in text
    assert "current/webapps" not in text


def test_passwords_are_escaped_for_java_properties():
    users = [{"name": "app", "password": r"a\b=c"}]
    text = render(ROLE, "var/lib/activemq/conf/users.properties.j2",
                  activemq_admin_password=r"x\y", activemq_broker_users=users)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == [r"admin=x\\y", r"app=a\\b=c"]
    groups = render(ROLE, "var/lib/activemq/conf/groups.properties.j2", activemq_broker_users=users)
    assert [line for line in groups.splitlines() if not line.startswith("#")] == \
        ["admins=admin", "users=app"]
    realm = render(ROLE, "var/lib/activemq/conf/jetty-realm.properties.j2",
                   activemq_admin_password="s3cret")
    assert realm.splitlines()[-1] == "admin: s3cret, admin"
