"""Notifications, delivered for real: to local stand-ins for the DingTalk and WeCom robots that
check what those services check (DingTalk's signature included), and to a local SMTP server."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import hashlib
import hmac
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from cmectl import notify as nt
from cmectl.errors import ExitCode, UsageError
from cmectl.records import HostResult, Request, Run, open_store
from cmectl.requests import acknowledge, open_request

TOKEN = "tok9f8e7d6c5b4a3921"
SECRET = "SEC0a1b2c3d4e5f60718293a4b5c6d7e8f9"
WECOM_KEY = "wk-2d4f6a8c-1357-9bdf"
PASSWORD = "pw-Tr0ub4dor&3x+9"
SECRETS = (TOKEN, SECRET, WECOM_KEY, PASSWORD)
DINGTALK_SIGN_MISMATCH = "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2]"


# -- stand-ins for the robots -------------------------------------------------------------


def dingtalk_verdict(query: str, secret: str, now_ms: int) -> tuple[int, str]:
    """Check a signed request the way DingTalk does: the timestamp within an hour of now, and
    the sign (URL-decoded) equal to base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>"))."""
    params = urllib.parse.parse_qs(query, keep_blank_values=True)
    timestamp = params.get("timestamp", [""])[0]
    sign = params.get("sign", [""])[0]
    if not timestamp.isdigit() or abs(now_ms - int(timestamp)) > 3600 * 1000:
        return 310000, "invalid timestamp"
    expected = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(),
                                         hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, sign):
        return 310000, DINGTALK_SIGN_MISMATCH
    return 0, "ok"


class Robot:
    """A robot endpoint on 127.0.0.1: ``dingtalk`` (signed, secret ``secret``), ``wecom``, or
    ``broken`` (answers HTTP 500). Keeps what it was sent in ``received``."""

    def __init__(self, kind: str, secret: str | None = SECRET):
        self.kind, self.secret = kind, secret
        self.received: list[dict] = []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = urllib.parse.urlsplit(self.path)
                robot.received.append({"path": parts.path, "query": parts.query,
                                       "content_type": self.headers.get("Content-Type"),
                                       "body": body, "at": time.time()})
                if robot.kind == "broken":
                    self._answer(500, b"upstream exploded")
                    return
                code, errmsg = robot.judge(parts, body)
                self._answer(200, json.dumps({"errcode": code, "errmsg": errmsg}).encode())

            def _answer(self, status, data):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def webhook(self) -> str:
        if self.kind == "wecom":
            return f"{self.base}/cgi-bin/webhook/send?key={WECOM_KEY}"
        return f"{self.base}/robot/send?access_token={TOKEN}"

    def judge(self, parts, body: bytes) -> tuple[int, str]:
        params = urllib.parse.parse_qs(parts.query)
        try:
            payload = json.loads(body)
        except ValueError:
            return 40035, "invalid json"
        if self.kind == "dingtalk":
            if parts.path != "/robot/send" or params.get("access_token") != [TOKEN]:
                return 300001, "token is not exist"
            if self.secret:
                code, errmsg = dingtalk_verdict(parts.query, self.secret, int(time.time() * 1000))
                if code:
                    return code, errmsg
            md = payload.get("markdown", {})
            if payload.get("msgtype") != "markdown" or not md.get("title") or \
                    not md.get("text") or not isinstance(payload.get("at", {}), dict):
                return 40035, "missing markdown title/text"
            return 0, "ok"
        if parts.path != "/cgi-bin/webhook/send" or params.get("key") != [WECOM_KEY]:
            return 93000, "invalid webhook url"
        if payload.get("msgtype") == "text":
            text = payload.get("text", {})
            if not isinstance(text.get("content"), str) or not text["content"]:
                return 40035, "missing text.content"
            if len(text["content"].encode()) > 2048:
                return 40058, "text.content exceed max length 2048"
            for key in ("mentioned_list", "mentioned_mobile_list"):
                if not isinstance(text.get(key, []), list):
                    return 40035, f"invalid {key}"
            return 0, "ok"
        content = payload.get("markdown", {}).get("content")
        if payload.get("msgtype") != "markdown" or not isinstance(content, str) or not content:
            return 40035, "missing markdown.content"
        if len(content.encode()) > 4096:
            return 40058, "markdown.content exceed max length 4096"
        return 0, "ok"

    def payloads(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.received]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def robots():
    made: list[Robot] = []

    def make(kind: str, secret: str | None = SECRET) -> Robot:
        made.append(Robot(kind, secret))
        return made[-1]

    yield make
    for robot in made:
        robot.close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


