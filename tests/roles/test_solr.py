"""The solr role's generated files and derived values, its input checks, and its syntax.

The Solr release cannot be obtained here (Apache's download site is not reachable, Debian does not
package Solr), so the Molecule scenario prepares one SolrCloud node against a one-server ZooKeeper
and stops before the archive. These tests cover what it cannot: solr.in.sh and the unit in both
modes, ZK_HOST from an ensemble of several members, the heap for other memory sizes, the cluster's
node names, and the refusals of wrong input before any host is touched.
"""

from __future__ import annotations

import subprocess

import pytest

from cmectl.errors import VariableError
from tests.roles import render as rendering
from tests.roles.harness import (
    FrontDoor,
    check_package,
    syntax_check_role,
)

ROLE = "solr"
JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
INCLUDE = "etc/default/solr.in.sh.j2"
UNIT = "etc/systemd/system/solr.service.j2"
CLI = "/usr/share/zookeeper/bin/zkCli.sh"


def cluster(zookeepers, nodes, me=None, **overrides):
    """Variables for a play over the Solr ``nodes`` (name, address[, host vars]) seen from ``me``,
    with the zookeeper role's hosts ``zookeepers`` (name, address[, host vars[, client port]])."""
    hostvars = {}
    for name, address, *extra in zookeepers:
        port = extra[1] if len(extra) > 1 else 2181
        hostvars[name] = {"ansible_facts": {
            "default_ipv4": {"address": address},
            "ansible_local": {"zookeeper": {"client_port": port, "cli": CLI}}}}
        hostvars[name].update(extra[0] if extra else {})
    for name, address, *extra in nodes:
        hostvars.setdefault(name, {"ansible_facts": {}})
        hostvars[name]["ansible_facts"]["default_ipv4"] = {"address": address}
        hostvars[name].update(extra[0] if extra else {})
    names = [n[0] for n in nodes]
    me = me or names[0]
    address = hostvars[me]["ansible_facts"]["default_ipv4"]["address"]
    own = {k: v for k, v in hostvars[me].items() if k != "ansible_facts"}
    return {"inventory_hostname": me, "ansible_play_hosts_all": list(reversed(names)),
            "hostvars": hostvars,
            "groups": {"zookeeper": [z[0] for z in zookeepers], "solr": names},
            "ansible_facts": {"default_ipv4": {"address": address}}, "solr_mode": "cloud",
            "__solr_java_home": JAVA_HOME, **own, **overrides}


ZK3 = [("zk2", "10.0.1.2"), ("zk1", "10.0.1.1"), ("zk3", "10.0.1.3")]
SOLR3 = [("s1", "10.0.2.1"), ("s3", "10.0.2.3"), ("s2", "10.0.2.2")]


def value(expression, **variables):
    return rendering.value(ROLE, expression, **variables)


def render(template, **variables):
    variables.setdefault("__solr_java_home", JAVA_HOME)
    return rendering.render(ROLE, template, **variables)


def settings(text):
    """solr.in.sh as bash reads it: every NAME="value" assignment (the file is sourced)."""
    assignments = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, raw = line.split("=", 1)
            assert raw.startswith('"') and raw.endswith('"'), line
            assignments[name] = raw[1:-1]
    return assignments


# --- solr.in.sh ------------------------------------------------------------------------------

def test_standalone_include_has_the_install_layout_and_no_zookeeper():
    text = render(INCLUDE)  # a Debian 12 host with 4096 MB, address 192.0.2.10
    assert text.startswith("#")
    conf = settings(text)
    assert conf == {
        "SOLR_JAVA_HOME": JAVA_HOME, "SOLR_HEAP": "1024m", "SOLR_PID_DIR": "/var/solr",
        "SOLR_HOME": "/var/solr/data", "LOG4J_PROPS": "/var/solr/log4j2.xml",
        "SOLR_LOGS_DIR": "/var/solr/logs", "SOLR_PORT": "8983", "SOLR_JETTY_HOST": "0.0.0.0",
        "SOLR_HOST": "192.0.2.10", "SOLR_TIMEZONE": "UTC"}


