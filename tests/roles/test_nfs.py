"""The nfs role's generated files, derived values and input checks.

Molecule runs NFS-Ganesha with one client whose kernel mount is only written and enabled (the
kernel where it runs has no NFS). These cover what it does not: the kernel server's exports file,
the Ganesha configuration for other inputs, mount units, the defaults a mount takes from the
inventory, which recorded mounts count as stale, and validate.yml's refusals.
"""

from __future__ import annotations

import pytest

from cmectl.errors import VariableError
from tests.roles import harness
from tests.roles import render as rendering

ROLE = "nfs"
DEBIAN = {"os_family": "Debian", "distribution": "Debian", "distribution_major_version": "12"}
GROUPS = {"nfs_servers": ["files01"], "nfs_clients": ["app01", "app02"]}
HOSTVARS = {"files01": {"ansible_host": "10.0.0.5"}, "app01": {}, "app02": {}}


def value(expression, **variables):
    return rendering.value(
        ROLE, expression, **{"groups": GROUPS, "hostvars": HOSTVARS, **variables}
    )


def render(template, **variables):
    return rendering.render(ROLE, template, **{"groups": GROUPS, "hostvars": HOSTVARS, **variables})


def failing(**variables):
    scope = {
        "ansible_facts": DEBIAN,
        "groups": GROUPS,
        "hostvars": HOSTVARS,
        "inventory_hostname": "app01",
        **variables,
    }
    return harness.failing_asserts(ROLE, "validate.yml", **scope)


EXPORTS = [
    {"path": "/srv/nfs/share", "clients": ["10.0.0.0/24", "app01.example"], "squash": "none"},
    {"path": "/srv/nfs/public", "access": "ro", "pseudo": "/public", "options": ["async"]},
]


def test_kernel_exports_file_has_one_line_per_export_with_options_per_client():
    lines = [
        line
        for line in render("etc/exports.d/cmectl.exports.j2", nfs_exports=EXPORTS).splitlines()
        if line and not line.startswith("#")
    ]
    assert lines == [
        "/srv/nfs/share 10.0.0.0/24(rw,no_root_squash,sync,no_subtree_check)"
        " app01.example(rw,no_root_squash,sync,no_subtree_check)",
        "/srv/nfs/public *(ro,root_squash,async)",
    ]


def test_ganesha_exports_the_same_list_with_pseudo_paths_and_client_blocks():
    conf = render("etc/ganesha/ganesha.conf.j2", nfs_exports=EXPORTS, nfs_ganesha_grace_period=120)
    blocks = conf.split("EXPORT {")[1:]
    assert len(blocks) == 2
    assert "Export_Id = 1;" in blocks[0] and 'Path = "/srv/nfs/share";' in blocks[0]
    assert 'Pseudo = "/srv/nfs/share";' in blocks[0]  # defaults to the path
    assert "Squash = No_Root_Squash;" in blocks[0]
    assert "Clients = 10.0.0.0/24, app01.example;" in blocks[0] and "Access_Type = RW;" in blocks[0]
    assert 'Pseudo = "/public";' in blocks[1] and "Access_Type = RO;" in blocks[1]
    assert "Squash = Root_Squash;" in blocks[1] and "Clients = *;" in blocks[1]
    assert "Name = VFS;" in blocks[1]
    assert "Grace_Period = 120;" in conf and "Lease_Lifetime = 60;" in conf
    assert "Anonymous_Uid = 65534;" in conf


def test_mount_unit_mounts_the_export_after_the_network():
    unit = render(
        "etc/systemd/system/nfs.mount.j2",
        __nfs_mount={
            "server": "[fd00::5]",
            "export": "/srv/nfs/share",
            "path": "/mnt/share",
            "fstype": "nfs4",
            "options": ["vers=4.2", "hard"],
        },
    )
    assert "What=[fd00::5]:/srv/nfs/share\n" in unit
    assert "Where=/mnt/share\nType=nfs4\nOptions=vers=4.2,hard,_netdev\n" in unit
    assert "After=network-online.target" in unit and "WantedBy=remote-fs.target" in unit


def test_mounts_default_to_the_first_server_of_the_group_and_the_role_method():
    mounts = value(
        "__nfs_mounts",
        nfs_mounts=[
            {"path": "/mnt/a", "export": "/srv/a"},
            {
                "path": "/mnt/b",
                "export": "/b",
                "server": "other",
                "method": "fstab",
                "options": ["ro"],
            },
        ],
    )
    assert mounts[0] == {
        "path": "/mnt/a",
        "export": "/srv/a",
        "server": "10.0.0.5",
        "fstype": "nfs",
        "options": ["defaults"],
        "method": "systemd",
    }
    assert (mounts[1]["server"], mounts[1]["method"], mounts[1]["options"]) == (
        "other",
        "fstab",
        ["ro"],
    )
    assert value("nfs_mount_server", groups={}) == ""
    hostvars = {"files01": {}}
    assert value("nfs_mount_server", hostvars=hostvars) == "files01"


