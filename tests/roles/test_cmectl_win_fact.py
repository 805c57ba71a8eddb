"""The cmectl_win_fact building block, up to the Windows host it cannot reach here.

No Windows host can be obtained, so the win_stat/slurp/win_copy round trip never runs: these
tests check the merge rules (evaluated with Ansible's own templar, the way the role's set_fact
tasks evaluate them), the JSON the role would write, the argument specs, the path that
playbooks/apply.yml reads back, and that every task file parses with the installed collections.

Every Windows role records its fact through this building block, so the helpers the Windows role
tests share (Windows facts, templar, a validate.yml interpreter, the no_log scan, the syntax and
run-time argument checks) live here too; test_iis, test_active_directory, test_office and
test_dynamics import them.
"""

from __future__ import annotations

import base64
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
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

from cmectl.catalog import Package, load_catalogue
from cmectl.errors import VariableError
from cmectl.variables import check_vars
from tests.roles.render import ROLES, role_vars

init_plugin_loader()

ROLE = "cmectl_win_fact"
ROOT = ROLES.parent
NOW = "2025-03-01T10:00:00+00:00"
EARLIER = {"package": "iis", "version": "10.0", "ports": [80, 443], "request_id": "SR-1",
           "installed_at": "2025-01-01T08:00:00+00:00",
           "updated_at": "2025-01-01T08:00:00+00:00"}


# --- helpers the Windows role tests share (test_iis, test_active_directory, test_office,
# test_dynamics import them: every Windows role records its fact through this building block) --

# What ansible.windows.setup reports for a Windows Server 2022 host (gather_subset min).
WINDOWS = {"os_family": "Windows", "distribution": "Microsoft Windows Server 2022 Standard",
           "distribution_version": "10.0.20348.0", "distribution_major_version": "10",
           "hostname": "WEB01", "fqdn": "web01.corp.example.com", "system": "Win32NT",
           "architecture": "64-bit", "memtotal_mb": 8192}


def _trusted(value: Any) -> Any:
    # Values read from a role's YAML are templates in a real run (they refer to each other).
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


@functools.cache
def _role_scope(role: str) -> dict[str, Any]:
    # defaults/main.yml, vars/main.yml (and vars/Windows.yml if a role has one), read once.
    return role_vars(role, ansible_facts=WINDOWS)


def templar(role: str, **overrides: Any) -> Templar:
    """Ansible's templar with the role's defaults and vars, Windows facts and ``overrides``."""
    variables = copy.deepcopy(_role_scope(role))
    variables["ansible_facts"] = {**WINDOWS, **overrides.pop("ansible_facts", {})}
    variables.update(overrides)
    return Templar(loader=DataLoader(), variables=_trusted(variables))


def evaluate(role: str, expression: str, **overrides: Any) -> Any:
    """One Jinja expression in the role's scope, e.g. a derived ``__role_*`` variable."""
    return templar(role, **overrides).template(trust_as_template("{{ " + expression + " }}"))


def render_template(role: str, template: str, **overrides: Any) -> str:
    """``roles/<role>/templates/<template>`` rendered as win_template renders it (template files
    keep Jinja's own backslash escapes in string constants; line endings become CRLF on the
    host, not here)."""
    text = (ROLES / role / "templates" / template).read_text(encoding="utf-8")
    return templar(role, **overrides).template(trust_as_template(text), escape_backslashes=False)


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
            t = templar(role, **overrides, **_trusted(scope))
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
                ti = templar(role, **overrides, **_trusted(scope),
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
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
           "ANSIBLE_ROLES_PATH": str(ROLES)}
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,",
         "--syntax-check", str(playbook)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False)


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
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
           "ANSIBLE_ROLES_PATH": str(ROLES), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c",
         "local", str(playbook)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    found = re.findall(r'"msg": "FIRST-FAILURE (.*)"', proc.stdout)
    assert len(found) == len(runs), proc.stdout[-3000:] + proc.stderr[-2000:]
    return found


