"""WeCom @mentions, the robots' rate limit, and `cmectl notify test`."""

from __future__ import annotations

import json
import time

import pytest

from cmectl import notify as nt
from cmectl.errors import ExitCode
from cmectl.records import open_store
from tests.test_notify import SECRETS, WECOM_KEY, finished_run, new_request, write_config


@pytest.fixture
def robots():
    from tests.test_notify import Robot

    made = []

    def make(kind, secret=None):
        made.append(Robot(kind, secret) if secret else Robot(kind))
        return made[-1]

    yield make
    for robot in made:
        robot.close()


@pytest.fixture
def store(home):
    store = open_store(home)
    yield store
    store.close()


def test_wecom_mentions_by_user_id_in_markdown_and_by_phone_in_a_text(home, store, robots):
    robot = robots("wecom")
    write_config(home, "acme", f'[[wecom]]\nwebhook = "{robot.webhook}"\n'
                               'mention_user_ids = ["zhangsan", "lisi"]\n'
                               'mention_mobiles = ["13800001111"]\nmention_all = true\n')
    req = new_request(store)
    [delivery] = nt.notify(store, "run_finished", customer="acme", request=req,
                           run=finished_run(store, req), home=home)
    assert delivery.ok, delivery.error
    markdown, text = robot.payloads()
    assert markdown["msgtype"] == "markdown"
    assert markdown["markdown"]["content"].rstrip().endswith("<@zhangsan><@lisi>")
    assert len(markdown["markdown"]["content"].encode()) <= nt.WECOM_MAX_BYTES
    assert text["msgtype"] == "text"
    assert text["text"]["mentioned_mobile_list"] == ["13800001111", "@all"]
    assert text["text"]["content"].startswith("cmectl 执行完成")


def test_wecom_without_mentions_sends_one_message(home, store, robots):
    robot = robots("wecom")
    write_config(home, "acme", f'[[wecom]]\nwebhook = "{robot.webhook}"\n')
    nt.notify(store, "request_opened", customer="acme", request=new_request(store), home=home)
    assert [p["msgtype"] for p in robot.payloads()] == ["markdown"]
    assert "<@" not in robot.payloads()[0]["markdown"]["content"]


def test_bad_mention_list_is_a_configuration_error(home):
    write_config(home, "acme", '[[wecom]]\nwebhook = "https://qyapi.weixin.qq.com/cgi-bin/'
                               'webhook/send?key=k"\nmention_mobiles = 13800001111\n')
    with pytest.raises(nt.UsageError, match="mention_mobiles must be a list"):
        nt.load_config("acme", home)


def test_robot_messages_beyond_the_limit_wait_for_the_window(home, store, robots,
                                                              monkeypatch):
    monkeypatch.setattr(nt, "ROBOT_LIMIT", 3)
    monkeypatch.setattr(nt, "ROBOT_PERIOD", 1.5)
    robot = robots("wecom")
    write_config(home, "acme", f'[[wecom]]\nwebhook = "{robot.webhook}"\n')
    req = new_request(store)
    for _ in range(5):
        [delivery] = nt.notify(store, "request_opened", customer="acme", request=req, home=home)
        assert delivery.ok, delivery.error
    times = [r["at"] for r in robot.received]
    assert len(times) == 5
    # Never more than 3 inside any 1.5 s window: the 4th waits for the 1st to leave it.
    assert times[3] - times[0] >= 1.5 - 0.05
    assert times[4] - times[1] >= 1.5 - 0.05


def test_throttle_is_shared_between_processes_through_its_folder(tmp_path):
    url = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}"
    first = nt.Throttle(tmp_path / ".sent", limit=2, period=1.0)
    second = nt.Throttle(tmp_path / ".sent", limit=2, period=1.0)  # another process's
    assert first.wait(url) == 0 and first.wait(url) == 0
    started = time.monotonic()
    assert second.wait(url) > 0
    assert time.monotonic() - started >= 0.5
    other = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=another"
    assert second.wait(other) == 0  # each robot has its own allowance
    files = list((tmp_path / ".sent").iterdir())
    assert len(files) == 2 and all(WECOM_KEY not in f.name for f in files)
    assert all(WECOM_KEY not in f.read_text() for f in files)


def test_cli_notify_test_reports_each_channel(run_cli, home, robots):
    good, broken = robots("wecom"), robots("broken")
    write_config(home, "acme", f'[[wecom]]\nwebhook = "{good.webhook}"\n'
                               f'events = ["sla_risk"]\n'  # a test goes to it all the same
                               f'[[wecom]]\nwebhook = "{broken.base}/cgi-bin/webhook/send'
                               f'?key={WECOM_KEY}"\n')
    result = run_cli("notify", "test", "acme", "--timeout", "5", "--json")
    assert result.code == ExitCode.ENVIRONMENT, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["channel"], r["ok"]) for r in rows] == [("wecom", True), ("wecom", False)]
    assert "HTTP 500" in rows[1]["error"] and "1 of 2 channels failed" in result.stderr
    [payload] = good.payloads()
    assert "cmectl 测试消息 Test message" in payload["markdown"]["content"]
    assert "acme" in payload["markdown"]["content"]
    recorded = open_store(home).list_notifications()
    assert [(n["event"], bool(n["ok"])) for n in recorded] == [("test", True), ("test", False)]
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr
        assert all(secret not in json.dumps(n) for n in recorded)
    table = run_cli("notify", "test", "acme", "--timeout", "5")
    assert "ok" in table.stdout and "failed" in table.stdout


def test_cli_notify_test_without_configuration_says_where_to_write_it(run_cli, home):
    result = run_cli("notify", "test", "globex")
    assert result.code == ExitCode.USAGE
    assert "no notification channels are configured for 'globex'" in result.stderr
    assert "notify/globex.toml" in result.stderr
