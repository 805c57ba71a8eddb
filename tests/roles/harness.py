"""Helpers the role tests share beyond rendering: Windows facts and a Windows role's scope, a
validate.yml interpreter, the no_log scan, cmectl's argument check, and ansible-playbook runs
(``--syntax-check`` of every task file, validation runs against stand-in facts, argument checks
at run time).

No Windows host can be obtained here; every Windows role records its fact through
cmectl_win_fact, and test_cmectl_win_fact, test_iis, test_active_directory, test_office and
test_dynamics use the Windows helpers below.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from cmectl.catalog import load_catalogue
from cmectl.variables import check_vars
from tests.roles.render import ROLES, expression, role_vars, template_file, trusted

ROOT = ROLES.parent
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

# What ansible.windows.setup reports for a Windows Server 2022 host (gather_subset min).
WINDOWS = {"os_family": "Windows", "distribution": "Microsoft Windows Server 2022 Standard",
           "distribution_version": "10.0.20348.0", "distribution_major_version": "10",
           "hostname": "WEB01", "fqdn": "web01.corp.example.com", "system": "Win32NT",
           "architecture": "64-bit", "memtotal_mb": 8192}
# What setup reports for a Debian 12 and a RHEL 9 host, as far as the roles' front doors look.
DEBIAN12 = {"os_family": "Debian", "distribution": "Debian", "distribution_major_version": "12",
            "distribution_release": "bookworm", "hostname": "host01", "system": "Linux"}
RHEL9 = {**DEBIAN12, "os_family": "RedHat", "distribution": "RedHat",
         "distribution_major_version": "9", "distribution_release": "Plow"}


def check_package(package_id: str, raw: dict, entry_point: str = "main"):
    """cmectl's own check of ``raw`` against the package's argument_specs."""
    catalogue = load_catalogue(ROOT)
    return check_vars(catalogue, [catalogue.get(package_id)], raw, entry_point)


def ansible_playbook(*args: str, timeout: float | None = None,
                     **env: str) -> subprocess.CompletedProcess:
    """``ansible-playbook *args`` from the project's root with its ansible.cfg and roles."""
    environ = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
               "ANSIBLE_ROLES_PATH": str(ROLES), **env}
    return subprocess.run([str(ANSIBLE_PLAYBOOK), *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=timeout, check=False)


def syntax_check_role(tmp_path: Path, role: str) -> tuple[subprocess.CompletedProcess, list]:
    """``--syntax-check`` of the role's main and verify entry points and of every task file and
    its handlers imported one by one. Returns the run and the task files."""
    files = sorted((ROLES / role / "tasks").glob("*.yml"))
    imports = "\n".join(f"    - name: Import {f.name}\n      ansible.builtin.import_tasks: {f}"
                        for f in files)
    (tmp_path / "syntax.yml").write_text(f"""\
- name: The {role} role's entry points
  hosts: all
  gather_facts: false
  tasks:
    - name: Import the main entry point
      ansible.builtin.import_role:
        name: {role}
    - name: Import the verify entry point
      ansible.builtin.import_role:
        name: {role}
        tasks_from: verify
- name: Every task file of the {role} role
  hosts: all
  gather_facts: false
  handlers:
    - name: Handlers
      ansible.builtin.import_tasks: {ROLES / role / "handlers/main.yml"}
  tasks:
{imports}
""")
    proc = ansible_playbook("-i", "localhost,", "--syntax-check", str(tmp_path / "syntax.yml"),
                            timeout=120)
    return proc, files


def validation_run(tmp: Path, role: str, hosts: dict[str, dict]) -> tuple[
        subprocess.CompletedProcess, dict[str, list[dict]]]:
    """Run the role as far as its checks (``--tags <role>_validate``) on one local stand-in host
    per case; each host's ``case_facts`` become its ansible_facts. Returns the run and each
    host's task results."""
    (tmp / "inventory.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    (tmp / "playbook.yml").write_text(f"""\
- name: Validate the {role} role's inputs on stand-in facts
  hosts: all
  gather_facts: false
  tasks:
    - name: Pretend to be the host of this case
      ansible.builtin.set_fact:
        ansible_facts: "{{{{ case_facts }}}}"
      tags: [always]
    - name: Run the role as far as its checks
      ansible.builtin.include_role:
        name: {role}
      tags: [always]
""")
    proc = ansible_playbook("-i", str(tmp / "inventory.yml"), str(tmp / "playbook.yml"),
                            "--tags", f"{role}_validate", timeout=300,
                            ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_FORKS="30",
                            ANSIBLE_DEPRECATION_WARNINGS="false", ANSIBLE_NOCOLOR="1")
    data = json.loads(proc.stdout)
    per_host: dict[str, list[dict]] = {name: [] for name in hosts}
    for play in data["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                per_host[host].append(result)
    return proc, per_host


def validation_cases(tmp: Path, role: str, cases: dict[str, tuple[dict, dict, Any]],
                     common: dict[str, Any] | None = None) -> tuple[
        subprocess.CompletedProcess, dict[str, list[dict]]]:
    """``validation_run`` of a table of cases, ``name -> (facts, variables, expected)``: one
    local stand-in host per case, named after it, each with the ``common`` variables too."""
    hosts = {name: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                    "case_facts": facts, **(common or {}), **variables}
             for name, (facts, variables, _) in cases.items()}
    return validation_run(tmp, role, hosts)


def validation_failure(results: list[dict]) -> str | None:
    """The message of the first failed task among one host's results, None if none failed. For a
    looped check, the message of its first failed item (the task's own says only that an item
    failed)."""
    failed = [r for r in results if r.get("failed")]
    if not failed:
        return None
    items = [r for r in failed[0].get("results", []) if r.get("failed")]
    first = items[0] if items else failed[0]
    return first.get("msg") or json.dumps(first)


def assert_validation(case: str, results: list[dict], expected: str | None) -> None:
    """``case`` of a validation run passed (``expected`` None) or failed with ``expected``."""
    failure = validation_failure(results)
    if expected is None:
        assert failure is None, failure
        assert any(r.get("msg") == "All assertions passed" for r in results), \
            "validate.yml did not run"
    else:
        assert failure is not None, f"{case} passed but should fail with: {expected}"
        assert expected in " ".join(failure.split()), failure


class FrontDoor:
    """The tests every role's front door gets: each case of ``cases`` (``name -> (facts,
    variables, expected)``, expected None for a case that must pass) is checked on its own local
    stand-in host, all in one ``validation_run``, and no string of ``secrets`` appears in what that
    run printed, and nothing was changed. A role's test module subclasses it as ``TestFrontDoor``
    and sets the three; ``media`` names a file the role looks for among the customer's media (a
    stand-in of that name is put in ``cmectl_artifact_dir``: only its name is looked at)."""

    role: str
    cases: dict[str, tuple[dict, dict, str | None]]
    secrets: tuple[str, ...] = ()
    media: str = ""

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "case" in metafunc.fixturenames:
            metafunc.parametrize("case", list(self.cases))

    @pytest.fixture(scope="class")
    @classmethod
    def front_door(cls, tmp_path_factory):
        tmp = tmp_path_factory.mktemp(f"{cls.role}-validate")
        common = {}
        if cls.media:
            (tmp / "media").mkdir()
            (tmp / "media" / cls.media).write_bytes(b"stand-in: only its name is looked at")
            common = {"cmectl_artifact_dir": str(tmp / "media"),
                      "cmectl_artifact_cache": str(tmp / "cache")}
        return validation_cases(tmp, cls.role, cls.cases, common)

    def test_case(self, front_door, case):
        _, per_host = front_door
        assert_validation(case, per_host[case], self.cases[case][2])

    def test_never_prints_a_secret(self, front_door):
        if not self.secrets:
            pytest.skip(f"the {self.role} role takes no secret")
        proc, _ = front_door
        for secret in self.secrets:
            assert secret not in proc.stdout + proc.stderr

    def test_changes_nothing(self, front_door):
        _, per_host = front_door
        for case, results in per_host.items():
            assert not [r for r in results if r.get("changed")], case


@functools.cache
def _role_scope(role: str) -> dict[str, Any]:
    # defaults/main.yml, vars/main.yml (and vars/Windows.yml if a role has one), read once.
    return role_vars(role, ansible_facts=WINDOWS)


def templar(role: str, **overrides: Any) -> Templar:
    """Ansible's templar with the role's defaults and vars, Windows facts and ``overrides``."""
    variables = copy.deepcopy(_role_scope(role))
    variables["ansible_facts"] = {**WINDOWS, **overrides.pop("ansible_facts", {})}
    variables.update(trusted(overrides))
    return Templar(loader=DataLoader(), variables=variables)


def evaluate(role: str, text: str, **overrides: Any) -> Any:
    """One Jinja expression in the role's scope, e.g. a derived ``__role_*`` variable."""
    return expression(templar(role, **overrides), text)