def value(expression: str, **overrides: Any) -> Any:
    return evaluate(ROLE, expression, **overrides)


def merged(previous: dict, facts: dict, **overrides: Any) -> dict:
    return value("__cmectl_win_fact_merged", cmectl_win_fact_name="iis",
                 cmectl_win_fact_facts=facts, __cmectl_win_fact_previous=previous,
                 __cmectl_win_fact_now=NOW, **overrides)


# --- merge rules (the same as plugins/modules/cmectl_fact.py's merge()) ---------------------

def test_first_write_records_request_and_both_timestamps():
    fact = merged({}, {"version": "10.0", "ports": [80]}, cmectl_request_id="SR-7")
    assert fact == {"version": "10.0", "ports": [80], "package": "iis", "request_id": "SR-7",
                    "installed_at": NOW, "updated_at": NOW}


def test_first_write_without_a_request_has_no_request_id():
    fact = merged({}, {"version": "10.0"})
    assert fact["request_id"] is None


def test_unchanged_facts_keep_request_and_timestamps():
    fact = merged(EARLIER, {"version": "10.0", "ports": [80, 443]}, cmectl_request_id="SR-9")
    assert fact == EARLIER
    assert value("__cmectl_win_fact_unchanged", cmectl_win_fact_name="iis",
                 cmectl_win_fact_facts={"ports": [80, 443], "version": "10.0"},
                 __cmectl_win_fact_previous=EARLIER) is True


def test_changed_facts_take_this_request_and_keep_installed_at():
    fact = merged(EARLIER, {"version": "10.0", "ports": [80, 8443]}, cmectl_request_id="SR-9")
    assert fact["ports"] == [80, 8443]
    assert fact["request_id"] == "SR-9"
    assert fact["installed_at"] == EARLIER["installed_at"]
    assert fact["updated_at"] == NOW


def test_changed_facts_without_a_request_keep_the_old_request():
    fact = merged(EARLIER, {"version": "10.1", "ports": [80, 443]})
    assert fact["request_id"] == "SR-1"
    assert fact["version"] == "10.1"


def test_facts_compare_after_a_json_round_trip():
    # A tuple or an int-keyed value in the role's facts reads back as what JSON makes of it.
    previous = {**EARLIER, "ports": [80, 443], "paths": {"1": "a"}}
    fact = merged(previous, {"version": "10.0", "ports": (80, 443), "paths": {1: "a"}})
    assert fact == previous


def test_bookkeeping_keys_passed_as_facts_are_overridden():
    fact = merged({}, {"version": "1", "package": "other", "updated_at": "x"},
                  cmectl_request_id="SR-2")
    assert fact["package"] == "iis"
    assert fact["updated_at"] == NOW


def test_the_file_is_ascii_json_sorted():
    fact = merged({}, {"site": "Café", "b": 1, "a": 2}, cmectl_request_id="SR-3")
    text = value("fact | to_nice_json(indent=2, ensure_ascii=true)", fact=fact)
    assert text.isascii()
    assert json.loads(text)["site"] == "Café"
    keys = [line.split('"')[1] for line in text.splitlines() if line.startswith('  "')]
    assert keys == sorted(keys)


# --- the file and what the tasks do with it ------------------------------------------------

def test_the_fact_lives_where_apply_yml_reads_it_back():
    path = value("__cmectl_win_fact_path", cmectl_win_fact_name="active_directory")
    assert path == r"C:\ProgramData\cmectl\facts\active_directory.json"
    apply = (ROOT / "playbooks" / "apply.yml").read_text()
    assert r"fact_path: 'C:\ProgramData\cmectl\facts'" in apply


