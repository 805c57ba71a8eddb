"""The kafka role's derived values and generated files: the cluster layout from the inventory,
replication and heap defaults, server.properties for each kind of node and mode, the unit, and
the parsing of MetadataQuorumCommand's answer. Molecule runs one layout (three combined nodes,
Kafka 4); these cover the others."""

from __future__ import annotations

import pytest

from tests.roles import render as rendering


def cluster(*hosts, me=None, **overrides):
    """Variables for a play over ``hosts`` (name, address[, host vars]) seen from ``me``."""
    hostvars = {}
    for name, address, *extra in hosts:
        hostvars[name] = {"ansible_facts": {"default_ipv4": {"address": address}}}
        hostvars[name].update(extra[0] if extra else {})
    names = [h[0] for h in hosts]
    me = me or names[0]
    own = {k: v for k, v in hostvars[me].items() if k != "ansible_facts"}
    return {"inventory_hostname": me, "ansible_play_hosts_all": list(reversed(names)),
            "hostvars": hostvars, "groups": {}, **own, **overrides}


THREE = [("k1", "10.0.0.1"), ("k2", "10.0.0.2"), ("k3", "10.0.0.3")]


def value(expression, **variables):
    return rendering.value("kafka", expression, **variables)


def render(template, **variables):
    return rendering.render("kafka", template, **variables)


def properties(text):
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


@pytest.mark.parametrize("memory, heap_mb, expected", [
    (4096, 0, 1024), (512, 0, 256), (65536, 0, 6144), (4096, 512, 512)])
def test_heap_is_sized_from_memory_unless_given(memory, heap_mb, expected):
    got = value("__kafka_heap | int", ansible_facts={"memtotal_mb": memory},
                kafka_heap_mb=heap_mb, **cluster(*THREE))
    assert got == expected


@pytest.mark.parametrize("brokers, factor, min_insync",
                         [(1, 1, 1), (2, 2, 1), (3, 3, 2), (5, 3, 2)])
def test_replication_follows_the_number_of_brokers(brokers, factor, min_insync):
    hosts = [(f"k{i}", f"10.0.0.{i}") for i in range(1, brokers + 1)]
    got = value("[__kafka_replication_factor | int, __kafka_min_insync | int]", **cluster(*hosts))
    assert got == [factor, min_insync]


def test_node_ids_come_from_sorted_names_or_the_inventory():
    hosts = [("b", "10.0.0.2"), ("a", "10.0.0.1", {"kafka_node_id": 7}), ("c", "10.0.0.3")]
    nodes = value("__kafka_nodes", **cluster(*hosts))
    assert [(n["host"], n["id"]) for n in nodes] == [("a", 7), ("b", 2), ("c", 3)]


def test_combined_node_of_three():
    conf = properties(render("etc/kafka/server.properties.j2", **cluster(*THREE, me="k2")))
    assert conf["process.roles"] == "broker,controller"
    assert conf["node.id"] == "2"
    assert conf["controller.quorum.voters"] == "1@10.0.0.1:9093,2@10.0.0.2:9093,3@10.0.0.3:9093"
    assert conf["listeners"] == "PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093"
    assert conf["advertised.listeners"] == "PLAINTEXT://10.0.0.2:9092"
    assert conf["default.replication.factor"] == conf["offsets.topic.replication.factor"] == "3"
    assert conf["min.insync.replicas"] == conf["transaction.state.log.min.isr"] == "2"
    assert conf["share.coordinator.state.topic.replication.factor"] == "3"
    assert "zookeeper.connect" not in conf and "broker.id" not in conf


def test_dedicated_controllers_and_brokers():
    hosts = [("c1", "10.0.1.1", {"kafka_process_roles": ["controller"]}),
             ("b1", "10.0.2.1", {"kafka_process_roles": ["broker"], "kafka_node_id": 101}),
             ("b2", "10.0.2.2", {"kafka_process_roles": ["broker"], "kafka_node_id": 102})]
    controller = properties(render("etc/kafka/server.properties.j2", **cluster(*hosts, me="c1")))
    broker = properties(render("etc/kafka/server.properties.j2", **cluster(*hosts, me="b2")))
    assert controller["process.roles"] == "controller"
    assert controller["listeners"] == "CONTROLLER://0.0.0.0:9093"
    assert "advertised.listeners" not in controller
    assert broker["process.roles"] == "broker"
    assert broker["node.id"] == "102"
    assert broker["listeners"] == "PLAINTEXT://0.0.0.0:9092"
    assert broker["advertised.listeners"] == "PLAINTEXT://10.0.2.2:9092"
    assert broker["controller.quorum.voters"] == "3@10.0.1.1:9093"
    assert controller["controller.quorum.voters"] == "3@10.0.1.1:9093"
    assert broker["controller.listener.names"] == "CONTROLLER"
    assert broker["default.replication.factor"] == "2" and broker["min.insync.replicas"] == "1"
    assert value("__kafka_ports", **cluster(*hosts, me="c1")) == [9093]