def test_include_is_valid_bash_and_sets_what_bin_solr_reads(tmp_path):
    path = tmp_path / "solr.in.sh"
    path.write_text(render(INCLUDE, solr_java_opts=["-Dsolr.autoSoftCommit.maxTime=3000",
                                                    "-XX:+UseG1GC"],
                           solr_modules=["extraction", "ltr"],
                           **cluster(ZK3, SOLR3, me="s2")))
    out = subprocess.run(["bash", "-c", f'SOLR_OPTS=-Dbase=1; . {path} && '
                          'printf "%s\\n" "$ZK_HOST" "$SOLR_OPTS" "$SOLR_MODULES" "$SOLR_HOST"'],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["10.0.1.1:2181,10.0.1.2:2181,10.0.1.3:2181/solr",
                   "-Dbase=1 -Dsolr.autoSoftCommit.maxTime=3000 -XX:+UseG1GC",
                   "extraction,ltr", "10.0.2.2"]


def test_zk_host_comes_from_the_zookeeper_group_sorted_with_the_chroot():
    conf = settings(render(INCLUDE, solr_zookeeper_chroot="/search/prod", **cluster(ZK3, SOLR3)))
    assert conf["ZK_HOST"] == "10.0.1.1:2181,10.0.1.2:2181,10.0.1.3:2181/search/prod"
    assert conf["ZK_CLIENT_TIMEOUT"] == "30000"


def test_zk_host_uses_peer_addresses_client_ports_from_the_fact_and_brackets_ipv6():
    zookeepers = [("zk1", "10.0.1.1", {"zookeeper_peer_address": "zk1.internal"}),
                  ("zk2", "10.0.1.2", {}, 2182),
                  ("zk3", "10.0.1.3", {"zookeeper_peer_address": "fd00::3"})]
    conf = settings(render(INCLUDE, **cluster(zookeepers, SOLR3)))
    assert conf["ZK_HOST"] == "zk1.internal:2181,10.0.1.2:2182,[fd00::3]:2181/solr"


def test_client_port_falls_back_to_the_inventory_then_2181():
    variables = cluster(ZK3, SOLR3)
    for name, extra in (("zk1", {"zookeeper_client_port": 2191}), ("zk2", {}), ("zk3", {})):
        variables["hostvars"][name]["ansible_facts"].pop("ansible_local")
        variables["hostvars"][name].update(extra)
    assert value("__solr_zk_host", **variables) == "10.0.1.1:2191,10.0.1.2:2181,10.0.1.3:2181/solr"


@pytest.mark.parametrize("chroot, paths", [
    ("/solr", ["/solr"]), ("/search/solr", ["/search", "/search/solr"]),
    ("/a/b/c", ["/a", "/a/b", "/a/b/c"])])
def test_chroot_is_created_outermost_first(chroot, paths):
    assert value("__solr_zk_chroot_paths", solr_zookeeper_chroot=chroot) == paths


def test_node_names_of_the_cluster():
    nodes = [("s1", "10.0.2.1"), ("s2", "10.0.2.2", {"solr_host": "solr2.example.com"}),
             ("s3", "10.0.2.3", {"solr_port": 8984})]
    variables = cluster(ZK3, nodes)
    assert value("__solr_node_names", **variables) == [
        "10.0.2.1:8983_solr", "solr2.example.com:8983_solr", "10.0.2.3:8984_solr"]
    variables["groups"]["solr_b"] = ["s3"]
    only_b = value("__solr_node_names", solr_nodes_group="solr_b", **variables)
    assert only_b == ["10.0.2.3:8984_solr"]


@pytest.mark.parametrize("memory, heap_mb, expected", [
    (4096, 0, 1024), (1024, 0, 512), (8192, 0, 2048), (262144, 0, 31744), (4096, 3000, 3000)])
def test_heap_is_sized_from_memory_unless_given(memory, heap_mb, expected):
    conf = settings(render(INCLUDE, ansible_facts={"memtotal_mb": memory}, solr_heap_mb=heap_mb))
    assert conf["SOLR_HEAP"] == f"{expected}m"


def test_heap_comment_says_where_it_came_from():
    assert "# A quarter of the 4096 MB of memory" in render(INCLUDE)
    assert "# solr_heap_mb." in render(INCLUDE, solr_heap_mb=2048)


# --- the unit ------------------------------------------------------------------------------

def unit_lines(**variables):
    return render(UNIT, **variables).splitlines()


def test_standalone_unit_runs_bin_solr_in_the_foreground_as_solr():
    lines = unit_lines()
    assert "ExecStart=/opt/solr/current/bin/solr start -f" in lines
    assert "User=solr" in lines and "Group=solr" in lines
    assert "Environment=SOLR_INCLUDE=/etc/default/solr.in.sh" in lines
    assert "SuccessExitStatus=143" in lines
    assert "LimitNOFILE=65000" in lines and "LimitNPROC=65000" in lines
    assert "WantedBy=multi-user.target" in lines


def test_cloud_unit_starts_in_cloud_mode():
    lines = unit_lines(solr_install_dir="/srv/solr", solr_limit_nofile=131072,
                       **cluster(ZK3, SOLR3))
    assert "ExecStart=/srv/solr/current/bin/solr start -f -c" in lines
    assert "LimitNOFILE=131072" in lines
    assert "Description=Apache Solr (SolrCloud)" in lines


# --- derived values --------------------------------------------------------------------------

def test_checksum_is_known_for_the_pinned_release_only():
    assert value("solr_checksum").startswith("sha512:23915ba0")
    assert len(value("solr_checksum")) == len("sha512:") + 128
    assert value("solr_checksum", solr_version="9.9.0") == ""
    assert value("solr_archive_name") == "solr-9.10.1.tgz"


@pytest.mark.parametrize("listen, url", [
    ("0.0.0.0", "http://127.0.0.1:8983/solr"), ("10.0.0.5", "http://10.0.0.5:8983/solr"),
    ("fd00::5", "http://[fd00::5]:8983/solr")])
def test_probe_url_follows_the_listen_address(listen, url):
    assert value("__solr_url", solr_listen_address=listen) == url


@pytest.mark.parametrize("facts, expected", [
    ({"distribution": "Debian", "distribution_major_version": "12"}, 17),
    ({"distribution": "Debian", "distribution_major_version": "13"}, 21),
    ({"distribution": "Ubuntu", "distribution_major_version": "24"}, 17),
    ({"os_family": "RedHat", "distribution": "Rocky", "distribution_major_version": "9"}, 17)])
def test_java_version_follows_the_release(facts, expected):
    assert int(value("solr_java_version", ansible_facts=facts)) == expected


def test_templates_start_with_the_managed_comment():
    for path in (rendering.ROLES / ROLE / "templates").rglob("*.j2"):
        assert path.read_text().startswith("{{ ansible_managed | comment }}"), path


# --- cmectl's check of the argument_specs ----------------------------------------------------

@pytest.mark.parametrize("raw, message", [
    ({"solr_mode": "cluster"}, "solr_mode"),
    ({"solr_state": "gone"}, "solr_state"),
    ({"solr_port": "http"}, "solr_port"),
    ({"solr_heap_mb": "lots"}, "solr_heap_mb"),
    ({"solr_collections": [{"shards": 2}]}, "name"),
    ({"solr_collections": [{"name": "a", "shards": "two"}]}, "shards"),
    ({"solr_zookeper_group": "zk"}, "did you mean solr_zookeeper_group"),
])
def test_wrong_input_is_refused_before_any_host_is_touched(raw, message):
    with pytest.raises(VariableError) as err:
        check_package(ROLE, raw)
    assert message in str(err.value)


def test_good_input_is_converted():
    checked = check_package(ROLE, {"solr_port": "8984", "solr_purge_data": "yes",
                                   "solr_collections": [{"name": "products", "shards": "2"}]})
    assert checked.values["solr_port"] == 8984
    assert checked.values["solr_purge_data"] is True
    assert checked.values["solr_collections"][0]["shards"] == 2


# --- the role's front door, run by ansible-playbook -------------------------------------------

DEBIAN12 = {"os_family": "Debian", "distribution": "Debian", "distribution_major_version": "12",
            "distribution_release": "bookworm", "memtotal_mb": 4096,
            "default_ipv4": {"address": "192.0.2.10"}}
DEBIAN10 = {**DEBIAN12, "distribution_major_version": "10", "distribution_release": "buster"}
# The stand-in hosts are in no group but "all" (and "ungrouped"): a SolrCloud case names "all".
CLOUD = {"solr_mode": "cloud", "solr_zookeeper_group": "all"}

# host: (facts, vars, expected) where expected is None for "passes" or a text the failure
# message must contain.
CASES: dict[str, tuple[dict, dict, str | None]] = {
    "standalone_ok": (DEBIAN12, {"solr_collections": [{"name": "catalog"}]}, None),
    "cloud_ok": (DEBIAN12, {**CLOUD, "solr_collections": [{"name": "products", "shards": 2,
                                                           "replicas": 2}]}, None),
    "other_release_with_checksum_ok": (DEBIAN12, {"solr_version": "9.9.0",
                                                  "solr_checksum": "sha512:" + "ab" * 64}, None),
    "absent_skips_release_checks": (DEBIAN12, {"solr_state": "absent", "solr_version": "8.0"},
                                    None),
    "old_debian": (DEBIAN10, {}, "does not support Debian 10"),
    "no_checksum": (DEBIAN12, {"solr_version": "9.9.0"},
                    "The role refuses an archive without a checksum"),
    "solr_8": (DEBIAN12, {"solr_version": "8.11.4", "solr_checksum": "sha512:" + "ab" * 64},
               "solr_version must be a Solr 9 release"),
    "java_8": (DEBIAN12, {"solr_java_version": 8}, "Solr 9 runs on Java 11, 17, 21"),
    "data_in_var": (DEBIAN12, {"solr_data_dir": "/var"}, "must be absolute paths of directories"),
    "data_in_release": (DEBIAN12, {"solr_data_dir": "/opt/solr/data"},
                        "the data must not lie inside solr_install_dir"),
    "small_heap": (DEBIAN12, {"solr_heap_mb": 128},
                   "solr_heap_mb 0 (sized from memory) or at least 256"),
    "opts_with_space": (DEBIAN12, {"solr_java_opts": ["-Dname=a b"]},
                        "each entry of solr_java_opts one option"),
    "duplicate_collections": (DEBIAN12, {"solr_collections": [{"name": "a"}, {"name": "a"}]},
                              "Each entry of solr_collections needs a name"),
    "bad_collection_name": (DEBIAN12, {"solr_collections": [{"name": "my core"}]},
                            "Each entry of solr_collections needs a name"),
    "standalone_shards": (DEBIAN12, {"solr_collections": [{"name": "a", "shards": 2}]},
                          "shards and replicas need SolrCloud"),
    "cloud_without_zookeeper": (DEBIAN12, {"solr_mode": "cloud", "solr_zookeeper_group": "zk"},
                                "solr_zookeeper_group is 'zk', but the inventory has no such"),
    "relative_chroot": (DEBIAN12, {**CLOUD, "solr_zookeeper_chroot": "solr"},
                        "solr_zookeeper_chroot must be a znode path"),
    "host_outside_nodes_group": (DEBIAN12, {**CLOUD, "solr_nodes_group": "ungrouped_nodes"},
                                 "is not in the group of Solr nodes 'ungrouped_nodes'"),
}


class TestFrontDoor(FrontDoor):
    role = ROLE
    cases = CASES


# --- every task file parses and every module resolves ------------------------------------------

def test_syntax_check(tmp_path):
    proc, files = syntax_check_role(tmp_path, ROLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(files) >= 10