# -- a local SMTP server ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    def __init__(self):
        self.mail: list[email.message.EmailMessage] = []
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.mail.append(email.message_from_bytes(envelope.original_content,
                                                  policy=email.policy.default))
        return "250 OK"


def check_login(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"ops" and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # not handled: the server answers 535 itself


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (cafile, server context)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cmectl test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return cert_path, context


@pytest.fixture
def smtp_server():
    started: list[Controller] = []

    def start(**kwargs) -> tuple[Inbox, int]:
        inbox, port = Inbox(), free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        started.append(controller)
        return inbox, port

    yield start
    for controller in started:
        controller.stop()


# -- records to notify about --------------------------------------------------------------


def write_config(home: Path, name: str, text: str, mode: int = 0o600) -> Path:
    folder = home / "notify"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def dingtalk_config(robot: Robot, secret: str = SECRET, extra: str = "") -> str:
    return f'[[dingtalk]]\nwebhook = "{robot.webhook}"\nsecret = "{secret}"\n{extra}'


def new_request(store, customer="acme", **kw) -> Request:
    base = dict(title="nginx + HTTPS 商城", customer=customer, requester="Wang Wei",
                channel="dingtalk", priority="normal", packages=["nginx"],
                hosts=[f"web-{i:02d}" for i in range(1, 18)])
    base.update(kw)
    return open_request(store, **base)


def finished_run(store, req: Request, failing: int = 12) -> Run:
    """A run of 17 hosts: 3 unchanged, 2 changed, ``failing`` failed or unreachable."""
    run = Run(id="20261124-020000-ab12", request_id=req.id, action="install",
              packages=["nginx"], inventory="/srv/acme/web.yml",
              started_at="2026-11-24T02:00:00+00:00", status="running", operator="li.lei",
              options={"hosts": list(req.hosts)})
    store.start_run(run)
    hosts = [HostResult("web-01", "ok", ok=9), HostResult("web-02", "ok", ok=9),
             HostResult("web-03", "ok", ok=9), HostResult("web-04", "changed", ok=9, changed=3),
             HostResult("web-05", "changed", ok=9, changed=3)]
    for i in range(6, 6 + failing):
        if i % 4 == 0:
            hosts.append(HostResult(f"web-{i:02d}", "unreachable", unreachable=1,
                                    failed_task="Gathering Facts",
                                    message="ssh: connect to host port 22: No route to host"))
        else:
            hosts.append(HostResult(f"web-{i:02d}", "failed", ok=4, failed=1,
                                    failed_task="nginx : Install nginx",
                                    message="No package nginx available."))
    run.hosts = hosts
    run.ended_at, run.status, run.exit_code = "2026-11-24T02:02:05+00:00", "failed", 7
    run.message = f"failed on {failing} of {len(hosts)} hosts"
    store.finish_run(run)
    return run


@pytest.fixture
def store(home):
    store = open_store(home)
    yield store
    store.close()


# -- DingTalk ------------------------------------------------------------------------------


def test_receiver_rejects_a_stale_or_forged_signature():
    now_ms = int(time.time() * 1000)
    good = now_ms - 1000
    query = f"timestamp={good}&sign={nt.sign_dingtalk(SECRET, good)}"
    assert dingtalk_verdict(query, SECRET, now_ms) == (0, "ok")
    assert dingtalk_verdict(query, "SECsomeoneelse", now_ms)[0] == 310000
    stale = now_ms - 3601 * 1000
    query = f"timestamp={stale}&sign={nt.sign_dingtalk(SECRET, stale)}"
    assert dingtalk_verdict(query, SECRET, now_ms) == (310000, "invalid timestamp")


def test_dingtalk_signed_run_finished_is_delivered_with_the_host_summary(home, store, robots):
    robot = robots("dingtalk")
    write_config(home, "acme", dingtalk_config(robot, extra='at_mobiles = ["13800138000"]\n'))
    req = new_request(store)
    run = finished_run(store, req)

    deliveries = nt.notify(store, "run_finished", customer="acme", request=req, run=run,
                           home=home, timeout=5)

    assert deliveries == [nt.Delivery("run_finished", "dingtalk",
                                      f"{robot.base}/robot/send?access_token=****", True)]
    [sent] = robot.received
    assert sent["content_type"].startswith("application/json")
    # the signature travels URL-encoded (base64's + / = escaped), so decoding restores it
    raw_sign = dict(pair.split("=", 1) for pair in sent["query"].split("&"))["sign"]
    assert re.fullmatch(r"[A-Za-z0-9%]+", raw_sign)
    assert len(base64.b64decode(urllib.parse.unquote_plus(raw_sign), validate=True)) == 32
    payload = json.loads(sent["body"])
    assert payload["msgtype"] == "markdown"
    assert payload["at"] == {"atMobiles": ["13800138000"], "atUserIds": [], "isAtAll": False}
    text = payload["markdown"]["text"]
    assert payload["markdown"]["title"].startswith("cmectl 执行完成 Run finished")
    for expected in (run.id, req.id, "acme", "失败 failed",
                     "17 台: 未变更 ok 3 · 已变更 changed 2 · 失败 failed 9 · 不可达 unreachable 3",
                     "2m 05s", "web-06 [failed] nginx : Install nginx: No package nginx available",
                     "web-08 [unreachable] Gathering Facts: ssh: connect to host",
                     "... 另有 2 台 more", "@13800138000"):
        assert expected in text
    assert "web-17" not in text  # only the first ten failing hosts are listed
    assert "web-01" not in text  # hosts that are done are counted, not listed
    [row] = store.list_notifications(req.id)
    assert row["ok"] and row["run_id"] == run.id and row["event"] == "run_finished"
    assert row["target"] == deliveries[0].target and row["error"] is None


def test_wrong_dingtalk_secret_is_a_recorded_failure_not_a_failed_run(home, store, robots):
    robot = robots("dingtalk", secret="SECthe-robot-has-another-secret")
    write_config(home, "acme", dingtalk_config(robot))
    req = new_request(store)
    run = finished_run(store, req)

    [delivery] = nt.notify(store, "run_finished", customer="acme", request=req, run=run,
                           home=home, timeout=5)

    assert not delivery.ok
    assert "errcode 310000" in delivery.error and "sign not match" in delivery.error
    [row] = store.list_notifications(req.id)
    assert not row["ok"] and row["error"] == delivery.error and row["channel"] == "dingtalk"
    assert store.get_run(run.id).status == "failed"  # the run's own record is untouched
    assert store.get_run(run.id).exit_code == 7


def test_dingtalk_without_secret_and_secrets_from_the_environment(home, store, robots,
                                                                   monkeypatch):
    plain = robots("dingtalk", secret=None)
    signed = robots("dingtalk")
    monkeypatch.setenv("ACME_DT_HOOK", signed.webhook)
    monkeypatch.setenv("ACME_DT_SECRET", SECRET)
    write_config(home, "acme", f'[[dingtalk]]\nwebhook = "{plain.webhook}"\n'
                               '[[dingtalk]]\nwebhook_env = "ACME_DT_HOOK"\n'
                               'secret_env = "ACME_DT_SECRET"\n', mode=0o644)
    req = new_request(store)
    deliveries = nt.notify(store, "request_opened", customer="acme", request=req, home=home,
                           warn=lambda m: None)
    assert [d.ok for d in deliveries] == [True, True]
    assert "sign=" not in plain.received[0]["query"]
    assert "sign=" in signed.received[0]["query"]

    monkeypatch.delenv("ACME_DT_SECRET")
    deliveries = nt.notify(store, "request_opened", customer="acme", request=req, home=home,
                           warn=lambda m: None)
    assert [d.ok for d in deliveries] == [True, False]
    assert deliveries[1].error == "environment variable ACME_DT_SECRET (secret_env) is not set"
    assert len(signed.received) == 1  # nothing unsigned went to the signed robot


# -- WeCom and failures --------------------------------------------------------------------


def test_wecom_markdown_is_delivered_and_kept_within_its_size(home, store, robots):
    robot = robots("wecom")
    write_config(home, "acme", f'[[wecom]]\nwebhook = "{robot.webhook}"\n')
    req = new_request(store)
    run = finished_run(store, req)
    for host in run.hosts:
        if host.status == "failed":
            host.message = "软件包安装失败, 依赖无法满足: " + "缺少依赖库 libssl " * 30
    [delivery] = nt.notify(store, "run_finished", customer="acme", request=req, run=run,
                           home=home)

    assert delivery.ok, delivery.error
    assert delivery.target == f"{robot.base}/cgi-bin/webhook/send?key=****"
    [payload] = robot.payloads()
    assert set(payload) == {"msgtype", "markdown"} and payload["msgtype"] == "markdown"
    content = payload["markdown"]["content"]
    assert len(content.encode()) <= 4096
    assert content.startswith('### <font color="warning">cmectl 执行完成 Run finished')
    assert "> web-06 [failed] nginx : Install nginx: 软件包安装失败" in content
    assert "more" in content  # the list was shortened to fit, and says so


def test_http_500_unreachable_and_silent_endpoints_are_recorded_failures(home, store, robots):
    broken = robots("broken")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers
    silent_port = silent.getsockname()[1]
    write_config(home, "acme", f'[[wecom]]\nwebhook = "{broken.base}/cgi-bin/webhook/send?'
                               f'key={WECOM_KEY}"\n'
                               f'[[dingtalk]]\nwebhook = "http://127.0.0.1:9/robot/send?'
                               f'access_token={TOKEN}"\nsecret = "{SECRET}"\n'
                               f'[[wecom]]\nwebhook = "http://127.0.0.1:{silent_port}/cgi-bin/'
                               f'webhook/send?key={WECOM_KEY}"\n')
    req = new_request(store)
    run = finished_run(store, req)
    started = time.monotonic()
    try:
        deliveries = nt.notify(store, "run_finished", customer="acme", request=req, run=run,
                               home=home, timeout=0.5)
    finally:
        silent.close()
    assert time.monotonic() - started < 5
    assert [(d.channel, d.ok) for d in deliveries] == \
        [("dingtalk", False), ("wecom", False), ("wecom", False)]  # by kind, then file order
    assert deliveries[0].error == "cannot reach 127.0.0.1:9: Connection refused"
    assert deliveries[1].error == (f"127.0.0.1:{broken.server.server_address[1]} answered "
                                   "HTTP 500 Internal Server Error: upstream exploded")
    assert deliveries[2].error == f"127.0.0.1:{silent_port} did not answer within 0.5s"
    rows = store.list_notifications(req.id)
    assert [(r["channel"], r["ok"], r["error"]) for r in rows] == \
        [(d.channel, False, d.error) for d in deliveries]


# -- email -----------------------------------------------------------------------------------


def email_config(port: int, extra: str = "") -> str:
    return (f'[[email]]\nhost = "127.0.0.1"\nport = {port}\nfrom = "cme-ops@example.com"\n'
            f'to = ["it@acme.example", "boss@acme.example"]\n{extra}')


def test_email_request_opened_with_due_times_in_local_time(home, store, smtp_server):
    inbox, port = smtp_server()
    write_config(home, "acme", email_config(port))
    req = new_request(store, received_at="2026-03-02T10:00:00+08:00", priority="high")

    [delivery] = nt.notify(store, "request_opened", customer="acme", request=req, home=home)

    assert delivery == nt.Delivery(
        "request_opened", "email",
        f"it@acme.example, boss@acme.example via smtp://127.0.0.1:{port} (plain)", True)
    [mail] = inbox.mail
    assert mail["Subject"] == f"cmectl 服务请求已受理 Request opened: {req.id}"
    assert mail["To"] == "it@acme.example, boss@acme.example"
    assert inbox.envelopes[0].rcpt_tos == ["it@acme.example", "boss@acme.example"]
    lines = mail.get_content().splitlines()
    assert lines[0] == mail["Subject"]
    facts = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in lines[2:13])
    value_columns = {nt._width(line[:line.index(value)]) for line, value in
                     zip(lines[2:13], facts.values(), strict=True)}
    assert len(value_columns) == 1  # aligned, counting a Chinese character as two columns
    assert facts == {
        "请求 Request": req.id, "客户 Customer": "acme", "标题 Title": "nginx + HTTPS 商城",
        "操作 Action": "安装 install", "软件 Packages": "nginx", "主机 Hosts": "17 台 hosts",
        "优先级 Priority": "高 high", "提出人 Requester": "Wang Wei",
        "收到 Received": "2026-03-02 10:00 +08:00",
        "响应截止 Response due": "2026-03-02 10:15 +08:00",  # 15 business minutes
        "完成截止 Fulfilment due": "2026-03-03 10:00 +08:00",  # 8 business hours, lunch excluded
    }


