"""The cmectl_fact module's merge rule: idempotent, keeps history until facts change."""

from __future__ import annotations

import importlib.util

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("cmectl_fact",
                                              ROOT / "plugins/modules/cmectl_fact.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
merge = module.merge


def test_first_write_sets_install_time_and_request():
    new = merge(None, "nginx", {"version": "1.22"}, "SR-1", "T1")
    assert new == {"version": "1.22", "package": "nginx", "installed_at": "T1",
                   "updated_at": "T1", "request_id": "SR-1"}


def test_same_facts_keep_the_old_record_whatever_the_request():
    old = merge(None, "nginx", {"version": "1.22"}, "SR-1", "T1")
    assert merge(old, "nginx", {"version": "1.22"}, "SR-2", "T2") is old


def test_changed_facts_take_the_new_request_and_keep_install_time():
    old = merge(None, "nginx", {"version": "1.22"}, "SR-1", "T1")
    new = merge(old, "nginx", {"version": "1.24"}, "SR-2", "T2")
    assert (new["installed_at"], new["updated_at"], new["request_id"]) == ("T1", "T2", "SR-2")


def test_no_request_keeps_the_previous_one():
    old = merge(None, "nginx", {"version": "1.22"}, "SR-1", "T1")
    assert merge(old, "nginx", {"version": "1.24"}, None, "T2")["request_id"] == "SR-1"
