"""The SQLite record store: migrations, runs as request fulfilments, lookups."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cmectl.errors import EnvironmentProblem, NotFoundError
from cmectl.records import (
    MIGRATIONS,
    HostResult,
    Run,
    _Postgres,
    _SQLite,
    new_run_id,
    open_store,
    utcnow,
)


def make_run(request_id="SR-1", **kw) -> Run:
    base = dict(id=new_run_id(), request_id=request_id, requester="alice", action="install",
                packages=["nginx"], inventory="/inv.yml", started_at=utcnow(), status="running")
    base.update(kw)
    return Run(**base)


def test_new_store_is_migrated(tmp_path, store_url):
    store = open_store(tmp_path, store_url)
    assert store.schema_version == len(MIGRATIONS)
    assert store.backend.name == ("postgresql" if store_url else "sqlite")


def test_sqlite_store_is_in_wal_mode(tmp_path):
    store = open_store(tmp_path, None)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_run_round_trip_with_host_outcomes(tmp_path, store_url):
    store = open_store(tmp_path, store_url)
    run = make_run(extra_vars={"nginx_tls_key": "********"})
    store.start_run(run)
    assert store.get_run(run.id).status == "running"
    run.hosts = [
        HostResult("web-1", "changed", ok=9, changed=3, started_at="2026-11-24T01:00:00",
                   ended_at="2026-11-24T01:00:05", installed={"nginx": {"version": "1.22.1"}}),
        HostResult("web-2", "failed", ok=2, failed=1, failed_task="nginx : Install",
                   message="no package"),
    ]
    run.ended_at, run.status, run.exit_code, run.message = utcnow(), "failed", 7, "failed on 1"
    store.finish_run(run)
    got = store.get_run(run.id)
    assert got.status == "failed" and got.exit_code == 7 and got.requester == "alice"
    assert [h.status for h in got.hosts] == ["changed", "failed"]
    assert got.hosts[0].installed == {"nginx": {"version": "1.22.1"}}
    assert got.hosts[0].duration_s == 5.0
    assert got.hosts[1].failed_task == "nginx : Install"
    assert got.to_dict()["hosts"][0]["duration_s"] == 5.0


def test_runs_of_one_request_share_it(tmp_path, store_url):
    store = open_store(tmp_path, store_url)
    for _ in range(2):
        store.start_run(make_run("SR-42"))
    store.start_run(make_run("SR-43"))
    assert len(store.list_runs(request_id="SR-42")) == 2
    assert len(store.list_runs()) == 3
    assert len(store.list_requests()) == 2


def test_lookup_by_prefix_last_and_ambiguity(tmp_path, store_url):
    store = open_store(tmp_path, store_url)
    a = make_run(id="20261124-010000-aaaa", started_at="2026-11-24T01:00:00+00:00")
    b = make_run(id="20261124-020000-bbbb", started_at="2026-11-24T02:00:00+00:00")
    store.start_run(a)
    store.start_run(b)
    assert store.get_run("last").id == b.id
    assert store.get_run("20261124-01").id == a.id
    with pytest.raises(NotFoundError, match="ambiguous"):
        store.get_run("20261124-0")
    with pytest.raises(NotFoundError, match="no run"):
        store.get_run("nope")


def test_a_run_whose_process_died_reads_as_lost(tmp_path, store_url):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    store = open_store(tmp_path, store_url)
    run = make_run(pid=int(dead.stdout))
    store.start_run(run)
    assert store.get_run(run.id).status == "lost"


def test_store_newer_than_cmectl_is_refused_and_left_alone(tmp_path, store_url):
    store = open_store(tmp_path, store_url)
    store.backend.set_version(len(MIGRATIONS) + 1)
    store.close()
    with pytest.raises(EnvironmentProblem, match="newer"):
        open_store(tmp_path, store_url)
    backend = (_SQLite(tmp_path / "cmectl.db") if store_url is None else _Postgres(store_url))
    assert backend.get_version() == len(MIGRATIONS) + 1


def test_reopening_migrates_nothing_twice(tmp_path, store_url):
    open_store(tmp_path, store_url).close()
    store = open_store(tmp_path, store_url)
    assert store.schema_version == len(MIGRATIONS)


def test_reopening_keeps_what_was_recorded(tmp_path, store_url):
    store = open_store(tmp_path, store_url)
    run = make_run()
    store.start_run(run)
    store.close()
    assert open_store(tmp_path, store_url).get_run(run.id).request_id == "SR-1"