def test_email_over_starttls_with_login_and_a_private_ca(home, store, smtp_server, tls,
                                                         monkeypatch):
    cafile, context = tls
    inbox, port = smtp_server(tls_context=context, require_starttls=True,
                              authenticator=check_login, auth_require_tls=True)
    monkeypatch.setenv("ACME_SMTP_PASSWORD", PASSWORD)
    write_config(home, "acme", email_config(
        port, f'starttls = true\nuser = "ops"\npassword_env = "ACME_SMTP_PASSWORD"\n'
              f'cafile = "{cafile}"\n'))
    req = new_request(store)
    run = finished_run(store, req, failing=1)

    [delivery] = nt.notify(store, "run_finished", customer="acme", request=req, run=run,
                           home=home)
    assert delivery.ok, delivery.error
    [mail] = inbox.mail
    assert mail["Subject"] == f"cmectl 执行完成 Run finished: {run.id}, 失败 failed"
    body = mail.get_content()
    assert "web-06 [failed] nginx : Install nginx: No package nginx available." in body
    assert "未成功的主机 Hosts not done (1)" in body

    monkeypatch.setenv("ACME_SMTP_PASSWORD", "not-the-password")
    [delivery] = nt.notify(store, "run_finished", customer="acme", request=req, run=run,
                           home=home)
    assert not delivery.ok and delivery.error.startswith(f"127.0.0.1:{port} answered 535")
    assert len(inbox.mail) == 1