@pytest.mark.parametrize("text, expected", [
    ('{"version": "1"}', {"version": "1"}),
    ('\n  {"a": [1, 2]}\n', {"a": [1, 2]}),
    ("", {}),
    ("not json", {}),
    ("[1, 2]", {}),
])
def test_reading_back_a_fact_file(text, expected):
    tasks = yaml.safe_load((ROLES / ROLE / "tasks" / "read.yml").read_text())
    parse = next(t for t in tasks if t["name"] == "Parse the fact file")

    def expression(template: str) -> str:
        return template.strip().removeprefix("{{").removesuffix("}}")

    slurp = {"content": base64.b64encode(text.encode()).decode()}
    decoded = value(expression(parse["vars"]["__cmectl_win_fact_text"]),
                    __cmectl_win_fact_slurp=slurp,
                    __cmectl_win_fact_stat={"stat": {"exists": True}})
    assert decoded == text
    result = value(expression(parse["ansible.builtin.set_fact"]["cmectl_win_fact_current"]),
                   __cmectl_win_fact_text=decoded)
    assert result == expected


def test_no_fact_file_reads_as_empty():
    tasks = yaml.safe_load((ROLES / ROLE / "tasks" / "read.yml").read_text())
    parse = next(t for t in tasks if t["name"] == "Parse the fact file")
    text = value(parse["vars"]["__cmectl_win_fact_text"].strip().strip("{}"),
                 __cmectl_win_fact_stat={"stat": {"exists": False}})
    assert text == ""


def test_the_file_is_only_written_when_something_changed():
    tasks = yaml.safe_load((ROLES / ROLE / "tasks" / "main.yml").read_text())
    block = next(t for t in tasks if "block" in t)["block"]
    write = next(t for t in block if "ansible.windows.win_copy" in t)
    assert write["when"] == "not __cmectl_win_fact_unchanged | bool"


# --- argument specs, through cmectl's own validation -------------------------------------

PKG = Package(id="cmectl-win-fact", name="building block", role=ROLE, group="", kind="",
              seed="", status="planned", platforms={"Windows": ["2019", "2022"]},
              verbs=("install",), ports=())


@pytest.mark.parametrize("raw, message", [
    ({"cmectl_win_fact_state": "latest"}, "cmectl_win_fact_state"),
    ({"cmectl_win_fact_facts": ["version", "1"]}, "cmectl_win_fact_facts"),
    ({"cmectl_win_fact_nmae": "iis"}, "did you mean cmectl_win_fact_name"),
])
def test_argument_specs_refuse_wrong_input(raw, message):
    with pytest.raises(VariableError) as err:
        check_vars(load_catalogue(ROOT), [PKG], raw)
    assert message in str(err.value)


def test_argument_specs_accept_good_input():
    checked = check_vars(load_catalogue(ROOT), [PKG],
                         {"cmectl_win_fact_name": "iis", "cmectl_win_fact_state": "absent",
                          "cmectl_win_fact_facts": {"version": "10.0"}})
    assert checked.values["cmectl_win_fact_state"] == "absent"


def test_defaults_and_argument_specs_agree():
    defaults = yaml.safe_load((ROLES / ROLE / "defaults/main.yml").read_text())
    specs = yaml.safe_load((ROLES / ROLE / "meta/argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    for name, default in defaults.items():
        assert options[name]["default"] == default
    readme = (ROLES / ROLE / "README.md").read_text()
    assert [n for n in options if n not in readme] == []


def test_ansible_checks_the_arguments_at_run_time(tmp_path):
    first = first_failures(tmp_path, ROLE, [
        ("main", {"cmectl_win_fact_name": "iis", "cmectl_win_fact_facts": {"version": "1"}}),
        ("read", {"cmectl_win_fact_name": "iis"}),
        ("main", {}),
        ("main", {"cmectl_win_fact_name": "iis", "cmectl_win_fact_state": "latest"})])
    assert first[:2] == ["Look for the fact file", "Look for the fact file"]
    assert all(f.startswith("Validating arguments") for f in first[2:])


# --- every module name resolves in the installed collections -------------------------------

def test_syntax_check(tmp_path):
    proc = syntax_check(tmp_path, every_task_file(ROLE, {"cmectl_win_fact_name": "iis"}))
    assert proc.returncode == 0, proc.stdout + proc.stderr