def test_ipv6_addresses_are_bracketed():
    hosts = [("k1", "10.0.0.1", {"kafka_advertised_address": "fd00::1"})]
    conf = properties(render("etc/kafka/server.properties.j2",
                             kafka_listen_address="::", **cluster(*hosts)))
    assert conf["controller.quorum.voters"] == "1@[fd00::1]:9093"
    assert conf["advertised.listeners"] == "PLAINTEXT://[fd00::1]:9092"
    assert conf["listeners"].startswith("PLAINTEXT://[::]:9092")


def test_zookeeper_mode_with_kafka_3():
    conf = properties(render("etc/kafka/server.properties.j2", kafka_mode="zookeeper",
                             kafka_version="3.9.1",
                             kafka_zookeeper_connect="zk1:2181,zk2:2181/kafka",
                             **cluster(*THREE, me="k3")))
    assert conf["broker.id"] == "3"
    assert conf["zookeeper.connect"] == "zk1:2181,zk2:2181/kafka"
    assert conf["listeners"] == "PLAINTEXT://0.0.0.0:9092"
    for key in ("process.roles", "node.id", "controller.quorum.voters",
                "share.coordinator.state.topic.replication.factor"):
        assert key not in conf
    unit = render("etc/systemd/system/kafka.service.j2", kafka_mode="zookeeper",
                  kafka_version="3.9.1", **cluster(*THREE))
    assert "-Dlog4j.configuration=file:/etc/kafka/log4j.properties" in unit


def test_extra_properties_are_appended():
    text = render("etc/kafka/server.properties.j2",
                  kafka_extra_properties={"num.io.threads": 16, "delete.topic.enable": False},
                  **cluster(*THREE))
    conf = properties(text)
    assert conf["num.io.threads"] == "16" and conf["delete.topic.enable"] == "false"


def test_unit_runs_the_jvm_from_the_libraries():
    unit = render("etc/systemd/system/kafka.service.j2", kafka_heap_mb=2048,
                  kafka_java_home="/usr/lib/jvm/java-17-openjdk-amd64",
                  kafka_jvm_opts=["-XX:+UseG1GC", "-Xlog:gc*:file=/var/log/kafka/gc-%p.log"],
                  **cluster(*THREE))
    exec_start = unit.split("ExecStart=", 1)[1].split("\n# ", 1)[0].replace("\\\n", " ")
    words = exec_start.split()
    assert "-Xms2048m" in words and "-Xmx2048m" in words
    assert "-Xlog:gc*:file=/var/log/kafka/gc-%%p.log" in words  # systemd specifier escaped
    assert "-Dlog4j2.configurationFile=/etc/kafka/log4j2.properties" in words
    assert words[-4:] == ["-cp", "/opt/kafka/current/libs/*", "kafka.Kafka",
                          "/etc/kafka/server.properties"]
    assert words[0] == "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"
    assert ".sh" not in exec_start  # none of the release's scripts


def test_checksum_is_known_for_the_pinned_release_only():
    assert value("kafka_checksum", **cluster(*THREE)).startswith("sha512:c7d7b231")
    assert value("kafka_checksum", kafka_version="4.2.0", **cluster(*THREE)) == ""


@pytest.mark.parametrize("stdout, leader, voters", [
    ('ClusterId: x\nLeaderId:   2\nLeaderEpoch: 4\n'
     'CurrentVoters:   [{"id": 1, "endpoints": ["CONTROLLER://10.0.0.1:9093"]}, '
     '{"id": 3, "endpoints": ["CONTROLLER://10.0.0.3:9093"]}, {"id": 2, "endpoints": []}]\n'
     'CurrentObservers: [{"id": 4}]\n', 2, [1, 2, 3]),
    ("ClusterId: x\nLeaderId: 1\nCurrentVoters: [1,2,3]\nCurrentObservers: [4,5]\n", 1, [1, 2, 3]),
    ("", -1, []),
])
def test_quorum_answer_is_parsed_for_kafka_4_and_3(stdout, leader, voters):
    got = value("[__kafka_quorum_leader | int, __kafka_quorum_voters]",
                __kafka_quorum={"rc": 0, "stdout": stdout}, **cluster(*THREE))
    assert got == [leader, voters]