def test_email_over_implicit_tls(home, store, smtp_server, tls):
    cafile, context = tls
    inbox, port = smtp_server(ssl_context=context, authenticator=check_login,
                              auth_require_tls=False)  # implicit TLS: aiosmtpd cannot tell
    write_config(home, "acme", email_config(
        port, f'ssl = true\nuser = "ops"\npassword = "{PASSWORD}"\ncafile = "{cafile}"\n'))
    req = new_request(store)
    [delivery] = nt.notify(store, "request_opened", customer="acme", request=req, home=home)
    assert delivery.ok, delivery.error
    assert delivery.target.endswith("(ssl)")
    assert len(inbox.mail) == 1

    write_config(home, "acme", email_config(port, f'ssl = true\nuser = "ops"\n'
                                                  f'password = "{PASSWORD}"\n'))
    [delivery] = nt.notify(store, "request_opened", customer="acme", request=req, home=home)
    assert not delivery.ok and "CERTIFICATE_VERIFY_FAILED" in delivery.error  # not trusted


def test_email_to_a_wrong_port_is_a_recorded_failure(home, store):
    write_config(home, "acme", email_config(9))
    req = new_request(store)
    [delivery] = nt.notify(store, "request_opened", customer="acme", request=req, home=home)
    assert delivery.error == "cannot reach 127.0.0.1:9: Connection refused"
    assert store.list_notifications(req.id)[0]["error"] == delivery.error


