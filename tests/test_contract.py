"""Service-level terms per customer (contracts) and how requests keep the terms they were
opened under."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from cmectl.contract import FULFIL_HOURS, Contract, load_contract
from cmectl.errors import ExitCode, UsageError
from cmectl.records import open_store
from cmectl.requests import acknowledge, open_request, service_level

SH = ZoneInfo("Asia/Shanghai")
GOLD = """\
# Gold support: 10-minute response, fulfilment within 4 business hours at normal priority.
response_minutes = 10

[fulfil_hours]
normal = 4
low = 8
"""


def iso(d, hh, mm=0):
    return dt.datetime(2026, 11, d, hh, mm, tzinfo=SH).isoformat()


def write(home, name, text):
    folder = home / "contracts"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.toml").write_text(text, encoding="utf-8")


def test_no_contract_file_uses_the_settings(tmp_path):
    contract = load_contract(tmp_path, "acme", calendar="cn", response_minutes=20)
    assert (contract.calendar, contract.response_minutes, contract.source) == ("cn", 20,
                                                                                "settings")
    assert contract.fulfil_hours == FULFIL_HOURS


def test_customer_file_overrides_what_it_names(tmp_path):
    write(tmp_path, "acme", GOLD)
    write(tmp_path, "default", "response_minutes = 30\n")
    acme = load_contract(tmp_path, "acme")
    assert acme.response_minutes == 10
    assert acme.fulfil_hours == {**FULFIL_HOURS, "normal": 4, "low": 8}
    assert acme.source.endswith("contracts/acme.toml")
    other = load_contract(tmp_path, "globex")  # no file of its own: default.toml
    assert other.response_minutes == 30 and other.source.endswith("default.toml")


def test_calendar_path_is_relative_to_the_contract(tmp_path):
    write(tmp_path, "acme", 'calendar = "calendars/acme.yml"\n')
    (tmp_path / "contracts" / "calendars").mkdir()
    (tmp_path / "contracts" / "calendars" / "acme.yml").write_text(
        "name: acme 12x5\ntimezone: Asia/Shanghai\nworking_days: [mon, tue, wed, thu, fri]\n"
        "working_hours: [['08:00', '20:00']]\n", encoding="utf-8")
    contract = load_contract(tmp_path, "acme")
    assert contract.calendar == str(tmp_path / "contracts" / "calendars" / "acme.yml")


@pytest.mark.parametrize("text, words", [
    ("response_minutes = 0\n", ["response_minutes", "positive"]),
    ("response_minutes = 'soon'\n", ["response_minutes", "positive"]),
    ("[fulfil_hours]\nurgent = 2\n", ["unknown priority 'urgent'", "emergency, high"]),
    ("[fulfil_hours]\nnormal = -1\n", ["fulfil_hours.normal"]),
    ("fulfil_hours = 4\n", ["fulfil_hours must be a table"]),
    ("respond_minutes = 10\n", ["unknown key 'respond_minutes'"]),
    ("response_minutes = \n", ["not valid TOML"]),
    ('calendar = "nowhere"\n', ["calendar 'nowhere' not found"]),
])
def test_a_bad_contract_is_refused_naming_the_file(tmp_path, text, words):
    write(tmp_path, "acme", text)
    with pytest.raises(UsageError) as caught:
        load_contract(tmp_path, "acme")
    message = str(caught.value)
    for word in words:
        assert word in message, message
    if "not found" not in message:  # the calendar error names the calendar instead
        assert "acme.toml" in message


@pytest.fixture
def store(tmp_path, store_url):
    return open_store(tmp_path, store_url)


def test_a_request_keeps_the_terms_it_was_opened_under(tmp_path, store):
    write(tmp_path, "acme", GOLD)
    gold = load_contract(tmp_path, "acme")
    req = open_request(store, title="Kafka", customer="acme", requester="Li", channel="wechat",
                       priority="normal", packages=["kafka"], hosts=["mq-1"],
                       received_at=iso(24, 10), contract=gold)
    req = acknowledge(store, req.id, at=iso(24, 10, 12))  # 12 min: late for gold (10)
    now = dt.datetime.fromisoformat(iso(24, 16))
    level = service_level(store.get_request(req.id), [], Contract(), now=now)
    assert level["terms"]["response_minutes"] == 10 and level["terms"]["fulfil_hours"] == 4
    assert level["response"]["met"] is False and level["response"]["margin_s"] == -2 * 60
    # 10:00 + 4 business hours with lunch 12-13 = 15:00, passed at 16:00 with nothing fulfilled
    assert level["fulfilment"]["due"].startswith("2026-11-24T07:00")
    assert level["fulfilment"]["met"] is False
    # The contract changes later: the request is still measured against its own terms.
    write(tmp_path, "acme", "response_minutes = 30\n")
    later = service_level(store.get_request(req.id), [], load_contract(tmp_path, "acme"),
                          now=now)
    assert later["terms"] == level["terms"]


def test_request_recorded_before_contracts_uses_the_current_terms(store):
    req = open_request(store, title="nginx", customer="acme", requester=None, channel="phone",
                       priority="high", packages=["nginx"], hosts=["web-1"],
                       received_at=iso(24, 10))
    req.sla = None  # as read back from a store migrated from before contracts
    level = service_level(req, [], Contract(response_minutes=5, source="x"),
                          now=dt.datetime.fromisoformat(iso(24, 10, 3)))
    assert level["terms"]["response_minutes"] == 5
    assert level["terms"]["fulfil_hours"] == FULFIL_HOURS["high"]


def test_cli_open_measures_against_the_customers_contract(run_cli_each_store, home):
    write(home, "acme", GOLD)
    opened = run_cli_each_store(
        "request", "open", "--title", "Kafka on six servers", "--customer", "acme",
        "-p", "kafka", "--hosts", "mq-1,mq-2", "--id", "SR-GOLD-1", "--json")
    assert opened.code == 0, opened.stderr
    terms = opened.json()["sla"]["terms"]
    assert terms["response_minutes"] == 10 and terms["source"].endswith("acme.toml")
    assert opened.json()["sla"]["response"]["target_s"] == 600
    shown = run_cli_each_store("request", "show", "SR-GOLD-1")
    assert "10 min" in shown.stdout and "acme.toml" in shown.stdout


def test_cli_broken_contract_records_nothing(run_cli_each_store, home):
    write(home, "acme", "[fulfil_hours]\nurgent = 2\n")
    result = run_cli_each_store("request", "open", "--title", "x", "--customer", "acme",
                                "-p", "nginx", "--hosts", "web-1")
    assert result.code == ExitCode.USAGE, result.stderr
    assert "acme.toml" in result.stderr and "urgent" in result.stderr
    listed = run_cli_each_store("request", "list", "--json")
    assert listed.json() == []
