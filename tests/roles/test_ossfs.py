"""The ossfs role's generated files, derived values and input checks.

Molecule mounts two buckets with the s3fs backend from a local S3 server; Aliyun's ossfs package
cannot be obtained here. These cover the ossfs backend's files, the credentials file for keys per
bucket, the mount options, and validate.yml's refusals, whose messages name buckets, never keys.
"""

from __future__ import annotations

import pytest

from cmectl.errors import VariableError
from tests.roles import harness
from tests.roles import render as rendering

ROLE = "ossfs"
DEBIAN = {"os_family": "Debian", "distribution": "Debian", "distribution_major_version": "12"}
SECRET = "Secret-of-the-role-1"
OTHER_SECRET = "Secret-of-bucket-b-2"
KEYS = {
    "ossfs_access_key_id": "LTAIROLE",
    "ossfs_access_key_secret": SECRET,
    "ossfs_endpoint": "https://oss-cn-hangzhou-internal.aliyuncs.com",
}
MOUNTS = [
    {"bucket": "bucket-a", "path": "/mnt/a", "cache_dir": "/var/cache/ossfs-a"},
    {
        "bucket": "bucket-b",
        "path": "/mnt/b",
        "access_key_id": "LTAIB",
        "access_key_secret": OTHER_SECRET,
        "allow_other": False,
        "options": ["uid=1000", "ro"],
        "endpoint": "http://10.0.0.9:9000",
    },
]


def value(expression, **variables):
    return rendering.value(ROLE, expression, **{**KEYS, "ossfs_mounts": MOUNTS, **variables})


def render(template, **variables):
    return rendering.render(ROLE, template, **{**KEYS, "ossfs_mounts": MOUNTS, **variables})


def failing(**variables):
    return harness.failing_asserts(
        ROLE,
        "validate.yml",
        **{"ansible_facts": DEBIAN, **KEYS, "ossfs_mounts": MOUNTS, **variables},
    )


def test_backend_is_ossfs_only_with_its_package():
    assert value("ossfs_backend") == "s3fs"
    assert value("ossfs_backend", ossfs_package="ossfs_1.91.4_ubuntu22.04_amd64.deb") == "ossfs"


def test_credentials_file_has_one_line_per_bucket_with_its_own_or_the_roles_keys():
    text = render("etc/passwd-ossfs.j2")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines == [f"bucket-a:LTAIROLE:{SECRET}", f"bucket-b:LTAIB:{OTHER_SECRET}"]


@pytest.mark.parametrize(
    "backend, fstype, credentials",
    [("s3fs", "fuse.s3fs", "/etc/passwd-s3fs"), ("ossfs", "fuse.ossfs", "/etc/passwd-ossfs")],
)
def test_mount_unit_carries_endpoint_credentials_file_cache_and_options_but_no_key(
    backend, fstype, credentials
):
    mounts = value("__ossfs_mounts")
    unit_a = render(
        "etc/systemd/system/ossfs.mount.j2", ossfs_backend=backend, __ossfs_mount=mounts[0]
    )
    unit_b = render(
        "etc/systemd/system/ossfs.mount.j2", ossfs_backend=backend, __ossfs_mount=mounts[1]
    )
    assert f"What=bucket-a\nWhere=/mnt/a\nType={fstype}\n" in unit_a
    assert (
        f"Options=_netdev,allow_other,url=https://oss-cn-hangzhou-internal.aliyuncs.com,"
        f"passwd_file={credentials},use_cache=/var/cache/ossfs-a\n"
    ) in unit_a
    assert (
        f"Options=_netdev,url=http://10.0.0.9:9000,passwd_file={credentials},uid=1000,ro\n"
        in unit_b
    )
    for unit in (unit_a, unit_b):
        assert SECRET not in unit and OTHER_SECRET not in unit and "LTAI" not in unit
        assert "WantedBy=remote-fs.target" in unit


def test_the_mounts_the_tasks_loop_over_hold_no_key():
    text = str(value("__ossfs_mounts"))
    assert SECRET not in text and OTHER_SECRET not in text and "LTAI" not in text