# -- which configuration -------------------------------------------------------------------


def test_no_configuration_sends_nothing_and_records_nothing(home, store):
    req = new_request(store)
    assert nt.notify(store, "request_opened", customer="acme", request=req, home=home) == []
    assert store.list_notifications() == []


def test_customer_file_wins_over_default_and_events_filter(home, store, robots):
    own, fallback = robots("wecom"), robots("wecom")
    write_config(home, "acme", f'events = ["run_finished"]\n[[wecom]]\n'
                               f'webhook = "{own.webhook}"\n')
    write_config(home, "default", f'[[wecom]]\nwebhook = "{fallback.webhook}"\n'
                                  'events = ["request_opened", "run_started"]\n')
    acme = new_request(store)
    other = new_request(store, customer="globex")
    run = finished_run(store, acme)

    assert nt.notify(store, "request_opened", customer="acme", request=acme, home=home) == []
    assert len(nt.notify(store, "run_finished", customer="acme", request=acme, run=run,
                         home=home)) == 1
    assert len(nt.notify(store, "request_opened", customer="globex", request=other,
                         home=home)) == 1
    assert nt.notify(store, "run_finished", customer="globex", request=other, run=run,
                     home=home) == []
    # customer=None: the request's customer; a run alone: its request's customer
    assert len(nt.notify(store, "run_finished", customer=None, run=run, home=home)) == 1
    assert (len(own.received), len(fallback.received)) == (2, 1)
    warned: list[str] = []
    assert len(nt.notify(store, "request_opened", customer="../acme", request=other,
                         home=home, warn=warned.append)) == 1
    assert "cannot name a file" in warned[0]


