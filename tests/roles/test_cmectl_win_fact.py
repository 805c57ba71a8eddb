"""The cmectl_win_fact building block, up to the Windows host it cannot reach here.

No Windows host can be obtained, so the win_stat/slurp/win_copy round trip never runs: these
tests check the merge rules (evaluated with Ansible's own templar, the way the role's set_fact
tasks evaluate them), the JSON the role would write, the argument specs, the path that
playbooks/apply.yml reads back, and that every task file parses with the installed collections.

The helpers the Windows role tests share (Windows facts, templar, a validate.yml interpreter, the
no_log scan, the syntax and run-time argument checks) live in tests/roles/harness.py.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml

from cmectl.catalog import Package, load_catalogue
from cmectl.errors import VariableError
from cmectl.variables import check_vars
from tests.roles.harness import ROOT, evaluate, every_task_file, first_failures, syntax_check
from tests.roles.render import ROLES

ROLE = "cmectl_win_fact"
NOW = "2025-03-01T10:00:00+00:00"
EARLIER = {"package": "iis", "version": "10.0", "ports": [80, 443], "request_id": "SR-1",
           "installed_at": "2025-01-01T08:00:00+00:00",
           "updated_at": "2025-01-01T08:00:00+00:00"}


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