def test_recorded_mounts_no_longer_listed_are_stale():
    previous = [
        {"path": "/mnt/a", "method": "systemd", "unit": "mnt-a.mount", "cache_dir": ""},
        {
            "path": "/mnt/old",
            "method": "fstab",
            "unit": "mnt-old.mount",
            "cache_dir": "/var/cache/old",
        },
    ]
    stale = value(
        "__ossfs_stale_mounts",
        __ossfs_previous_mounts=previous,
        __ossfs_unit_names=["mnt-a.mount", "mnt-b.mount"],
    )
    assert stale == [previous[1]]


def test_good_input_passes():
    assert failing() == []
    assert (
        failing(
            ossfs_package="ossfs_1.91.4_ubuntu22.04_amd64.deb",
            ossfs_package_checksum="sha256:" + "ab" * 32,
        )
        == []
    )


@pytest.mark.parametrize(
    "change, check",
    [
        ({"ossfs_backend": "ossfs"}, "Check that the ossfs backend has its package"),
        (
            {"ossfs_package": "ossfs.rpm", "ossfs_package_checksum": "sha256:" + "ab" * 32},
            "Check that the ossfs backend has its package",
        ),
        ({"ossfs_package": "ossfs.deb"}, "Check that the ossfs backend has its package"),
        ({"ossfs_mounts": []}, "Check that there is something to mount"),
        ({"ossfs_mounts": [{"bucket": "Bucket_A", "path": "/mnt/a"}]}, "Check each mount"),
        ({"ossfs_mounts": [{"bucket": "bucket-a", "path": "mnt/a"}]}, "Check each mount"),
        ({"ossfs_endpoint": "oss-cn-hangzhou.aliyuncs.com"}, "Check each mount"),
        (
            {
                "ossfs_mounts": [
                    {"bucket": "bucket-a", "path": "/mnt/a", "options": ["url=http://x"]}
                ]
            },
            "Check each mount",
        ),
        (
            {"ossfs_mounts": [{"bucket": "bucket-a", "path": "/mnt/a", "cache_dir": "/mnt/a"}]},
            "Check each mount",
        ),
        (
            {
                "ossfs_mounts": [
                    {"bucket": "bucket-a", "path": "/mnt/a"},
                    {"bucket": "bucket-b", "path": "/mnt/a"},
                ]
            },
            "Check that mount points and cache directories are unique",
        ),
        ({"ossfs_access_key_secret": ""}, "Check that every bucket has one usable AccessKey pair"),
        (
            {"ossfs_access_key_id": "LTAI:X"},
            "Check that every bucket has one usable AccessKey pair",
        ),
        (
            {"ossfs_mounts": [*MOUNTS, {"bucket": "bucket-b", "path": "/mnt/b2"}]},
            "Check that every bucket has one usable AccessKey pair",
        ),
    ],
)
def test_wrong_input_is_refused(change, check):
    assert check in failing(**change)


def test_key_problems_are_reported_by_bucket_without_the_keys(tmp_path):
    hosts = {
        "client": {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "case_facts": DEBIAN,
            **KEYS,
            "ossfs_access_key_secret": "",
            "ossfs_mounts": [*MOUNTS, {"bucket": "bucket-b", "path": "/mnt/b2"}],
        }
    }
    proc, results = harness.validation_run(tmp_path, ROLE, hosts)
    message = harness.validation_failure(results["client"])
    assert message and "bucket-a" in message and "bucket-b" in message, proc.stdout[-2000:]
    assert OTHER_SECRET not in proc.stdout and "LTAIB" not in proc.stdout


def test_uninstall_needs_no_mounts_or_keys():
    assert failing(ossfs_state="absent", ossfs_mounts=[], ossfs_access_key_secret="") == []


def test_no_task_shows_a_key():
    assert (
        harness.tasks_leaking(
            ROLE,
            [
                "ossfs_access_key_secret",
                "ossfs_access_key_id",
                "ossfs_mounts",
                "__ossfs_credentials",
            ],
        )
        == []
    )


def test_every_task_file_parses(tmp_path):
    proc, files = harness.syntax_check_role(tmp_path, ROLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(files) >= 10


def test_cmectl_refuses_wrong_variables_without_showing_keys():
    raw = {
        "ossfs_mounts": [{"bucket": "b", "path": "/m", "access_key_secret": SECRET, "methd": "x"}]
    }
    with pytest.raises(VariableError, match="methd") as refused:
        harness.check_package("ossfs", raw)
    assert SECRET not in str(refused.value)
    with pytest.raises(VariableError, match="must be one of: ossfs, s3fs"):
        harness.check_package("ossfs", {"ossfs_backend": "goofys"})