def test_run_started_message():
    run = Run(id="20261124-020000-ab12", request_id="SR-7", action="uninstall",
              packages=["jdk", "zookeeper"], inventory="/i.yml", started_at="x",
              status="running", check_mode=True, operator="li.lei", limit_expr="zk*",
              options={"hosts": ["zk-1", "zk-2", "zk-3"]})
    text = nt.build_message("run_started", run=run).plain()
    for expected in ("cmectl 开始执行 Run started: 20261124-020000-ab12", "SR-7",
                     "卸载 uninstall", "jdk, zookeeper", "3 台 hosts (limit zk*)",
                     "check mode", "li.lei"):
        assert expected in text


# -- SLA risk ------------------------------------------------------------------------------


def test_sla_risk_found_once_and_notified(home, store, robots):
    robot = robots("dingtalk")
    write_config(home, "acme", dingtalk_config(robot))
    received = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    now = received + dt.timedelta(minutes=12)
    due_soon = new_request(store, priority="emergency", received_at=received.isoformat())
    later_one = new_request(store, priority="emergency",  # due in 13 minutes: not yet
                received_at=(now - dt.timedelta(minutes=2)).isoformat())
    answered = new_request(store, priority="emergency",
                           received_at=(now - dt.timedelta(minutes=14)).isoformat())
    acknowledge(store, answered.id, at=(now - dt.timedelta(minutes=10)).isoformat())

    risks = nt.sla_risks(store, now, home=home)
    assert [(r.id, clock) for r, clock, _ in risks] == [(due_soon.id, "response")]
    info = risks[0][2]
    assert info["due"] == "2026-03-02T02:15:00+00:00" and info["minutes_left"] == 3
    assert info["calendar"] == "7x24"

    deliveries = nt.notify_sla_risks(store, now, home=home)
    assert [(d.event, d.ok) for d in deliveries] == [("sla_risk:response", True)]
    text = robot.payloads()[0]["markdown"]["text"]
    for expected in (due_soon.id, "SLA 即将超时 SLA at risk", "首次响应 first response",
                     "2026-03-02 10:15 +08:00", "剩余 Time left**: 3 分钟 min"):
        assert expected in text

    assert nt.sla_risks(store, now, home=home) == []
    later = now + dt.timedelta(minutes=10)  # overdue now, and the next request is due soon
    assert [(r.id, clock) for r, clock, _ in nt.sla_risks(store, later, home=home)] == \
        [(later_one.id, "response")]  # the first was told about once, not again
    assert len(nt.notify_sla_risks(store, later, home=home)) == 1
    assert nt.sla_risks(store, later, home=home) == []
    assert len(robot.received) == 2