@pytest.mark.parametrize(
    "host, server, client",
    [("files01", True, False), ("app02", False, True), ("db01", False, False)],
)
def test_what_a_host_is_comes_from_the_groups(host, server, client):
    assert value("[__nfs_is_server | bool, __nfs_is_client | bool]", inventory_hostname=host) == [
        server,
        client,
    ]


def test_recorded_mounts_no_longer_listed_or_moved_to_another_method_are_stale():
    previous = [
        {"path": "/mnt/a", "method": "systemd", "unit": "mnt-a.mount"},
        {"path": "/mnt/b", "method": "systemd", "unit": "mnt-b.mount"},
        {"path": "/mnt/c", "method": "fstab", "unit": "mnt-c.mount"},
    ]
    stale = value(
        "__nfs_stale_mounts",
        __nfs_previous_mounts=previous,
        __nfs_unit_names=["mnt-a.mount", "mnt-b.mount"],
        nfs_mounts=[
            {"path": "/mnt/a", "export": "/a"},
            {"path": "/mnt/b", "export": "/b", "method": "fstab"},
        ],
    )
    assert [m["path"] for m in stale] == ["/mnt/b", "/mnt/c"]


GOOD = {
    "nfs_exports": [{"path": "/srv/nfs/share"}],
    "nfs_mounts": [{"path": "/mnt/share", "export": "/srv/nfs/share"}],
}


def test_good_server_and_client_pass():
    assert failing(**GOOD) == []
    assert failing(**GOOD, inventory_hostname="files01") == []


@pytest.mark.parametrize(
    "host, change, check",
    [
        ("db01", {}, "Check that the host has something to do"),
        ("files01", {"nfs_exports": []}, "Check that the server has exports"),
        ("files01", {"nfs_exports": [{"path": "srv/share"}]}, "Check each export"),
        (
            "files01",
            {"nfs_exports": [{"path": "/srv/a", "clients": ["10.0.0.0/24(rw)"]}]},
            "Check each export",
        ),
        (
            "files01",
            {"nfs_exports": [{"path": "/srv/a", "options": ["rw,sync"]}]},
            "Check each export",
        ),
        (
            "files01",
            {"nfs_exports": [{"path": "/srv/a"}, {"path": "/srv/b", "pseudo": "/srv/a"}]},
            "Check that export paths and pseudo paths are unique",
        ),
        (
            "files01",
            {"nfs_server_implementation": "ganesha", "nfs_ganesha_grace_period": 0},
            "Check the grace period of NFS-Ganesha",
        ),
        (
            "app01",
            {
                "nfs_mounts": [{"path": "/mnt/x", "export": "/x"}],
                "groups": {"nfs_clients": ["app01"]},
            },
            "Check each mount",
        ),
        ("app01", {"nfs_mounts": [{"path": "/mnt/my share", "export": "/x"}]}, "Check each mount"),
        (
            "app01",
            {"nfs_mounts": [{"path": "/mnt/x", "export": "/x", "server": "a b"}]},
            "Check each mount",
        ),
        (
            "app01",
            {
                "nfs_mounts": [
                    {"path": "/mnt/x", "export": "/x"},
                    {"path": "/mnt/x", "export": "/y"},
                ]
            },
            "Check that mount points are unique",
        ),
    ],
)
def test_wrong_input_is_refused(host, change, check):
    assert check in failing(**{**GOOD, **change, "inventory_hostname": host})


def test_uninstall_needs_no_group():
    assert failing(nfs_state="absent", inventory_hostname="db01") == []


def test_every_task_file_parses(tmp_path):
    proc, files = harness.syntax_check_role(tmp_path, ROLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(files) >= 10


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"nfs_server_implementation": "ganesa"}, "must be one of: kernel, ganesha"),
        ({"nfs_exports": [{"path": "/srv/a", "access": "rwx"}]}, "must be one of: rw, ro"),
        ({"nfs_mounts": [{"path": "/mnt/a"}]}, "export"),
    ],
)
def test_cmectl_refuses_wrong_variables_before_any_run(raw, expected):
    with pytest.raises(VariableError, match=expected):
        harness.check_package("nfs", raw)
