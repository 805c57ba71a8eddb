"""Notifications: tell the customer's group chat and mailboxes what happens to their requests.

Four events: a request was opened, a run started, a run finished (with the per-host summary),
and an SLA clock is about to run out (or has). Three channels: a DingTalk custom robot (signed
webhook), a WeCom (WeChat Work) group robot, and email over SMTP.

Configuration is per customer, in ``$CMECTL_HOME/notify/<customer>.toml``, falling back to
``$CMECTL_HOME/notify/default.toml``; a customer with neither is not notified::

    events = ["request_opened", "run_started", "run_finished", "sla_risk"]  # optional
    timezone = "Asia/Shanghai"       # optional: for times in messages (default: the calendar's)

    [[dingtalk]]
    webhook = "https://oapi.dingtalk.com/robot/send?access_token=..."  # or webhook_env = "VAR"
    secret = "SEC..."                # the robot's signing secret, or secret_env = "VAR"
    at_mobiles = ["138..."]          # optional; also at_user_ids, at_all
    events = ["run_finished"]        # optional, per channel

    [[wecom]]
    webhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=..."  # or webhook_env
    mention_user_ids = ["zhangsan"]  # optional: @ them in the message; also mention_mobiles,
                                     # mention_all (sent as a short text message after it)

    [[email]]
    host = "smtp.example.com"
    port = 465                       # default: 465 with ssl, 587 with starttls, else 25
    ssl = true                       # or starttls = true
    user = "ops@example.com"
    password_env = "CMECTL_SMTP_PASSWORD"   # or password = "..."
    from = "ops@example.com"
    to = ["customer-it@example.com"]
    cafile = "/etc/pki/private-ca.pem"      # optional: trust a private CA

A DingTalk robot may be secured by signing (give its secret), by keywords (every message
title starts with "cmectl", so use that keyword) or by IP addresses.

Group robots accept 20 messages a minute each: cmectl keeps, per webhook and across all its
processes, the times of the last messages under ``$CMECTL_HOME/notify/.sent/`` and waits
before a 21st (never longer than a minute).

A file holding a secret (a webhook, whose token lets anyone post to the group, a signing secret
or a password) should be mode 0600; otherwise a warning is given. Plain ``http://`` webhooks
are refused except to the loopback address or with ``allow_http = true`` (a local relay).

Delivery never raises: every attempt, delivered or not, is recorded in the record store with
its target and error masked, and returned as a :class:`Delivery`. A malformed configuration
file raises :class:`~cmectl.errors.UsageError`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import re
import sqlite3
import stat
import time
import unicodedata
import urllib.parse
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cmectl.errors import CmectlError, UsageError
from cmectl.records import RecordStore, Request, Run

EVENTS = ("request_opened", "run_started", "run_finished", "sla_risk")
CLOCKS = ("response", "fulfilment")
# An SLA-risk notice for one clock of one request is sent once; failed attempts are retried
# (by the next cron tick) up to this many times.
SLA_RISK_ATTEMPTS = 3
MAX_FAILING_HOSTS = 10  # failing hosts listed in a run_finished message
WECOM_MAX_BYTES = 4096  # WeCom's limit on markdown content (UTF-8)
WECOM_TEXT_MAX_BYTES = 2048  # and on text content
ROBOT_LIMIT = 20  # messages a group robot accepts per ROBOT_PERIOD seconds (DingTalk and WeCom)
ROBOT_PERIOD = 60.0
DINGTALK_MAX_BYTES = 18_000  # DingTalk's limit is about 20,000 bytes for the whole message
MASK = "****"

Warn = Callable[[str], None]


class NotifyWarning(UserWarning):
    """A notification configuration that works but should be fixed (e.g. file permissions)."""


class DeliveryError(Exception):
    """One delivery attempt failed; the message is already free of secrets."""


# -- secrets ------------------------------------------------------------------------------


class Secret:
    """A secret value that never shows itself in a repr, str or f-string."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value.encode(),
                                                                 other._value.encode())

    def __hash__(self) -> int:
        return hash(Secret)