def test_sla_risk_overdue_and_retried_after_a_failed_notice(home, store):
    write_config(home, "acme", f'[[wecom]]\nwebhook = "http://127.0.0.1:9/cgi-bin/webhook/'
                               f'send?key={WECOM_KEY}"\n')
    received = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)
    now = received + dt.timedelta(minutes=20)
    req = new_request(store, priority="emergency", received_at=received.isoformat())
    [(_, clock, info)] = nt.sla_risks(store, now, home=home)
    assert (clock, info["minutes_left"], info["met"]) == ("response", -5, False)
    message = nt.build_message("sla_risk", request=req, sla=info, tz=dt.UTC).plain()
    assert "SLA 已超时 SLA missed" in message and "已超时 Overdue by  5 分钟 min" in message

    for _ in range(nt.SLA_RISK_ATTEMPTS):
        [delivery] = nt.notify_sla_risks(store, now, home=home)
        assert not delivery.ok
    assert nt.sla_risks(store, now, home=home) == []  # given up after that many failures


# -- configuration errors and secrets ------------------------------------------------------


HOOK = f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"
EMAIL = 'host = "smtp.example.com"\nfrom = "a@example.com"\nto = ["b@example.com"]\n'


@pytest.mark.parametrize(("text", "problem", "fix"), [
    ("colour = 'red'\n", "unknown key 'colour'", "use only events, timezone"),
    ("events = [\n", "is not valid TOML", "fix the file"),
    ('events = ["run_done"]\n', "unknown event 'run_done'", "request_opened"),
    ('timezone = "Mars/Olympus"\n', "not a known time zone", "Asia/Shanghai"),
    (f'[dingtalk]\nsecret = "{SECRET}"\n', "[[dingtalk]] #1: webhook is missing",
     "webhook_env"),
    (f'[[dingtalk]]\nwebhook = "{HOOK}"\nsecert = "x"\n', "unknown key 'secert'",
     "secret_env"),
    (f'[[dingtalk]]\nwebhook = "ftp://oapi.dingtalk.com/robot/send?access_token={TOKEN}"\n',
     "is not an https:// URL", "robot's settings"),
    (f'[[wecom]]\nwebhook = "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}"'
     '\n', "plain http", "https://"),
    ('[[wecom]]\nwebhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"\n',
     "has no key=", "whole webhook URL"),
    (f'[[dingtalk]]\nwebhook = "{HOOK}&timestamp=1&sign=abc"\n', "already carries",
     "cmectl signs"),
    (f'[[dingtalk]]\nwebhook = "{HOOK}"\nsecret = "{SECRET}"\nsecret_env = "X"\n',
     "both secret and secret_env", "keep one"),
    (f'[[dingtalk]]\nwebhook = "{HOOK}"\nat_all = "yes"\n', "at_all must be true or false",
     "at_all = true"),
    (f"[[email]]\n{EMAIL}ssl = true\nstarttls = true\n", "both ssl and starttls", "port 587"),
    (f'[[email]]\n{EMAIL}user = "u"\npassword = "{PASSWORD}"\n', "would cross the network",
     "starttls = true"),
    (f'[[email]]\n{EMAIL}password = "{PASSWORD}"\n', "a password is set but no user",
     "user ="),
    ('[[email]]\nhost = "smtp.example.com"\nfrom = "a@example.com"\n', "to is missing",
     "to = ["),
    (f'[[email]]\n{EMAIL}port = 99999\n', "is not a port number", "465"),
    ('[[email]]\nhost = "smtp.example.com"\nfrom = "nobody"\nto = ["b@example.com"]\n',
     "'nobody' is not an email address", "name@example.com"),
])
def test_configuration_errors_say_what_and_how_to_fix(home, text, problem, fix):
    path = write_config(home, "acme", text)
    with pytest.raises(UsageError) as caught:
        nt.load_config("acme", home, warn=lambda m: None)
    assert str(path) in caught.value.problem
    assert problem in caught.value.problem
    assert fix in caught.value.fix
    for secret in SECRETS:
        assert secret not in str(caught.value)