def render_template(role: str, template: str, **overrides: Any) -> str:
    """``roles/<role>/templates/<template>`` rendered as win_template renders it (template files
    keep Jinja's own backslash escapes in string constants; line endings become CRLF on the
    host, not here)."""
    return template_file(templar(role, **overrides), role, template)


def load_tasks(role: str, name: str) -> list[dict]:
    return yaml.safe_load((ROLES / role / "tasks" / name).read_text()) or []


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def failing_asserts(role: str, task_file: str, **overrides: Any) -> list[str]:
    """Names of the assert tasks of ``task_file`` that fail for these variables.

    A small interpreter for validate.yml files: blocks (with their when and vars), asserts
    (with when, vars, loop and loop_var). Other tasks are skipped; validate files hold none.
    """
    failed: list[str] = []

    def true(t: Templar, condition: Any) -> bool:
        if isinstance(condition, bool):
            return condition
        return bool(t.template(trust_as_template("{{ (" + str(condition) + ") | bool }}")))

    def run(tasks: list[dict], extra: dict) -> None:
        for task in tasks:
            scope = {**extra, **(task.get("vars") or {})}
            t = templar(role, **overrides, **trusted(scope))
            if not all(true(t, c) for c in _as_list(task.get("when"))):
                continue
            if "block" in task:
                run(task["block"], scope)
                continue
            args = task.get("ansible.builtin.assert")
            if args is None:
                continue
            loop_var = (task.get("loop_control") or {}).get("loop_var", "item")
            items = t.template(trust_as_template(task["loop"])) if "loop" in task else [None]
            for item in items:
                ti = templar(role, **overrides, **trusted(scope),
                             **({loop_var: item} if "loop" in task else {}))
                if not all(true(ti, c) for c in _as_list(args["that"])):
                    failed.append(task["name"])
                    break

    run(load_tasks(role, task_file), {})
    return failed