_SECRET_PARAM = re.compile(
    r"(?i)\b(access_token|key|sign|secret|password|passwd|token)=([^&\s\"'#<>]+)")
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/@\s:]+):[^/@\s]+@")


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with secret query parameters, URL passwords and the given values hidden."""
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", text)
    for value in secrets:
        if value and len(value) >= 4:
            for form in {value, urllib.parse.quote(value, safe=""),
                         urllib.parse.quote_plus(value)}:
                text = text.replace(form, MASK)
    return text


# -- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Channel:
    source: str  # "<file> [[kind]] #n", for messages
    events: frozenset[str] | None

    kind = "channel"

    def wants(self, event: str) -> bool:
        return self.events is None or event in self.events

    @property
    def target(self) -> str:  # where it goes, without secrets: recorded and shown
        raise NotImplementedError

    def secrets(self) -> list[str]:
        return []


@dataclass(frozen=True)
class _Webhook(_Channel):
    webhook: Secret | None = field(default=None, repr=False)
    webhook_env: str | None = None
    allow_http: bool = False

    required_param = ""

    def url(self) -> str:
        if self.webhook is not None:
            return self.webhook.reveal()
        raw = os.environ.get(self.webhook_env or "", "").strip()
        if not raw:
            raise DeliveryError(f"environment variable {self.webhook_env} (webhook_env) is not "
                                f"set")
        try:
            return _check_webhook(raw, self.required_param, self.allow_http,
                                  f"{self.webhook_env} (webhook_env)")
        except UsageError as exc:
            raise DeliveryError(str(exc)) from None

    @property
    def target(self) -> str:
        if self.webhook is not None:
            return mask(self.webhook.reveal())
        raw = os.environ.get(self.webhook_env or "")
        return mask(raw) if raw else f"${self.webhook_env}"

    def secrets(self) -> list[str]:
        raw = self.webhook.reveal() if self.webhook else os.environ.get(self.webhook_env or "")
        return [m.group(2) for m in _SECRET_PARAM.finditer(raw or "")]


@dataclass(frozen=True)
class DingTalk(_Webhook):
    secret: Secret | None = field(default=None, repr=False)
    secret_env: str | None = None
    at_mobiles: tuple[str, ...] = ()
    at_user_ids: tuple[str, ...] = ()
    at_all: bool = False

    kind = "dingtalk"
    required_param = "access_token"

    def signing_secret(self) -> str | None:
        if self.secret is not None:
            return self.secret.reveal()
        if self.secret_env:
            value = os.environ.get(self.secret_env, "").strip()
            if not value:
                raise DeliveryError(f"environment variable {self.secret_env} (secret_env) is "
                                    f"not set")
            return value
        return None

    def secrets(self) -> list[str]:
        out = super().secrets()
        value = self.secret.reveal() if self.secret else \
            os.environ.get(self.secret_env or "", "").strip()
        return [*out, value] if value else out


@dataclass(frozen=True)
class WeCom(_Webhook):
    mention_user_ids: tuple[str, ...] = ()
    mention_mobiles: tuple[str, ...] = ()
    mention_all: bool = False

    kind = "wecom"
    required_param = "key"


@dataclass(frozen=True)
class Email(_Channel):
    host: str = ""
    port: int = 25
    security: str = "plain"  # ssl | starttls | plain
    user: str | None = None
    password: Secret | None = field(default=None, repr=False)
    password_env: str | None = None
    sender: str = ""
    to: tuple[str, ...] = ()
    cafile: str | None = None

    kind = "email"

    @property
    def target(self) -> str:
        return f"{', '.join(self.to)} via smtp://{self.host}:{self.port} ({self.security})"

    def login_password(self) -> str | None:
        if self.password is not None:
            return self.password.reveal()
        if self.password_env:
            value = os.environ.get(self.password_env, "")
            if not value:
                raise DeliveryError(f"environment variable {self.password_env} (password_env) "
                                    f"is not set")
            return value
        return None

    def secrets(self) -> list[str]:
        value = (self.password.reveal() if self.password
                 else os.environ.get(self.password_env or ""))
        return [value] if value else []


@dataclass(frozen=True)
class NotifyConfig:
    path: Path
    events: frozenset[str] | None
    timezone: dt.tzinfo | None
    channels: tuple[_Channel, ...]


_TOP_KEYS = ("events", "timezone", "dingtalk", "wecom", "email")
_KEYS = {
    "dingtalk": ("webhook", "webhook_env", "secret", "secret_env", "at_mobiles", "at_user_ids",
                 "at_all", "events", "allow_http"),
    "wecom": ("webhook", "webhook_env", "events", "allow_http", "mention_user_ids",
              "mention_mobiles", "mention_all"),
    "email": ("host", "port", "ssl", "starttls", "user", "password", "password_env", "from",
              "to", "cafile", "events"),
}
_SECRET_KEYS = ("webhook", "secret", "password")
_UNSAFE_NAME = re.compile(r"[/\\\x00]|^\.|^$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")


def config_dir(home: Path | None = None) -> Path:
    if home is None:
        from cmectl.config import cmectl_home

        home = cmectl_home()
    return home / "notify"


def config_path(customer: str | None, home: Path | None = None,
                warn: Warn | None = None) -> Path | None:
    """The file that configures ``customer``'s notifications, or None."""
    folder = config_dir(home)
    if customer:
        if _UNSAFE_NAME.search(customer):
            _warn(warn, f"customer {customer!r} cannot name a file under {folder}; "
                        f"using default.toml")
        else:
            own = folder / f"{customer}.toml"
            if own.is_file():
                return own
    default = folder / "default.toml"
    return default if default.is_file() else None


def load_config(customer: str | None, home: Path | None = None,
                warn: Warn | None = None) -> NotifyConfig | None:
    """The customer's notification settings (None: not configured). Raises UsageError for a
    malformed file; warns (through ``warn``, else the warnings module) about files with
    secrets that others can read, and secrets named by environment variables that are not
    set."""
    path = config_path(customer, home, warn)
    if path is None:
        return None
    return parse_config(path, warn)


def _warn(warn: Warn | None, message: str) -> None:
    if warn is not None:
        warn(message)
    else:
        warnings.warn(message, NotifyWarning, stacklevel=3)


def parse_config(path: Path, warn: Warn | None = None) -> NotifyConfig:
    from cmectl.config import read_toml

    data = read_toml(path, "fix the file (see 'Notifications' in the README)")
    for key in data:
        if key not in _TOP_KEYS:
            raise UsageError(f"{path}: unknown key {key!r}",
                             f"use only {', '.join(_TOP_KEYS)}")
    events = _events(data, str(path))
    timezone = None
    if "timezone" in data:
        name = data["timezone"]
        try:
            timezone = ZoneInfo(name) if isinstance(name, str) else None
        except (ZoneInfoNotFoundError, ValueError):
            timezone = None
        if timezone is None:
            raise UsageError(f"{path}: timezone {name!r} is not a known time zone",
                             'use an IANA name such as "Asia/Shanghai"')
    channels: list[_Channel] = []
    for kind in ("dingtalk", "wecom", "email"):
        entries = data.get(kind, [])
        if isinstance(entries, dict):
            entries = [entries]
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise UsageError(f"{path}: {kind} must be a table",
                             f"write each one as a [[{kind}]] section")
        for number, entry in enumerate(entries, start=1):
            where = f"{path} [[{kind}]] #{number}"
            for key in entry:
                if key not in _KEYS[kind]:
                    raise UsageError(f"{where}: unknown key {key!r}",
                                     f"use only {', '.join(_KEYS[kind])}")
            channels.append(_PARSERS[kind](entry, where, warn))
    holds_secret = any(key in entry for kind in ("dingtalk", "wecom", "email")
                       for entry in _as_list(data.get(kind)) for key in _SECRET_KEYS)
    if holds_secret:
        _check_mode(path, warn)
    return NotifyConfig(path=path, events=events, timezone=timezone, channels=tuple(channels))