def test_readable_secret_files_and_unset_variables_are_warned_about(home, monkeypatch):
    hook = '[[wecom]]\nwebhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K1"\n'
    path = write_config(home, "acme", hook, mode=0o644)
    warned: list[str] = []
    assert nt.load_config("acme", home, warn=warned.append) is not None
    assert len(warned) == 1 and "its mode is 0644" in warned[0] and f"chmod 600 {path}" in warned[0]

    warned.clear()
    path.chmod(0o600)
    nt.load_config("acme", home, warn=warned.append)
    assert warned == []

    write_config(home, "acme", '[[wecom]]\nwebhook_env = "ACME_WECOM_HOOK"\n', mode=0o644)
    monkeypatch.delenv("ACME_WECOM_HOOK", raising=False)
    nt.load_config("acme", home, warn=warned.append)
    assert warned == [f"{home}/notify/acme.toml [[wecom]] #1: environment variable "
                      "ACME_WECOM_HOOK (webhook_env) is not set; notifications through it "
                      "will fail until it is"]
    with pytest.warns(nt.NotifyWarning, match="ACME_WECOM_HOOK"):
        nt.load_config("acme", home)


def test_no_secret_reaches_records_results_or_messages(home, store, robots, smtp_server, tls):
    right, wrong, broken = robots("dingtalk"), robots("dingtalk", "SECx"), robots("broken")
    cafile, context = tls
    _inbox, port = smtp_server(tls_context=context, require_starttls=True,
                               authenticator=check_login)
    path = write_config(home, "acme", "\n".join([
        dingtalk_config(right), dingtalk_config(wrong),
        f'[[wecom]]\nwebhook = "{broken.base}/cgi-bin/webhook/send?key={WECOM_KEY}"',
        f'[[wecom]]\nwebhook = "http://127.0.0.1:9/cgi-bin/webhook/send?key={WECOM_KEY}"',
        email_config(port, f'starttls = true\nuser = "ops"\npassword = "{PASSWORD}"\n'
                           f'cafile = "{cafile}"'),
        email_config(port, f'starttls = true\nuser = "ops"\npassword = "{PASSWORD}x"\n'
                           f'cafile = "{cafile}"'),
        email_config(9, f'starttls = true\nuser = "ops"\npassword = "{PASSWORD}"'),
    ]), mode=0o644)
    warned: list[str] = []
    req = new_request(store)
    run = finished_run(store, req)
    returned = []
    for event in ("request_opened", "run_started", "run_finished"):
        returned += nt.notify(store, event, customer="acme", request=req, run=run, home=home,
                              warn=warned.append)
    assert [d.ok for d in returned[:7]] == [True, False, False, False, True, False, False]
    config = nt.load_config("acme", home, warn=warned.append)

    seen = "\n".join([repr(returned), repr(config), *map(str, config.channels), *warned,
                      json.dumps(store.list_notifications(), ensure_ascii=False)])
    assert "access_token=****" in seen and "key=****" in seen
    store.db.execute("PRAGMA wal_checkpoint(FULL)")
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file() and p != path)
    for secret in SECRETS:
        for form in (secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)):
            assert form not in seen
            assert form.encode() not in stored
    assert nt.mask(f"https://x/send?access_token={TOKEN}&sign=abc%2B&timestamp=1") == \
        "https://x/send?access_token=****&sign=****&timestamp=1"
    assert nt.mask(f"smtp://ops:{PASSWORD}@mail.example.com") == "smtp://ops:****@mail.example.com"


# -- WeCom @mentions, the robots' rate limit, `cmectl notify test` ---------------------------


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