def _walk(tasks: list[dict], no_log: Any = False):
    for task in tasks or []:
        inherited = task.get("no_log", no_log)
        for key in ("block", "rescue", "always"):
            if key in task:
                yield from _walk(task[key], inherited)
        if not any(k in task for k in ("block", "rescue", "always")):
            yield task, inherited


JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


def tasks_leaking(role: str, secrets: list[str], handlers: bool = True) -> list[str]:
    """Tasks that pass one of ``secrets`` (variable names) to a module or a message without
    no_log. Only the Jinja parts count (a message may name a variable); conditions (when, that)
    do not print values and are not counted. include_role hands variables to a building block
    that declares them no_log and is checked on its own (its vars are not part of the result)."""
    files = sorted((ROLES / role / "tasks").glob("*.yml"))
    if handlers and (ROLES / role / "handlers" / "main.yml").is_file():
        files.append(ROLES / role / "handlers" / "main.yml")
    leaking = []
    for path in files:
        for task, no_log in _walk(yaml.safe_load(path.read_text()) or []):
            shown = {k: v for k, v in task.items()
                     if k not in ("name", "when", "no_log", "tags", "register", "loop_control",
                                  "changed_when", "failed_when")}
            if "ansible.builtin.include_role" in task:
                shown.pop("vars", None)
            assertion = shown.get("ansible.builtin.assert")
            if isinstance(assertion, dict):
                shown["ansible.builtin.assert"] = {k: v for k, v in assertion.items()
                                                   if k != "that"}
            text = " ".join(JINJA.findall(yaml.safe_dump(shown, width=10_000)))
            if any(re.search(rf"\b{re.escape(s)}\b", text) for s in secrets) and not no_log:
                leaking.append(f"{path.name}: {task.get('name')}")
    return leaking


def syntax_check(tmp_path: Path, plays: list[dict]) -> subprocess.CompletedProcess:
    """``ansible-playbook --syntax-check``: every module name must resolve in the installed
    collections, every task file must parse."""
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    return ansible_playbook("-i", "localhost,", "--syntax-check", str(playbook))


def every_task_file(role: str, role_vars_: dict | None = None) -> list[dict]:
    """A play importing each task file of the role (imports are static, so all of them parse),
    plus one applying the role the way playbooks/apply.yml does."""
    tasks = [{"name": f"Import {f.stem}",
              "ansible.builtin.import_role": {"name": role, "tasks_from": f.stem},
              "vars": role_vars_ or {}}
             for f in sorted((ROLES / role / "tasks").glob("*.yml"))]
    return [{"name": f"Every task file of {role}", "hosts": "all", "gather_facts": False,
             "tasks": tasks},
            {"name": f"Apply {role}", "hosts": "all", "gather_facts": False,
             "roles": [{"role": role, "vars": role_vars_ or {}}]}]


def first_failures(tmp_path: Path, role: str, runs: list[tuple[str, dict]]) -> list[str]:
    """Apply ``role`` on localhost the way playbooks/apply.yml does, once per (entry point,
    variables), and return the name of the first task that failed in each run.

    Ansible validates the variables against meta/argument_specs.yml before the role's first
    task; that first task needs Windows and fails here. So a run whose first failure is not the
    argument check proves the specs accept those variables at run time (defaults templated).
    """
    plays = [{"name": f"{role} {entry} {n}", "hosts": "localhost", "gather_facts": False,
              "tasks": [{"block": [{"name": "Apply", "ansible.builtin.include_role": {
                  "name": role, "tasks_from": entry}, "vars": role_vars_}],
                  "rescue": [{"name": "Report", "ansible.builtin.debug": {
                      "msg": "FIRST-FAILURE {{ ansible_failed_task.name }}"}}]}]}
             for n, (entry, role_vars_) in enumerate(runs)]
    playbook = tmp_path / "apply.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    proc = ansible_playbook("-i", "localhost,", "-c", "local", str(playbook),
                            ANSIBLE_NOCOLOR="1")
    found = re.findall(r'"msg": "FIRST-FAILURE (.*)"', proc.stdout)
    assert len(found) == len(runs), proc.stdout[-3000:] + proc.stderr[-2000:]
    return found
