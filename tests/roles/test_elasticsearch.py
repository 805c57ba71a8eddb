"""The elasticsearch role's derived values, generated files and front door.

Molecule runs one layout (two nodes from the archive, security on, transport on loopback for the
lab); these cover the others: the heap default from the host's memory, a single node, dedicated
master nodes, the first start of a new cluster, security off, and the inputs validate.yml refuses
before anything is changed on a host.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.roles import render as rendering
from tests.roles.harness import (
    FrontDoor,
    syntax_check_role,
    tasks_leaking,
)

ROLE = "elasticsearch"
PASSWORD = "Front-Door-Secret-91"


def cluster(*hosts, me=None, **overrides):
    """Variables for a play over ``hosts`` (name, address[, host vars]) seen from ``me``."""
    hostvars = {}
    for name, address, *extra in hosts:
        hostvars[name] = {"ansible_facts": {"default_ipv4": {"address": address}}}
        hostvars[name].update(extra[0] if extra else {})
    names = [h[0] for h in hosts]
    me = me or names[0]
    own = {k: v for k, v in hostvars[me].items() if k != "ansible_facts"}
    facts = {"default_ipv4": {"address": dict((h[0], h[1]) for h in hosts)[me]}}
    return {
        "inventory_hostname": me,
        "ansible_play_hosts_all": list(reversed(names)),
        "hostvars": hostvars,
        "groups": {},
        "ansible_facts": facts,
        "elasticsearch_elastic_password": PASSWORD,
        **own,
        **overrides,
    }


THREE = [("es1", "10.0.0.1"), ("es2", "10.0.0.2"), ("es3", "10.0.0.3")]


def value(expression, **variables):
    return rendering.value(ROLE, expression, **variables)


def settings(**variables):
    text = rendering.render(ROLE, "etc/elasticsearch/elasticsearch.yml.j2", **variables)
    return yaml.safe_load(text)


# The heap -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "memory, heap_mb, expected",
    [(4096, 0, 2048), (16000, 0, 8000), (131072, 0, 31744), (400, 0, 256), (4096, 1024, 1024)],
)
def test_heap_is_half_the_memory_capped_unless_given(memory, heap_mb, expected):
    got = value(
        "__elasticsearch_heap | int",
        elasticsearch_heap_mb=heap_mb,
        **cluster(
            *THREE, ansible_facts={"memtotal_mb": memory, "default_ipv4": {"address": "10.0.0.1"}}
        ),
    )
    assert got == expected


def test_heap_file_sets_initial_and_maximum_alike():
    text = rendering.render(
        ROLE,
        "etc/elasticsearch/jvm.options.d/cmectl-heap.options.j2",
        **cluster(
            *THREE, ansible_facts={"memtotal_mb": 8192, "default_ipv4": {"address": "10.0.0.1"}}
        ),
    )
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines == ["-Xms4096m", "-Xmx4096m"]
    assert "half of the host's 8192 MB" in text


# elasticsearch.yml ----------------------------------------------------------------------------


def test_a_group_of_one_is_a_single_node():
    got = settings(**cluster(("solo", "10.0.0.9")))
    assert got["discovery.type"] == "single-node"
    assert "discovery.seed_hosts" not in got
    assert "cluster.initial_master_nodes" not in got
    assert got["network.host"] == "10.0.0.9"
    assert value("__elasticsearch_single_node | bool", **cluster(("solo", "10.0.0.9"))) is True


def test_a_cluster_seeds_from_every_member_and_bootstraps_only_when_asked():
    first = settings(**cluster(*THREE, me="es2", __elasticsearch_write_initial_masters=True))
    later = settings(**cluster(*THREE, me="es2", __elasticsearch_write_initial_masters=False))
    assert first["discovery.seed_hosts"] == ["10.0.0.1:9300", "10.0.0.2:9300", "10.0.0.3:9300"]
    assert first["cluster.initial_master_nodes"] == ["es1", "es2", "es3"]
    assert first["node.name"] == "es2" and first["network.host"] == "10.0.0.2"
    assert "discovery.type" not in first
    assert "cluster.initial_master_nodes" not in later
    assert {k: v for k, v in first.items() if k != "cluster.initial_master_nodes"} == later


def test_only_master_eligible_nodes_bootstrap_and_names_come_from_the_inventory():
    hosts = [
        ("d1", "10.0.0.1", {"elasticsearch_node_roles": ["data", "ingest"]}),
        (
            "m1",
            "10.0.0.2",
            {"elasticsearch_node_roles": ["master"], "elasticsearch_node_name": "master-a"},
        ),
        ("m2", "10.0.0.3", {"elasticsearch_node_roles": ["master", "data"]}),
    ]
    got = settings(**cluster(*hosts, me="m1", __elasticsearch_write_initial_masters=True))
    assert got["cluster.initial_master_nodes"] == ["master-a", "m2"]
    assert got["node.roles"] == ["master"]
    assert got["node.name"] == "master-a"


def test_transport_address_and_port_per_host_make_the_seed_hosts():
    hosts = [
        (
            "a",
            "10.0.0.1",
            {"elasticsearch_transport_host": "127.0.0.1", "elasticsearch_transport_port": 9300},
        ),
        (
            "b",
            "10.0.0.2",
            {"elasticsearch_transport_host": "127.0.0.1", "elasticsearch_transport_port": 9301},
        ),
        (
            "c",
            "10.0.0.3",
            {"elasticsearch_transport_host": "fd00::3", "elasticsearch_transport_port": 9302},
        ),
    ]
    got = settings(**cluster(*hosts, me="b"))
    assert got["discovery.seed_hosts"] == ["127.0.0.1:9300", "127.0.0.1:9301", "[fd00::3]:9302"]
    assert got["transport.host"] == "127.0.0.1" and got["transport.port"] == 9301


def test_security_on_means_tls_between_nodes_and_https():
    got = settings(**cluster(*THREE))
    assert got["xpack.security.enabled"] is True
    assert got["xpack.security.transport.ssl.enabled"] is True
    assert got["xpack.security.transport.ssl.certificate"] == "/etc/elasticsearch/tls/node.crt"
    assert got["xpack.security.http.ssl.enabled"] is True
    assert value("__elasticsearch_url", **cluster(*THREE)) == "https://10.0.0.1:9200"


def test_security_off_writes_no_tls_settings_and_plain_http():
    got = settings(**cluster(*THREE, elasticsearch_security_enabled=False))
    assert got["xpack.security.enabled"] is False
    assert not [
        key for key in got if key.startswith("xpack.security.") and key != "xpack.security.enabled"
    ]
    assert (
        value("__elasticsearch_url", **cluster(*THREE, elasticsearch_security_enabled=False))
        == "http://10.0.0.1:9200"
    )


def test_extra_settings_and_lab_switches():
    got = settings(
        **cluster(
            *THREE,
            elasticsearch_extra_settings={
                "indices.query.bool.max_clause_count": 4096,
                "action.destructive_requires_name": True,
            },
            elasticsearch_store_allow_mmap=False,
            elasticsearch_memory_lock=True,
        )
    )
    assert got["indices.query.bool.max_clause_count"] == 4096
    assert got["action.destructive_requires_name"] is True
    assert got["node.store.allow_mmap"] is False
    assert got["bootstrap.memory_lock"] is True


def test_certificate_names_every_address_of_the_node():
    hosts = [("a", "10.0.0.1", {"elasticsearch_transport_host": "127.0.0.1"}), ("b", "10.0.0.2")]
    got = value("__elasticsearch_subject_alt_names", **cluster(*hosts, me="a"))
    assert got == [
        "DNS:a",
        "DNS:app01.example.internal",
        "DNS:localhost",
        "IP:10.0.0.1",
        "IP:127.0.0.1",
    ]


def test_archive_unit_runs_the_launcher_with_the_limits():
    text = rendering.render(
        ROLE,
        "etc/systemd/system/elasticsearch.service.j2",
        **cluster(
            *THREE,
            elasticsearch_install_from="archive",
            __elasticsearch_java_home="/usr/lib/jvm/java-17-openjdk-amd64",
        ),
    )
    launcher = "/opt/elasticsearch/current/bin/elasticsearch"
    assert f"ExecStart={launcher} -p /run/elasticsearch/elasticsearch.pid --quiet" in text
    assert "Environment=ES_JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64" in text
    assert "Environment=ES_PATH_CONF=/etc/elasticsearch" in text
    assert "LimitNOFILE=65535" in text and "LimitMEMLOCK" not in text


def test_package_repository_follows_the_mirror():
    line = value(
        "__elasticsearch_repo_line", elasticsearch_repo_base_url="https://mirror.example/elastic/"
    )
    assert line == (
        "deb [signed-by=/usr/share/keyrings/elasticsearch.asc] "
        "https://mirror.example/elastic/8.x/apt stable main"
    )


# The front door: validate.yml on stand-in hosts, before anything changes --------------------

DEBIAN12 = {
    "os_family": "Debian",
    "distribution": "Debian",
    "distribution_major_version": "12",
    "memtotal_mb": 4096,
    "default_ipv4": {"address": "192.0.2.10"},
    "fqdn": "es.example",
}
GOOD = {"elasticsearch_elastic_password": PASSWORD, "elasticsearch_store_allow_mmap": False}
MAX_MAP_COUNT = int(Path("/proc/sys/vm/max_map_count").read_text())

CASES = {
    "good_package": (DEBIAN12, GOOD, None),
    "good_archive": (DEBIAN12, {**GOOD, "elasticsearch_install_from": "archive"}, None),
    "good_without_security": (
        DEBIAN12,
        {"elasticsearch_security_enabled": False, "elasticsearch_store_allow_mmap": False},
        None,
    ),
    "no_password": (
        DEBIAN12,
        {"elasticsearch_store_allow_mmap": False},
        "elasticsearch_elastic_password must be set",
    ),
    "short_password": (
        DEBIAN12,
        {**GOOD, "elasticsearch_elastic_password": "abc"},
        "at least 6 characters",
    ),
    "unknown_source": (
        DEBIAN12,
        {**GOOD, "elasticsearch_install_from": "tarball"},
        "elasticsearch_install_from",
    ),
    "archive_without_checksum": (
        DEBIAN12,
        {**GOOD, "elasticsearch_install_from": "archive", "elasticsearch_version": "8.19.4"},
        "The role only knows the checksums of elasticsearch-8.19.21.zip",
    ),
    "not_version_8": (
        DEBIAN12,
        {**GOOD, "elasticsearch_version": "7.17.0"},
        "must be an Elasticsearch 8 release",
    ),
    "tiny_heap": (
        DEBIAN12,
        {**GOOD, "elasticsearch_heap_mb": 128},
        "elasticsearch_heap_mb must be 0",
    ),
    "heap_over_memory": (
        DEBIAN12,
        {**GOOD, "elasticsearch_heap_mb": 8192},
        "less than the host's memory (4096 MB)",
    ),
    "same_ports": (
        DEBIAN12,
        {**GOOD, "elasticsearch_http_port": 9300},
        "elasticsearch_http_port and elasticsearch_transport_port must differ",
    ),
    "managed_setting": (
        DEBIAN12,
        {**GOOD, "elasticsearch_extra_settings": {"cluster.name": "x"}},
        "elasticsearch_extra_settings sets cluster.name",
    ),
    "half_customer_tls": (
        DEBIAN12,
        {**GOOD, "elasticsearch_tls_certificate_file": "/etc/hostname"},
        "Give elasticsearch_tls_ca_file, elasticsearch_tls_certificate_file",
    ),
    "missing_customer_tls": (
        DEBIAN12,
        {
            **GOOD,
            "elasticsearch_tls_ca_file": "/nonexistent/ca.crt",
            "elasticsearch_tls_certificate_file": "/nonexistent/node.crt",
            "elasticsearch_tls_key_file": "/nonexistent/node.key",
        },
        "is not a readable file on the controller",
    ),
    "unknown_group": (
        DEBIAN12,
        {**GOOD, "elasticsearch_group": "nosuch"},
        "the inventory has no such group",
    ),
    "bad_role": (DEBIAN12, {**GOOD, "elasticsearch_node_roles": ["boss"]}, "Node roles are master"),
    "data_in_var_lib": (
        DEBIAN12,
        {**GOOD, "elasticsearch_data_dir": "/var/lib"},
        "must be absolute paths of directories of their own",
    ),
    "low_map_count_target": (
        DEBIAN12,
        {**GOOD, "elasticsearch_max_map_count": 65530},
        "elasticsearch_max_map_count at least 262144",
    ),
    "mmap_without_sysctl": (
        DEBIAN12,
        {"elasticsearch_elastic_password": PASSWORD, "elasticsearch_manage_sysctl": False},
        None if MAX_MAP_COUNT >= 262144 else "The role may not change it",
    ),
    "old_debian": (
        {**DEBIAN12, "distribution_major_version": "10"},
        GOOD,
        "does not support Debian 10",
    ),
}


class TestFrontDoor(FrontDoor):
    role = ROLE
    cases = CASES
    secrets = (PASSWORD,)


def test_no_task_shows_the_password_or_a_key():
    assert tasks_leaking(ROLE, ["elasticsearch_elastic_password", "__elasticsearch_tls_key"]) == []


def test_syntax_check(tmp_path):
    proc, files = syntax_check_role(tmp_path, ROLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(files) >= 10
