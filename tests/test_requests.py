"""Service requests: lifecycle, fulfilment from runs, and whether the SLA was met."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from cmectl.contract import Contract
from cmectl.errors import NotFoundError, UsageError
from cmectl.records import HostResult, Run, open_store
from cmectl.requests import (
    acknowledge,
    cancel,
    close,
    open_request,
    refresh_fulfilment,
    service_level,
)
from cmectl.sla import load_calendar

SH = ZoneInfo("Asia/Shanghai")
CN = Contract(calendar="cn")


def iso(y, m, d, hh, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=SH).isoformat()


@pytest.fixture
def store(tmp_path, store_url):
    """Each test runs against SQLite and against a real PostgreSQL server."""
    return open_store(tmp_path, store_url)


def new(store, **kw):
    args = dict(title="Install nginx with HTTPS", customer="acme", requester="Wang Wei",
                channel="dingtalk", priority="normal", packages=["nginx"],
                hosts=["web-1", "web-2"], received_at=iso(2026, 11, 24, 10))
    args.update(kw)
    return open_request(store, **args)


def add_run(store, req_id, statuses, ended, check=False, action="install", packages=("nginx",)):
    run = Run(id=f"run-{ended}-{len(statuses)}", request_id=req_id, action=action,
              packages=list(packages), inventory="i", started_at=ended, status="ok",
              check_mode=check, options={"hosts": sorted(statuses)})
    store.start_run(run)
    run.ended_at = ended
    run.hosts = [HostResult(h, s) for h, s in statuses.items()]
    store.finish_run(run)
    return run


@pytest.mark.parametrize("kw, message", [
    ({"channel": "telegram"}, "channel"),
    ({"priority": "urgent"}, "priority"),
    ({"received_at": "2026-11-24 10:00"}, "no timezone"),
    ({"received_at": "yesterday"}, "not a date"),
    ({"received_at": "2999-01-01T00:00+08:00"}, "in the future"),
])
def test_bad_requests_are_refused(store, kw, message):
    with pytest.raises(UsageError, match=message):
        new(store, **kw)


def test_ids_are_unique(store):
    new(store, request_id="SR-1")
    with pytest.raises(UsageError, match="already exists"):
        new(store, request_id="SR-1")


def test_lifecycle(store):
    req = new(store)
    assert req.status == "open"
    req = acknowledge(store, req.id, "on it", at=iso(2026, 11, 24, 10, 9))
    assert req.status == "acknowledged" and req.acknowledged_at.startswith("2026-11-24T02:09")
    with pytest.raises(UsageError, match="was acknowledged"):
        acknowledge(store, req.id)
    req = close(store, req.id, "done")
    assert req.status == "closed" and [n["kind"] for n in req.notes] == ["ack", "close"]
    with pytest.raises(UsageError, match="already closed"):
        cancel(store, req.id, "changed their mind")
    with pytest.raises(NotFoundError):
        acknowledge(store, "SR-NOPE")


def test_fulfilled_only_when_every_asked_host_succeeded(store):
    req = new(store)
    add_run(store, req.id, {"web-1": "changed", "web-2": "failed"}, iso(2026, 11, 24, 10, 30))
    assert refresh_fulfilment(store, req.id).status == "open"
    add_run(store, req.id, {"web-2": "changed"}, iso(2026, 11, 24, 10, 40), check=True)
    assert refresh_fulfilment(store, req.id).fulfilled_at is None  # a dry run proves nothing
    add_run(store, req.id, {"web-2": "ok"}, iso(2026, 11, 24, 11, 5))
    req = refresh_fulfilment(store, req.id)
    assert req.status == "fulfilled" and req.fulfilled_at == iso(2026, 11, 24, 11, 5)


def test_a_run_without_an_opened_request_opens_one(store):
    run = Run(id="r1", request_id="SR-ADHOC", action="install", packages=["nginx"],
              inventory="i", started_at=iso(2026, 11, 24, 10), status="running",
              options={"hosts": ["a", "b"]})
    store.start_run(run)
    run.ended_at, run.hosts = iso(2026, 11, 24, 10, 5), [HostResult("a", "ok"),
                                                          HostResult("b", "changed")]
    store.finish_run(run)
    req = refresh_fulfilment(store, "SR-ADHOC")
    assert (req.packages, req.hosts, req.status) == (["nginx"], ["a", "b"], "fulfilled")


def at(text):
    return dt.datetime.fromisoformat(text)


def test_response_met_with_time_to_spare(store):
    req = acknowledge(store, new(store).id, at=iso(2026, 11, 24, 10, 9))
    sla = service_level(req, [], CN, now=at(iso(2026, 11, 24, 12)))
    assert sla["clock"] == load_calendar("cn").name
    assert sla["response"]["met"] is True and sla["response"]["margin_s"] == 6 * 60


def test_response_missed_and_by_how_much(store):
    req = acknowledge(store, new(store).id, at=iso(2026, 11, 24, 10, 20))
    sla = service_level(req, [], CN, now=at(iso(2026, 11, 24, 12)))
    assert sla["response"]["met"] is False and sla["response"]["margin_s"] == -5 * 60


def test_friday_evening_request_answered_monday_morning_is_on_time(store):
    req = new(store, received_at=iso(2026, 11, 20, 17, 55))
    req = acknowledge(store, req.id, at=iso(2026, 11, 23, 9, 5))
    sla = service_level(req, [], CN, now=at(iso(2026, 11, 23, 10)))
    assert sla["response"]["met"] is True and sla["response"]["margin_s"] == 5 * 60
    assert sla["response"]["due"].startswith("2026-11-23T01:10")  # 09:10 in Shanghai


def test_emergency_is_on_the_7x24_clock(store):
    req = new(store, priority="emergency", received_at=iso(2026, 10, 3, 2, 0))
    req = acknowledge(store, req.id, at=iso(2026, 10, 3, 2, 20))
    sla = service_level(req, [], CN, now=at(iso(2026, 10, 3, 3)))
    assert sla["clock"] == "7x24" and sla["response"]["margin_s"] == -5 * 60


def test_a_run_counts_as_the_first_response(store):
    req = new(store)
    run = add_run(store, req.id, {"web-1": "ok", "web-2": "ok"}, iso(2026, 11, 24, 10, 7))
    req = refresh_fulfilment(store, req.id)
    sla = service_level(req, [run], CN, now=at(iso(2026, 11, 24, 12)))
    assert sla["response"]["at"] == iso(2026, 11, 24, 10, 7) and sla["response"]["met"]
    assert sla["fulfilment"]["met"] is True


def test_open_request_clock_is_running_then_breached(store):
    req = new(store)
    early = service_level(req, [], CN, now=at(iso(2026, 11, 24, 10, 5)))
    assert early["response"]["met"] is None and early["response"]["margin_s"] == 10 * 60
    late = service_level(req, [], CN, now=at(iso(2026, 11, 24, 10, 30)))
    assert late["response"]["met"] is False


def test_cli_open_ack_show(run_cli_each_store, tmp_path):
    run_cli = run_cli_each_store
    opened = run_cli("request", "open", "--title", "nginx for the shop", "--customer", "acme",
                     "--requester", "Li Lei", "--channel", "wechat", "-p", "nginx",
                     "--hosts", "web-1,web-2", "--id", "SR-CLI-1", "--json")
    assert opened.code == 0, opened.stderr
    assert opened.json()["sla"]["response"]["met"] is None
    acked = run_cli("request", "ack", "SR-CLI-1", "--note", "looking", "--json")
    assert acked.json()["status"] == "acknowledged"
    assert acked.json()["sla"]["response"]["met"] is True
    listed = run_cli("request", "list", "--customer", "acme", "--json").json()
    assert [r["id"] for r in listed] == ["SR-CLI-1"]
    text = run_cli("request", "show", "SR-CLI-1")
    assert "response" in text.stdout and "met" in text.stdout
    bad = run_cli("request", "open", "--title", "x", "--customer", "acme", "-p", "ngnix",
                  "--hosts", "a")
    assert bad.code == 3 and "did you mean 'nginx'" in bad.stderr


def test_cli_report_for_this_month(run_cli_each_store, tmp_path):
    run_cli = run_cli_each_store
    month = dt.datetime.now(SH).strftime("%Y-%m")
    run_cli("request", "open", "--title", "nginx", "--customer", "globex", "-p", "nginx",
            "--hosts", "web-1", "--id", "SR-REP-1")
    data = run_cli("report", "--customer", "globex", "--month", month, "--format", "json")
    assert data.code == 0, data.stderr
    assert [r["id"] for r in data.json()["requests"]] == ["SR-REP-1"]
    out = tmp_path / "r.csv"
    written = run_cli("report", "--customer", "globex", "--month", month, "--format", "csv",
                      "-o", str(out))
    assert written.code == 0 and out.read_bytes().startswith(b"\xef\xbb\xbf")
    bad = run_cli("report", "--customer", "globex", "--month", "2026-13")
    assert bad.code == 2 and "YYYY-MM" in bad.stderr
