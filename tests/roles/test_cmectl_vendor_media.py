"""The shared vendor-media pattern (roles/cmectl_vendor_media) and the helpers the six suite roles'
tests use.

No vendor media can be obtained here, so the unpack step, the silent installers and the services
never run: these tests check what the role would hand them (systemd unit, response file, limits),
the suites' mapping onto the shared role's inputs, argument_specs rejecting wrong input, that no
secret reaches a file that must not hold one, and that the roles parse (`--syntax-check`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from cmectl.errors import VariableError
from tests.roles.harness import check_package
from tests.roles.harness import syntax_check as harness_syntax_check
from tests.roles.render import ROLES, render
from tests.roles.render import value as role_value

ROOT = ROLES.parent
SHARED = "cmectl_vendor_media"
DB_PASSWORD = "Db-S3cret-pw!"
LICENSE_KEY = "LIC-0123-4567-89AB"
JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
# What a run has set by the time the templates are written (the jdk role's result).
RUN_VARS = {"jdk_java_home": JAVA_HOME}


def suite_inputs(role: str, family: str = "Debian", **overrides: Any) -> tuple[dict, dict]:
    """What a suite role hands the shared role: (cmectl_vendor_media_suite, secrets)."""
    facts = {"os_family": family} if family != "Debian" else {}
    scope = {"family": family, "ansible_facts": facts, **RUN_VARS, **overrides}
    suite = role_value(role, f"__{role}_suite", **scope)
    return suite, role_value(role, f"__{role}_secrets", **scope)


def _shared_scope(suite: dict, secrets: dict | None, overrides: dict[str, Any]) -> dict[str, Any]:
    return {**RUN_VARS, **overrides, "cmectl_vendor_media_suite": suite,
            "cmectl_vendor_media_secrets": secrets or {}}


def render_shared(template: str, suite: dict, secrets: dict | None = None, **overrides: Any) -> str:
    return render(SHARED, template, **_shared_scope(suite, secrets, overrides))


def shared_value(
    expression: str, suite: dict, secrets: dict | None = None, **overrides: Any
) -> Any:
    return role_value(SHARED, expression, **_shared_scope(suite, secrets, overrides))


UNIT = "etc/systemd/system/vendor.service.j2"
RESPONSE = "opt/response.properties.j2"
LIMITS = "etc/security/limits.d/vendor.conf.j2"


def suite_files(role: str, **overrides: Any) -> dict[str, str]:
    """The unit, response file and limits file a suite role would write, with secrets set."""
    suite, secrets = suite_inputs(
        role,
        **{f"{role}_db_password": DB_PASSWORD, f"{role}_license_key": LICENSE_KEY, **overrides},
    )
    return {
        "unit": render_shared(UNIT, suite, secrets),
        "response": render_shared(RESPONSE, suite, secrets),
        "limits": render_shared(LIMITS, suite, secrets),
    }


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, val = line.partition("=")
            settings.setdefault(key, []).append(val)
    return settings


def properties(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def rejects(package_id: str, variables: dict, entry_point: str = "main") -> str:
    with pytest.raises(VariableError) as err:
        check_package(package_id, variables, entry_point)
    return str(err.value)


def accepts(package_id: str, variables: dict) -> None:
    check_package(package_id, variables)


def syntax_check(
    tmp_path: Path, role: str, role_vars_: dict | None = None
) -> subprocess.CompletedProcess:
    """``ansible-playbook --syntax-check`` of a play applying the role and one verifying it."""
    plays = [
        {
            "name": f"Apply {role}",
            "hosts": "all",
            "gather_facts": False,
            "roles": [{"role": role, "vars": role_vars_ or {}}],
        },
        {
            "name": f"Verify {role}",
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Verify",
                    "ansible.builtin.include_role": {"name": role, "tasks_from": "verify"},
                }
            ],
        },
    ]
    return harness_syntax_check(tmp_path, plays)


def no_log_on_secret_tasks(role: str) -> list[str]:
    """Tasks of the role that handle the secrets or the response file without no_log."""
    leaking = []
    for path in sorted((ROLES / role / "tasks").glob("*.yml")):
        for task in yaml.safe_load(path.read_text()) or []:
            text = yaml.safe_dump(task)
            handles = any(
                s in text
                for s in (
                    "_password",
                    "license_key",
                    "secrets",
                    "response_path",
                    "installer_command",
                )
            )
            if handles and "ansible.builtin.template" in task and not task.get("no_log"):
                leaking.append(f"{path.name}: {task['name']}")
            if (
                "ansible.builtin.command" in task
                and "installer_command" in text
                and not task.get("no_log")
            ):
                leaking.append(f"{path.name}: {task['name']}")
    return leaking


# --- the shared role on its own -------------------------------------------------------------

MINIMAL = {
    "name": "demo_suite",
    "title": "Demo Suite",
    "java_version": 17,
    "heap_mb": 0,
    "limits": {"nofile": 65536, "nproc": 4096},
    "ports": [8080],
    "media": [{"file": "demo.zip", "checksum": "sha256:" + "a" * 64}],
    "service": {"exec_start": "/opt/demo_suite/bin/run.sh", "type": "simple"},
    "manual_steps": ["Import the licence"],
}


def test_unit_runs_the_suite_as_its_user_with_java_and_a_heap_from_memory():
    unit = render_shared(UNIT, MINIMAL)
    settings = unit_settings(unit)
    assert unit.startswith("#")
    assert settings["User"] == ["demo_suite"] and settings["Group"] == ["demo_suite"]
    assert settings["ExecStart"] == ["/opt/demo_suite/bin/run.sh"]
    assert "ExecStop" not in settings
    assert settings["WorkingDirectory"] == ["/opt/demo_suite"]
    assert f'"JAVA_HOME={JAVA_HOME}"' in settings["Environment"]
    # 50 % of the 4096 MB the test facts give the host.
    assert (
        '"JAVA_OPTS=-Xms2048m -Xmx2048m -Dfile.encoding=UTF-8 -Djava.awt.headless=true"'
        in settings["Environment"]
    )
    assert settings["LimitNOFILE"] == ["65536"] and settings["LimitNPROC"] == ["4096"]
    assert settings["WantedBy"] == ["multi-user.target"]


def test_heap_has_a_floor_and_an_explicit_value_wins():
    assert (
        int(
            shared_value(
                "__cmectl_vendor_media_heap_mb", MINIMAL, ansible_facts={"memtotal_mb": 512}
            )
        )
        == 512
    )
    assert int(shared_value("__cmectl_vendor_media_heap_mb", {**MINIMAL, "heap_mb": 3000})) == 3000


def test_suite_without_java_gets_no_java_environment():
    settings = unit_settings(render_shared(UNIT, {**MINIMAL, "java_version": 0}))
    assert not any(e.startswith(('"JAVA_HOME', '"JAVA_OPTS')) for e in settings["Environment"])


def test_forking_service_with_stop_command_and_environment():
    suite = {
        **MINIMAL,
        "service": {
            "exec_start": "/x/start.sh",
            "exec_stop": "/x/stop.sh",
            "type": "forking",
            "pid_file": "/run/x.pid",
            "environment": {"APP_MODE": "prod"},
        },
    }
    settings = unit_settings(render_shared(UNIT, suite))
    assert settings["Type"] == ["forking"]
    assert settings["ExecStop"] == ["/x/stop.sh"]
    assert settings["PIDFile"] == ["/run/x.pid"]
    assert '"APP_MODE=prod"' in settings["Environment"]


def test_response_file_holds_answers_and_secrets_sorted():
    text = render_shared(
        RESPONSE, {**MINIMAL, "response": {"B": "2", "A": "1"}}, {"PASSWORD": DB_PASSWORD}
    )
    assert properties(text) == {"A": "1", "B": "2", "PASSWORD": DB_PASSWORD}


def test_limits_file_sets_soft_and_hard_limits_for_the_user():
    lines = [
        line for line in render_shared(LIMITS, MINIMAL).splitlines() if not line.startswith("#")
    ]
    assert lines == [
        "demo_suite soft nofile 65536",
        "demo_suite hard nofile 65536",
        "demo_suite soft nproc 4096",
        "demo_suite hard nproc 4096",
    ]


def test_derived_paths_default_from_the_name():
    assert shared_value("__cmectl_vendor_media_install_dir", MINIMAL) == "/opt/demo_suite"
    assert shared_value("__cmectl_vendor_media_home_dir", MINIMAL) == "/var/lib/demo_suite"
    assert shared_value("__cmectl_vendor_media_unit", MINIMAL) == "demo-suite.service"
    assert (
        shared_value(
            "__cmectl_vendor_media_response_path", {**MINIMAL, "response_file": "r.properties"}
        )
        == "/var/cache/cmectl/demo_suite/r.properties"
    )


def test_secret_tasks_are_hidden():
    assert no_log_on_secret_tasks(SHARED) == []
    specs = yaml.safe_load((ROLES / SHARED / "meta/argument_specs.yml").read_text())
    assert (
        specs["argument_specs"]["main"]["options"]["cmectl_vendor_media_secrets"]["no_log"] is True
    )


def test_fact_carries_the_checklist_and_no_secret():
    record = (ROLES / SHARED / "tasks/record.yml").read_text()
    assert "manual_steps:" in record
    fact_task = yaml.safe_load(record)[0]["cmectl_fact"]["facts"]
    assert not any(
        s in yaml.safe_dump(fact_task) for s in ("secrets", "password", "license_key", "response")
    )


def test_syntax_check(tmp_path):
    result = syntax_check(tmp_path, SHARED, {"cmectl_vendor_media_suite": {"name": "demo_suite"}})
    assert result.returncode == 0, result.stdout + result.stderr