def _as_list(value: Any) -> list[dict]:
    if isinstance(value, dict):
        return [value]
    return value if isinstance(value, list) else []


def _check_mode(path: Path, warn: Warn | None) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077:
        _warn(warn, f"{path} holds secrets (a webhook token, signing secret or password) but "
                    f"its mode is {mode:04o}; run 'chmod 600 {path}', or move the secrets to "
                    f"environment variables (webhook_env, secret_env, password_env)")


def _events(entry: dict, where: str) -> frozenset[str] | None:
    if "events" not in entry:
        return None
    names = entry["events"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise UsageError(f"{where}: events must be a list of event names",
                         f"e.g. events = {json.dumps(list(EVENTS))}")
    for name in names:
        if name not in EVENTS:
            raise UsageError(f"{where}: unknown event {name!r}",
                             f"use some of {', '.join(EVENTS)}")
    return frozenset(names)


def _text(entry: dict, key: str, where: str, required: bool = False) -> str | None:
    value = entry.get(key)
    if value is None:
        if required:
            raise UsageError(f"{where}: {key} is missing", f"add {key} = \"...\"")
        return None
    if not isinstance(value, str) or not value.strip():
        shown = "" if key in _SECRET_KEYS else f" ({value!r})"
        raise UsageError(f"{where}: {key} must be non-empty text{shown}",
                         f"write {key} = \"...\"")
    return value.strip()


def _flag(entry: dict, key: str, where: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise UsageError(f"{where}: {key} must be true or false, not {value!r}",
                         f"write {key} = true or {key} = false")
    return value


def _texts(entry: dict, key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise UsageError(f"{where}: {key} must be a list of text",
                         f'write {key} = ["...", "..."]')
    return tuple(v.strip() for v in value)


def _env_name(entry: dict, key: str, where: str, warn: Warn | None) -> str | None:
    name = _text(entry, key, where)
    if name is None:
        return None
    if not _ENV_NAME.match(name):
        raise UsageError(f"{where}: {key} {name!r} is not an environment variable name",
                         f"give the variable's name, e.g. {key} = \"CMECTL_SMTP_PASSWORD\"")
    if not os.environ.get(name):
        _warn(warn, f"{where}: environment variable {name} ({key}) is not set; notifications "
                    f"through it will fail until it is")
    return name


def _one_of(entry: dict, plain: str, env: str, where: str, required: bool) -> None:
    if plain in entry and env in entry:
        raise UsageError(f"{where}: both {plain} and {env} are set",
                         f"keep one: {env} (read from the environment) or {plain}")
    if required and plain not in entry and env not in entry:
        raise UsageError(f"{where}: {plain} is missing",
                         f"add {plain} = \"...\" or {env} = \"VARIABLE\"")


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_webhook(url: str, required_param: str, allow_http: bool, where: str) -> str:
    shown = mask(url)
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        raise UsageError(f"{where}: webhook {shown} is not a URL",
                         "copy the webhook URL from the robot's settings") from None
    if parts.scheme not in ("https", "http") or not host:
        raise UsageError(f"{where}: webhook {shown} is not an https:// URL",
                         "copy the webhook URL from the robot's settings")
    if parts.scheme == "http" and not (allow_http or _is_loopback(host)):
        raise UsageError(f"{where}: webhook {shown} is plain http, which would send its token "
                         f"in clear", "use the https:// URL (or allow_http = true for a relay "
                                      "on a trusted network)")
    query = urllib.parse.parse_qs(parts.query)
    if required_param and not query.get(required_param, [""])[0]:
        raise UsageError(f"{where}: webhook {shown} has no {required_param}=",
                         "copy the whole webhook URL from the robot's settings")
    if required_param == "access_token" and ("timestamp" in query or "sign" in query):
        raise UsageError(f"{where}: webhook {shown} already carries timestamp/sign",
                         "give the webhook without them and the robot's secret as secret: "
                         "cmectl signs every message")
    return url


def _parse_webhook_fields(entry: dict, where: str, required_param: str,
                          warn: Warn | None) -> dict[str, Any]:
    _one_of(entry, "webhook", "webhook_env", where, required=True)
    allow_http = _flag(entry, "allow_http", where)
    url = _text(entry, "webhook", where)
    if url is not None:
        _check_webhook(url, required_param, allow_http, where)
    env = _env_name(entry, "webhook_env", where, warn)
    if env and os.environ.get(env):
        _check_webhook(os.environ[env], required_param, allow_http, f"{where} ({env})")
    return {"source": where, "events": _events(entry, where),
            "webhook": Secret(url) if url else None, "webhook_env": env,
            "allow_http": allow_http}


def _parse_dingtalk(entry: dict, where: str, warn: Warn | None) -> DingTalk:
    fields = _parse_webhook_fields(entry, where, "access_token", warn)
    _one_of(entry, "secret", "secret_env", where, required=False)
    secret = _text(entry, "secret", where)
    return DingTalk(**fields, secret=Secret(secret) if secret else None,
                    secret_env=_env_name(entry, "secret_env", where, warn),
                    at_mobiles=_texts(entry, "at_mobiles", where),
                    at_user_ids=_texts(entry, "at_user_ids", where),
                    at_all=_flag(entry, "at_all", where))


def _parse_wecom(entry: dict, where: str, warn: Warn | None) -> WeCom:
    return WeCom(**_parse_webhook_fields(entry, where, "key", warn),
                 mention_user_ids=_texts(entry, "mention_user_ids", where),
                 mention_mobiles=_texts(entry, "mention_mobiles", where),
                 mention_all=_flag(entry, "mention_all", where))


def _parse_email(entry: dict, where: str, warn: Warn | None) -> Email:
    host = _text(entry, "host", where, required=True)
    use_ssl, starttls = _flag(entry, "ssl", where), _flag(entry, "starttls", where)
    if use_ssl and starttls:
        raise UsageError(f"{where}: both ssl and starttls are true",
                         "ssl = true for implicit TLS (port 465), starttls = true for port 587")
    security = "ssl" if use_ssl else "starttls" if starttls else "plain"
    port = entry.get("port", {"ssl": 465, "starttls": 587, "plain": 25}[security])
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise UsageError(f"{where}: port {port!r} is not a port number",
                         "write port = 465 (ssl), 587 (starttls) or 25")
    _one_of(entry, "password", "password_env", where, required=False)
    user = _text(entry, "user", where)
    password = _text(entry, "password", where)
    password_env = _env_name(entry, "password_env", where, warn)
    if (password or password_env) and not user:
        raise UsageError(f"{where}: a password is set but no user",
                         "add user = \"...\" (the SMTP login)")
    if user and not (password or password_env):
        raise UsageError(f"{where}: user is set but no password",
                         "add password_env = \"VARIABLE\" (or password = \"...\")")
    if user and security == "plain" and not _is_loopback(host):
        raise UsageError(f"{where}: the SMTP password would cross the network in clear",
                         "set ssl = true (port 465) or starttls = true (port 587)")
    sender = _text(entry, "from", where, required=True)
    to = _texts(entry, "to", where)
    if not to:
        raise UsageError(f"{where}: to is missing", 'add to = ["someone@example.com"]')
    for address in (sender, *to):
        if not _ADDRESS.match(address or ""):
            raise UsageError(f"{where}: {address!r} is not an email address",
                             "write addresses as name@example.com")
    cafile = _text(entry, "cafile", where)
    if cafile and not Path(cafile).expanduser().is_file():
        raise UsageError(f"{where}: cafile {cafile} does not exist",
                         "give the path of a PEM file with the CA certificate(s)")
    return Email(source=where, events=_events(entry, where), host=host or "", port=port,
                 security=security, user=user,
                 password=Secret(password) if password else None, password_env=password_env,
                 sender=sender or "", to=to,
                 cafile=str(Path(cafile).expanduser()) if cafile else None)


_PARSERS: dict[str, Callable[[dict, str, Warn | None], _Channel]] = {
    "dingtalk": _parse_dingtalk, "wecom": _parse_wecom, "email": _parse_email}


# -- messages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """What to say, independent of the channel: a title, labelled facts, an optional list."""

    title: str
    fields: tuple[tuple[str, str], ...]
    list_title: str | None = None
    items: tuple[str, ...] = ()
    warning: bool = False  # something needs attention (failure, SLA risk)

    def markdown(self, heading: str, *, line_break: str, quote_items: bool = False,
                 colour: bool = False) -> str:
        """Markdown for a robot. DingTalk starts a new line only at a blank line (so
        ``line_break="\\n\\n"``); WeCom at every newline, and has quotes but no lists."""
        title = f'<font color="warning">{self.title}</font>' if colour and self.warning \
            else self.title
        text = f"{heading} {title}\n\n"
        text += line_break.join(f"**{label}**: {value}" for label, value in self.fields)
        if self.list_title:
            text += f"\n\n**{self.list_title}**\n\n"
            text += "\n".join(f"{'>' if quote_items else '-'} {item}" for item in self.items)
        return text + "\n"

    def plain(self) -> str:
        lines = [self.title, ""]
        width = max((_width(label) for label, _ in self.fields), default=0)
        lines += [f"{label}{' ' * (width - _width(label))}  {value}"
                  for label, value in self.fields]
        if self.list_title:
            lines += ["", self.list_title]
            lines += [f"  - {item}" for item in self.items]
        lines += ["", "-- cmectl"]
        return "\n".join(lines) + "\n"

    def fitted(self, render: Callable[[Message], str], limit: int) -> str:
        """``render(self)``, dropping list items (then cutting) until it fits ``limit`` bytes."""
        dropped = 0
        while True:
            items = self.items[:len(self.items) - dropped]
            if dropped:
                items += (f"... {dropped} more",)
            text = render(replace(self, items=items))
            if len(text.encode()) <= limit or dropped >= len(self.items):
                break
            dropped += 1
        data = text.encode()
        if len(data) > limit:
            text = data[:limit - 4].decode(errors="ignore") + " ..."
        return text


def _width(text: str) -> int:
    """Columns ``text`` takes in a fixed-width font: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


ACTIONS = {"install": "安装 install", "uninstall": "卸载 uninstall", "verify": "验证 verify"}
PRIORITY = {"emergency": "紧急 emergency (7x24)", "high": "高 high", "normal": "普通 normal",
            "low": "低 low"}
RUN_STATUS = {"ok": "成功 succeeded", "failed": "失败 failed",
              "unreachable": "主机不可达 unreachable", "interrupted": "已中断 interrupted",
              "error": "出错 error", "lost": "丢失 lost", "running": "执行中 running"}
CLOCK_NAMES = {"response": "首次响应 first response", "fulfilment": "完成 fulfilment"}


def _clip(text: str | None, size: int = 200) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= size else text[:size - 3] + "..."


def _local(moment: str | dt.datetime | None, tz: dt.tzinfo) -> str:
    """A moment as the customer reads it: ``2026-11-24 10:18 +08:00``."""
    if not moment:
        return "-"
    when = dt.datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    local = when.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.isoformat()[-6:]}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _request_fields(req: Request | None, request_id: str | None) -> list[tuple[str, str]]:
    if req is None:
        return [("请求 Request", request_id or "-")]
    out = [("请求 Request", req.id)]
    if req.customer:
        out.append(("客户 Customer", req.customer))
    if req.title:
        out.append(("标题 Title", _clip(req.title, 120)))
    return out


def build_message(event: str, *, request: Request | None = None, run: Run | None = None,
                  sla: dict | None = None, tz: dt.tzinfo = dt.UTC,
                  now: dt.datetime | None = None) -> Message:
    """The message for one event. ``sla``: for request_opened, :func:`service_level`'s result
    (for the due times); for sla_risk, one clock as :func:`sla_risks` returns it."""
    if event == "request_opened":
        return _opened(_need(request, "request", event), sla or {}, tz)
    if event == "run_started":
        return _started(_need(run, "run", event), request)
    if event == "run_finished":
        return _finished(_need(run, "run", event), request)
    if event == "sla_risk":
        return _risk(_need(request, "request", event), _need(sla, "sla", event), tz, now)
    raise ValueError(f"unknown notification event {event!r}; known: {', '.join(EVENTS)}")


def _need(value: Any, name: str, event: str) -> Any:
    if value is None:
        raise ValueError(f"a {event} notification needs {name}=")
    return value


def _opened(req: Request, sla: dict, tz: dt.tzinfo) -> Message:
    fields = _request_fields(req, req.id)
    fields += [
        ("操作 Action", ACTIONS.get(req.action, req.action)),
        ("软件 Packages", ", ".join(req.packages) or "-"),
        ("主机 Hosts", f"{len(req.hosts)} 台 hosts"),
        ("优先级 Priority", PRIORITY.get(req.priority, req.priority)),
    ]
    if req.requester:
        fields.append(("提出人 Requester", req.requester))
    fields.append(("收到 Received", _local(req.received_at, tz)))
    if sla.get("response", {}).get("due"):
        fields.append(("响应截止 Response due", _local(sla["response"]["due"], tz)))
    if sla.get("fulfilment", {}).get("due"):
        fields.append(("完成截止 Fulfilment due", _local(sla["fulfilment"]["due"], tz)))
    return Message(f"cmectl 服务请求已受理 Request opened: {req.id}", tuple(fields))


def _started(run: Run, req: Request | None) -> Message:
    hosts = run.options.get("hosts") or [h.host for h in run.hosts]
    fields = [("执行 Run", run.id), *_request_fields(req, run.request_id),
              ("操作 Action", ACTIONS.get(run.action, run.action)),
              ("软件 Packages", ", ".join(run.packages) or "-"),
              ("主机 Hosts", f"{len(hosts)} 台 hosts"
                             + (f" (limit {run.limit_expr})" if run.limit_expr else ""))]
    if run.check_mode:
        fields.append(("模式 Mode", "检查模式, 不做改动 check mode, no changes"))
    if run.operator:
        fields.append(("执行人 Operator", run.operator))
    return Message(f"cmectl 开始执行 Run started: {run.id}", tuple(fields))


def host_counts(run: Run) -> dict[str, int]:
    """Hosts per outcome: ok, changed, failed, unreachable, other (interrupted, not run...)."""
    counts = dict.fromkeys(("ok", "changed", "failed", "unreachable", "other"), 0)
    for host in run.hosts:
        counts[host.status if host.status in counts else "other"] += 1
    return counts


def _finished(run: Run, req: Request | None) -> Message:
    counts = host_counts(run)
    summary = (f"未变更 ok {counts['ok']} · 已变更 changed {counts['changed']} · "
               f"失败 failed {counts['failed']} · 不可达 unreachable {counts['unreachable']}")
    if counts["other"]:
        summary += f" · 其他 other {counts['other']}"
    status = RUN_STATUS.get(run.status, run.status)
    fields = [("执行 Run", run.id), *_request_fields(req, run.request_id),
              ("操作 Action", ACTIONS.get(run.action, run.action)
               + (" (检查模式 check mode)" if run.check_mode else "")),
              ("软件 Packages", ", ".join(run.packages) or "-"),
              ("结果 Result", status),
              ("主机 Hosts", f"{len(run.hosts)} 台: {summary}"),
              ("耗时 Duration", _duration(run.duration_s))]
    if run.status != "ok" and run.message:
        fields.append(("说明 Note", _clip(run.message)))
    failing = [h for h in run.hosts if h.status not in ("ok", "changed")]
    items = []
    for host in failing[:MAX_FAILING_HOSTS]:
        detail = ": ".join(p for p in (_clip(host.failed_task, 80), _clip(host.message)) if p)
        items.append(f"{host.host} [{host.status}]" + (f" {detail}" if detail else ""))
    if len(failing) > MAX_FAILING_HOSTS:
        items.append(f"... 另有 {len(failing) - MAX_FAILING_HOSTS} 台 more")
    return Message(f"cmectl 执行完成 Run finished: {run.id}, {status}", tuple(fields),
                   f"未成功的主机 Hosts not done ({len(failing)})" if failing else None,
                   tuple(items), warning=run.status != "ok")


def _risk(req: Request, sla: dict, tz: dt.tzinfo, now: dt.datetime | None) -> Message:
    clock = sla.get("clock", "response")
    due = sla.get("due")
    left = sla.get("minutes_left")
    if left is None and due:
        now = now or dt.datetime.now(dt.UTC)
        left = _minutes((dt.datetime.fromisoformat(due) - now).total_seconds())
    overdue = left is not None and left < 0
    basis = sla.get("calendar")
    basis = "" if not basis else " (7x24)" if basis == "7x24" else \
        f" (工作时间 business time, {basis})"
    fields = _request_fields(req, req.id)
    fields += [("时钟 Clock", CLOCK_NAMES.get(clock, clock) + basis),
               ("截止 Due", _local(due, tz))]
    if left is not None:
        fields.append(("已超时 Overdue by" if overdue else "剩余 Time left",
                       f"{abs(left)} 分钟 min"))
    fields += [("优先级 Priority", PRIORITY.get(req.priority, req.priority)),
               ("状态 Status", req.status)]
    title = (f"cmectl SLA 已超时 SLA missed: {req.id}" if overdue
             else f"cmectl SLA 即将超时 SLA at risk: {req.id}")
    return Message(title, tuple(fields), warning=True)


# -- delivery -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One attempt to notify one channel. ``target`` and ``error`` are free of secrets."""

    event: str
    channel: str
    target: str
    ok: bool
    error: str | None = None


def sign_dingtalk(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature for a custom robot in signing mode, URL-encoded for the query:
    base64(HMAC-SHA256(key=secret, msg="<timestamp>\\n<secret>"))."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(),
                      hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode("ascii"))


def _with_query(url: str, extra: str) -> str:
    base, _, fragment = url.partition("#")
    joined = base + ("&" if "?" in base else "?") + extra
    return joined + (f"#{fragment}" if fragment else "")


def _post_json(url: str, payload: dict, timeout: float) -> dict:
    import urllib.error
    import urllib.request  # here, not at the top: keeps 'cmectl --help' quick

    parts = urllib.parse.urlsplit(url)
    host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    request = urllib.request.Request(
        url, data=json.dumps(payload, ensure_ascii=False).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "cmectl"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(1 << 16)
    except urllib.error.HTTPError as exc:
        detail = _clip(exc.read(300).decode("utf-8", "replace"), 200) if exc.fp else ""
        exc.close()
        raise DeliveryError(f"{host} answered HTTP {exc.code} {exc.reason}"
                            + (f": {detail}" if detail else "")) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
        raise DeliveryError(f"cannot reach {host}: {text}") from None
    except TimeoutError:
        raise DeliveryError(f"{host} did not answer within {timeout:g}s") from None
    except OSError as exc:
        raise DeliveryError(f"cannot talk to {host}: {exc.strerror or exc}") from None
    try:
        answer = json.loads(body)
    except ValueError:
        raise DeliveryError(f"{host} answered with something that is not JSON: "
                            f"{_clip(body.decode('utf-8', 'replace'), 120)}") from None
    if not isinstance(answer, dict):
        raise DeliveryError(f"{host} answered {_clip(json.dumps(answer), 120)}")
    return answer


def _check_errcode(answer: dict, host_label: str) -> None:
    code = answer.get("errcode")
    if code != 0:
        raise DeliveryError(f"{host_label} refused the message: errcode {code}, "
                            f"errmsg {answer.get('errmsg', '')!r}")


def _send_dingtalk(channel: DingTalk, message: Message, timeout: float,
                   throttle: Throttle | None = None) -> None:
    url = channel.url()
    if throttle is not None:
        throttle.wait(url)  # before signing: the signature's timestamp must be fresh
    secret = channel.signing_secret()
    if secret:
        timestamp = int(time.time() * 1000)
        url = _with_query(url, f"timestamp={timestamp}&sign={sign_dingtalk(secret, timestamp)}")
    text = message.fitted(lambda m: m.markdown("####", line_break="\n\n"), DINGTALK_MAX_BYTES)
    # In markdown, DingTalk only rings the phones named in the text as well as in "at".
    mentions = " ".join(f"@{who}" for who in (*channel.at_mobiles, *channel.at_user_ids))
    if mentions:
        text = f"{text}\n{mentions}\n"
    payload = {"msgtype": "markdown",
               "markdown": {"title": message.title, "text": text},
               "at": {"atMobiles": list(channel.at_mobiles),
                      "atUserIds": list(channel.at_user_ids), "isAtAll": channel.at_all}}
    _check_errcode(_post_json(url, payload, timeout), "DingTalk")


def _send_wecom(channel: WeCom, message: Message, timeout: float,
                throttle: Throttle | None = None) -> None:
    # Markdown can @ people only by user id (<@id>); phone numbers and @all need a text
    # message, sent right after with the title as its text.
    tags = "".join(f"<@{who}>" for who in channel.mention_user_ids)
    room = WECOM_MAX_BYTES - len(tags.encode()) - 1
    content = message.fitted(
        lambda m: m.markdown("###", line_break="\n", quote_items=True, colour=True), room)
    if tags:
        content = f"{content}{tags}\n"
    url = channel.url()
    _post_robot(throttle, url, {"msgtype": "markdown", "markdown": {"content": content}},
                timeout, "WeCom")
    if channel.mention_mobiles or channel.mention_all:
        text = {"content": _clip(message.title, WECOM_TEXT_MAX_BYTES // 4),
                "mentioned_mobile_list": [*channel.mention_mobiles,
                                          *(["@all"] if channel.mention_all else [])]}
        _post_robot(throttle, url, {"msgtype": "text", "text": text}, timeout, "WeCom")


def _post_robot(throttle: Throttle | None, url: str, payload: dict, timeout: float,
                label: str) -> None:
    if throttle is not None:
        throttle.wait(url)
    _check_errcode(_post_json(url, payload, timeout), label)


def _send_email(channel: Email, message: Message, timeout: float,
                throttle: Throttle | None = None) -> None:
    import smtplib
    import ssl
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    password = channel.login_password()
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = channel.sender
    mail["To"] = ", ".join(channel.to)
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain=channel.sender.rpartition("@")[2] or None)
    mail.set_content(message.plain())
    where = f"{channel.host}:{channel.port}"
    try:
        context = ssl.create_default_context(cafile=channel.cafile)
        if channel.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(channel.host, channel.port,
                                                    timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(channel.host, channel.port, timeout=timeout)
        with client:
            if channel.security == "starttls":
                client.starttls(context=context)
            if channel.user and password is not None:
                client.login(channel.user, password)
            refused = client.send_message(mail, from_addr=channel.sender,
                                          to_addrs=list(channel.to))
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"{where} refused every recipient: "
                            f"{_refusals(exc.recipients)}") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"{where} answered {exc.smtp_code} "
                            f"{_smtp_text(exc.smtp_error)}") from None
    except (smtplib.SMTPException, ssl.SSLError) as exc:
        raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}") from None
    except TimeoutError:
        raise DeliveryError(f"{where} did not answer within {timeout:g}s") from None
    except OSError as exc:
        raise DeliveryError(f"cannot reach {where}: {exc.strerror or exc}") from None
    if refused:
        raise DeliveryError(f"{where} refused some recipients: {_refusals(refused)}")


def _smtp_text(raw: bytes | str) -> str:
    return _clip(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))


def _refusals(refused: dict) -> str:
    return "; ".join(f"{address} ({code} {_smtp_text(text)})"
                     for address, (code, text) in refused.items())


_SENDERS: dict[str, Callable[..., None]] = {
    "dingtalk": _send_dingtalk, "wecom": _send_wecom, "email": _send_email}


class Throttle:
    """At most ``limit`` messages per ``period`` seconds to each robot webhook, counted across
    every cmectl process sharing ``folder`` (a file per webhook, named by a hash of its URL,
    holding the times of its latest messages, under an exclusive lock)."""

    def __init__(self, folder: Path, limit: int | None = None, period: float | None = None):
        self.folder = folder
        self.limit = limit or ROBOT_LIMIT
        self.period = period or ROBOT_PERIOD

    def wait(self, url: str) -> float:
        """Block until a message to ``url`` is within the limit, and count it; returns the
        seconds waited."""
        import fcntl

        base = url.partition("#")[0]
        name = hashlib.sha256(base.encode()).hexdigest()[:24]
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle = open(self.folder / name, "a+", encoding="ascii")  # noqa: SIM115
        except OSError:
            return 0.0  # no place to count: send rather than not at all
        waited = 0.0
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            try:
                times = [float(t) for t in handle.read().split()]
            except ValueError:
                times = []
            now = time.time()
            times = sorted(t for t in times if t > now - self.period)
            if len(times) >= self.limit:
                waited = min(times[-self.limit] + self.period - now, self.period)
                time.sleep(max(waited, 0.0))
                now = time.time()
            times = [*times[-(self.limit - 1):], now]
            handle.seek(0)
            handle.truncate()
            handle.write("\n".join(f"{t:.3f}" for t in times))
        return max(waited, 0.0)


def _deliver(channel: _Channel, message: Message, timeout: float,
             throttle: Throttle | None = None) -> str | None:
    """Send; None when delivered, else the reason, free of secrets."""
    try:
        _SENDERS[channel.kind](channel, message, timeout, throttle)
    except DeliveryError as exc:
        return mask(str(exc), channel.secrets())
    except Exception as exc:  # a notification must never take the run down with it
        return mask(f"{type(exc).__name__}: {exc}", channel.secrets())
    return None


def _default_timezone(home: Path | None) -> dt.tzinfo:
    """The SLA calendar's time zone (customers read times in their own), else the machine's."""
    try:
        from cmectl.config import load_settings
        from cmectl.sla import load_calendar

        return load_calendar(load_settings(home=home).calendar).tz
    except CmectlError:
        return dt.datetime.now().astimezone().tzinfo or dt.UTC


def _opened_sla(store: RecordStore, req: Request, home: Path | None) -> dict:
    try:
        from cmectl.contract import for_customer
        from cmectl.requests import service_level

        runs = store.list_runs(limit=10_000, request_id=req.id)
        return service_level(req, runs, for_customer(req.customer, home))
    except (CmectlError, ValueError):
        return {}  # the message goes out without due times rather than not at all


def notify(store: RecordStore, event: str, *, customer: str | None,
           request: Request | None = None, run: Run | None = None, sla: dict | None = None,
           home: Path | None = None, timeout: float = 10, warn: Warn | None = None
           ) -> list[Delivery]:
    """Tell the customer's configured channels about ``event``; record and return each attempt.

    ``customer`` picks ``notify/<customer>.toml`` (else ``default.toml``); when None, the
    request's customer is used. Nothing configured: nothing sent, ``[]``. Delivery problems
    never raise; a malformed configuration file raises UsageError. For ``sla_risk``, ``sla``
    is one clock as :func:`sla_risks` gives it, and the attempt is recorded as event
    ``sla_risk:<clock>``.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}; known: {', '.join(EVENTS)}")
    if request is None and run is not None:
        try:
            request = store.get_request(run.request_id)
        except CmectlError:
            request = None
    if customer is None and request is not None:
        customer = request.customer
    config = load_config(customer, home, warn)
    if config is None:
        return []
    if config.events is not None and event not in config.events:
        return []
    channels = [c for c in config.channels if c.wants(event)]
    if not channels:
        return []
    if event == "request_opened" and sla is None and request is not None:
        sla = _opened_sla(store, request, home)
    message = build_message(event, request=request, run=run, sla=sla,
                            tz=config.timezone or _default_timezone(home))
    recorded_event = event
    if event == "sla_risk" and sla is not None:
        recorded_event = f"sla_risk:{sla.get('clock', 'response')}"
    request_id = request.id if request is not None else run.request_id if run else None
    return _deliver_all(store, channels, message, recorded_event, request_id,
                        run.id if run is not None else None, home, timeout, warn)


def _deliver_all(store: RecordStore, channels: Iterable[_Channel], message: Message,
                 recorded_event: str, request_id: str | None, run_id: str | None,
                 home: Path | None, timeout: float, warn: Warn | None) -> list[Delivery]:
    throttle = Throttle(config_dir(home) / ".sent")
    deliveries = []
    for channel in channels:
        error = _deliver(channel, message, timeout, throttle)
        delivery = Delivery(recorded_event, channel.kind, channel.target, error is None, error)
        try:
            store.record_notification(event=recorded_event, channel=channel.kind,
                                      target=delivery.target, ok=delivery.ok,
                                      error=delivery.error, request_id=request_id,
                                      run_id=run_id)
        except sqlite3.Error as exc:
            _warn(warn, f"could not record the {channel.kind} notification: {exc}")
        deliveries.append(delivery)
    return deliveries


def send_test(store: RecordStore, customer: str, *, home: Path | None = None,
              timeout: float = 10, warn: Warn | None = None) -> list[Delivery]:
    """Send a test message to every channel configured for ``customer`` (whatever events they
    are set to), recorded as event ``test``. Raises UsageError when nothing is configured."""
    import getpass
    import socket

    config = load_config(customer, home, warn)
    if config is None or not config.channels:
        raise UsageError(f"no notification channels are configured for {customer!r}",
                         f"write {config_dir(home) / (customer + '.toml')} (see "
                         f"'Notifications' in the README)")
    tz = config.timezone or _default_timezone(home)
    try:
        who = f"{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):
        who = socket.gethostname()
    message = Message(
        title="cmectl 测试消息 Test message",
        fields=(("客户 Customer", customer), ("发送 Sent by", who),
                ("时间 At", _local(dt.datetime.now(dt.UTC), tz)),
                ("配置 Config", str(config.path))))
    return _deliver_all(store, config.channels, message, "test", None, None, home, timeout,
                        warn)


# -- SLA risk -----------------------------------------------------------------------------


def _already_notified(sent: list[dict[str, Any]], clock: str) -> bool:
    attempts = [n for n in sent if n["event"] == f"sla_risk:{clock}"]
    return any(n["ok"] for n in attempts) or len(attempts) >= SLA_RISK_ATTEMPTS


def sla_risks(store: RecordStore, now: dt.datetime | None = None, within_minutes: float = 5,
              *, home: Path | None = None) -> list[tuple[Request, str, dict[str, Any]]]:
    """Open or acknowledged requests whose response or fulfilment clock falls due within
    ``within_minutes`` (wall-clock) of ``now``, or has already passed, and that nobody has
    been told about for that clock yet (a delivered notice, or SLA_RISK_ATTEMPTS failed ones).

    Each item: (request, "response" | "fulfilment", the clock as service_level gives it plus
    ``clock``, ``calendar`` and ``minutes_left``, negative when overdue).
    """
    from cmectl.config import load_settings
    from cmectl.contract import for_customer
    from cmectl.requests import service_level

    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError("sla_risks needs a timezone-aware now")
    settings = load_settings(home=home)
    contracts: dict[str | None, Any] = {}
    requests = [r for status in ("open", "acknowledged")
                for r in store.list_requests(status=status, limit=100_000)]
    risks = []
    for req in sorted(requests, key=lambda r: (r.received_at, r.id)):
        runs = store.list_runs(limit=10_000, request_id=req.id)
        if req.customer not in contracts:
            contracts[req.customer] = for_customer(req.customer, home, settings)
        level = service_level(req, runs, contracts[req.customer], now=now)
        sent: list[dict[str, Any]] | None = None
        for clock in CLOCKS:
            state = level[clock]
            if state["at"]:
                continue
            left_s = (dt.datetime.fromisoformat(state["due"]) - now).total_seconds()
            if left_s > within_minutes * 60:
                continue
            if sent is None:
                sent = store.list_notifications(req.id)
            if _already_notified(sent, clock):
                continue
            risks.append((req, clock, {**state, "clock": clock, "calendar": level["clock"],
                                       "minutes_left": _minutes(left_s)}))
    return risks


def _minutes(seconds: float) -> int:
    """Whole minutes, rounded away from the deadline: 2m30s left is 2, 30s overdue is -1."""
    whole = int(abs(seconds) // 60)
    return whole if seconds >= 0 else -max(1, whole + (abs(seconds) % 60 > 0))


def notify_sla_risks(store: RecordStore, now: dt.datetime | None = None,
                     within_minutes: float = 5, *, home: Path | None = None,
                     timeout: float = 10, warn: Warn | None = None) -> list[Delivery]:
    """Send a notice for each of :func:`sla_risks`. Meant for cron, so one customer's broken
    configuration file does not silence the others: it is warned about, recorded as a failed
    attempt (channel ``config``) and skipped."""
    deliveries: list[Delivery] = []
    for req, clock, state in sla_risks(store, now, within_minutes, home=home):
        try:
            deliveries += notify(store, "sla_risk", customer=req.customer, request=req,
                                 sla=state, home=home, timeout=timeout, warn=warn)
        except UsageError as exc:
            _warn(warn, str(exc))
            path = config_path(req.customer, home) or config_dir(home)
            failed = Delivery(f"sla_risk:{clock}", "config", str(path), False, str(exc))
            store.record_notification(event=failed.event, channel="config",
                                      target=failed.target, ok=False, error=failed.error,
                                      request_id=req.id)
            deliveries.append(failed)
    return deliveries
