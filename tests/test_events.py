"""The event reducer against job events recorded from real runs on a 3-host lab."""

from __future__ import annotations

import pytest

from cmectl.events import EventReducer
from tests.conftest import load_events

HOSTS = ("lab-1", "lab-2", "lab-3")


def reduce(name: str, hosts=HOSTS, interrupted: bool = False):
    reducer = EventReducer(hosts)
    updates = [u for e in load_events(name) if (u := reducer.feed(e))]
    return reducer, {r.host: r for r in reducer.results(interrupted)}, updates


def test_first_install_changes_every_host_and_reads_back_the_fact():
    _, results, updates = reduce("installed")
    assert {r.status for r in results.values()} == {"changed"}
    for r in results.values():
        assert r.changed == 3 and r.failed == 0
        assert r.installed["nginx"]["version"]
        assert r.started_at < r.ended_at
    assert {u.host for u in updates if u.state == "done"} == set(HOSTS)


def test_second_run_reports_no_change():
    _, results, _ = reduce("idempotent")
    assert {(r.status, r.changed) for r in results.values()} == {("ok", 0)}


def test_failed_task_names_the_task_and_message():
    _, results, updates = reduce("task_failed", hosts=("lab-2",))
    r = results["lab-2"]
    assert r.status == "failed"
    assert r.failed_task == "nginx : Fail on demand"
    assert r.message == "asked to fail"
    assert updates[-1].state == "failed"


def test_failed_loop_reports_its_first_failed_item():
    # Recorded from cmectl install svn on a lab host before cmectl stopped handing roles None for
    # sub-options left out: the role's looped check of each repository's rules failed on its
    # item; the task's own message says only that "One or more items failed".
    _, results, _ = reduce("loop_failed", hosts=("lab-1",))
    r = results["lab-1"]
    assert r.status == "failed"
    assert r.failed_task == "svn : Check the access rules of each repository"
    assert r.message.startswith("Task failed: The filter plugin 'ansible.builtin.length' failed")


def test_unreachable_host_closes_the_gate_and_no_host_is_touched():
    reducer, results, _ = reduce("gate_unreachable")
    assert reducer.gate_closed
    assert results["lab-3"].status == "unreachable"
    assert "Connection refused" in results["lab-3"].message
    for name in ("lab-1", "lab-2"):
        assert results[name].status == "aborted"
        assert results[name].failed == 0
        assert "lab-3 unreachable" in results[name].message


def test_skip_unreachable_goes_on_with_the_others():
    reducer, results, _ = reduce("skip_unreachable")
    assert not reducer.gate_closed
    assert results["lab-3"].status == "unreachable"
    assert results["lab-1"].status == results["lab-2"].status == "changed"


def test_rollout_stopped_by_max_fail_marks_later_batches_not_run():
    _, results, _ = reduce("serial_max_fail")
    assert results["lab-1"].status == "failed"
    assert results["lab-2"].status == results["lab-3"].status == "not_run"


def test_interrupted_run_marks_hosts_in_flight():
    _, results, _ = reduce("interrupted", interrupted=True)
    for r in results.values():
        assert r.status == "interrupted"
        assert "Sleep on demand" in r.message


def test_check_mode_counts_what_would_change():
    _, results, _ = reduce("check_mode")
    assert {r.status for r in results.values()} == {"changed"}


@pytest.mark.parametrize("name", ["installed", "task_failed", "gate_unreachable"])
def test_unknown_hosts_in_events_are_still_reported(name):
    reducer = EventReducer(())
    for e in load_events(name):
        reducer.feed(e)
    assert reducer.results()
