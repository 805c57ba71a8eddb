"""The record store: every run kept as the fulfilment of a service request.

SQLite in WAL mode under ``$CMECTL_HOME/cmectl.db`` by default, or PostgreSQL for a team
sharing one store (the ``store`` setting, a ``postgresql://`` URL). Both get the same schema
from the same numbered migrations, applied in order and tracked by a schema version; a store
is never rewritten, only migrated forward, so nothing already recorded is lost.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import sqlite3
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cmectl.errors import EnvironmentProblem, NotFoundError, UsageError

MIGRATIONS: tuple[str, ...] = (
    # 1: requests, runs and per-host results
    """
    CREATE TABLE requests (
        id           TEXT PRIMARY KEY,
        requester    TEXT,
        title        TEXT,
        created_at   TEXT NOT NULL
    );
    CREATE TABLE runs (
        id           TEXT PRIMARY KEY,
        request_id   TEXT NOT NULL REFERENCES requests(id),
        action       TEXT NOT NULL,
        packages     TEXT NOT NULL,
        inventory    TEXT NOT NULL,
        limit_expr   TEXT,
        check_mode   INTEGER NOT NULL DEFAULT 0,
        options      TEXT NOT NULL DEFAULT '{}',
        extra_vars   TEXT NOT NULL DEFAULT '{}',
        operator     TEXT,
        controller   TEXT,
        pid          INTEGER,
        started_at   TEXT NOT NULL,
        ended_at     TEXT,
        status       TEXT NOT NULL,
        exit_code    INTEGER,
        message      TEXT,
        log_path     TEXT
    );
    CREATE INDEX runs_request ON runs(request_id);
    CREATE INDEX runs_started ON runs(started_at);
    CREATE TABLE host_results (
        run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        host         TEXT NOT NULL,
        status       TEXT NOT NULL,
        ok           INTEGER NOT NULL DEFAULT 0,
        changed      INTEGER NOT NULL DEFAULT 0,
        failed       INTEGER NOT NULL DEFAULT 0,
        unreachable  INTEGER NOT NULL DEFAULT 0,
        skipped      INTEGER NOT NULL DEFAULT 0,
        failed_task  TEXT,
        message      TEXT,
        started_at   TEXT,
        ended_at     TEXT,
        installed    TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, host)
    );
    """,
    # 2: the service request's own lifecycle (who asked, what, on which hosts, and when)
    """
    ALTER TABLE requests ADD COLUMN customer TEXT;
    ALTER TABLE requests ADD COLUMN channel TEXT;
    ALTER TABLE requests ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';
    ALTER TABLE requests ADD COLUMN action TEXT NOT NULL DEFAULT 'install';
    ALTER TABLE requests ADD COLUMN packages TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE requests ADD COLUMN hosts TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE requests ADD COLUMN inventory TEXT;
    ALTER TABLE requests ADD COLUMN limit_expr TEXT;
    ALTER TABLE requests ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
    ALTER TABLE requests ADD COLUMN received_at TEXT;
    ALTER TABLE requests ADD COLUMN acknowledged_at TEXT;
    ALTER TABLE requests ADD COLUMN fulfilled_at TEXT;
    ALTER TABLE requests ADD COLUMN closed_at TEXT;
    ALTER TABLE requests ADD COLUMN cancelled_at TEXT;
    ALTER TABLE requests ADD COLUMN notes TEXT NOT NULL DEFAULT '[]';
    UPDATE requests SET received_at = created_at WHERE received_at IS NULL;
    CREATE INDEX requests_customer ON requests(customer, received_at);
    """,
    # 3: every notification attempt, delivered or not (a failed one never fails a run)
    """
    CREATE TABLE notifications (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id   TEXT,
        run_id       TEXT,
        event        TEXT NOT NULL,
        channel      TEXT NOT NULL,
        target       TEXT NOT NULL,
        at           TEXT NOT NULL,
        ok           INTEGER NOT NULL,
        error        TEXT
    );
    CREATE INDEX notifications_request ON notifications(request_id);
    """,
    # 4: what is installed where: the latest view per host, from its local facts
    """
    CREATE TABLE host_packages (
        inventory    TEXT NOT NULL,
        host         TEXT NOT NULL,
        package      TEXT NOT NULL,
        facts        TEXT NOT NULL,
        seen_at      TEXT NOT NULL,
        source       TEXT NOT NULL,
        PRIMARY KEY (inventory, host, package)
    );
    """,
    # 5: the service-level terms (contract) a request is held to, copied when it is opened
    """
    ALTER TABLE requests ADD COLUMN sla TEXT;
    """,
)

RUN_STATUSES = ("running", "ok", "failed", "unreachable", "interrupted", "error", "lost")


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def new_request_id() -> str:
    return "SR-" + datetime.now(UTC).strftime("%Y%m%d-") + secrets.token_hex(3).upper()


@dataclass
class HostResult:
    host: str
    status: str  # ok | changed | failed | unreachable | skipped | aborted
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    failed_task: str | None = None
    message: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    installed: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        return _seconds(self.started_at, self.ended_at)


@dataclass
class Run:
    id: str
    request_id: str
    action: str
    packages: list[str]
    inventory: str
    started_at: str
    status: str
    limit_expr: str | None = None
    check_mode: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    extra_vars: dict[str, Any] = field(default_factory=dict)
    operator: str | None = None
    controller: str | None = None
    pid: int | None = None
    ended_at: str | None = None
    exit_code: int | None = None
    message: str | None = None
    log_path: str | None = None
    requester: str | None = None
    hosts: list[HostResult] = field(default_factory=list)

    @property
    def duration_s(self) -> float | None:
        return _seconds(self.started_at, self.ended_at)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_s"] = self.duration_s
        for h, host in zip(data["hosts"], self.hosts, strict=True):
            h["duration_s"] = host.duration_s
        return data


REQUEST_STATUSES = ("open", "acknowledged", "fulfilled", "closed", "cancelled")
PRIORITIES = ("emergency", "high", "normal", "low")
CHANNELS = ("dingtalk", "wechat", "email", "phone")


@dataclass
class Request:
    id: str
    created_at: str
    received_at: str
    status: str = "open"
    title: str | None = None
    customer: str | None = None
    requester: str | None = None
    channel: str | None = None
    priority: str = "normal"
    action: str = "install"
    packages: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    inventory: str | None = None
    limit_expr: str | None = None
    acknowledged_at: str | None = None
    fulfilled_at: str | None = None
    closed_at: str | None = None
    cancelled_at: str | None = None
    notes: list[dict[str, str]] = field(default_factory=list)
    # The contract's terms in force when the request was opened (see cmectl.contract); None
    # for requests recorded before contracts were kept, measured against today's terms.
    sla: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 1)


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _SQLite:
    """SQLite in WAL mode: the built-in store, one file under CMECTL_HOME."""

    name = "sqlite"
    BEGIN = "BEGIN IMMEDIATE"  # take the write lock up front: no upgrade deadlocks

    def __init__(self, path: Path):
        self.where = str(path)
        try:
            self.conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise EnvironmentProblem(f"cannot open the record store {path}: {exc}",
                                     "check CMECTL_HOME and its permissions") from None
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=30000")

    def execute(self, sql: str, params=()):
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows) -> None:
        self.conn.executemany(sql, rows)

    def ddl(self, statement: str) -> str:
        return statement

    def get_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def set_version(self, number: int) -> None:
        self.conn.execute(f"PRAGMA user_version = {int(number)}")

    def lock_schema(self) -> None:
        pass  # BEGIN IMMEDIATE already serialises migrations

    def close(self) -> None:
        self.conn.close()


class _Postgres:
    """PostgreSQL, for a team sharing one store: same schema, same migrations."""

    name = "postgresql"
    BEGIN = "BEGIN"

    def __init__(self, url: str):
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError:
            raise EnvironmentProblem("the record store is PostgreSQL but psycopg is missing",
                                     "pip install 'cmectl[postgres]'") from None
        self.where = mask_url(url)
        try:
            self.conn = psycopg.connect(url, autocommit=True, row_factory=dict_row,
                                        connect_timeout=15)
        except psycopg.Error as exc:
            raise EnvironmentProblem(
                f"cannot open the record store {self.where}: {str(exc).strip().splitlines()[0]}",
                "check the store URL (setting 'store') and that the server answers") from None
        self.conn.execute("CREATE TABLE IF NOT EXISTS cmectl_schema (version INTEGER NOT NULL)")

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")  # cmectl's SQL has no literal ? or %

    def execute(self, sql: str, params=()):
        return self.conn.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(self._sql(sql), rows)

    def ddl(self, statement: str) -> str:
        return statement.replace("INTEGER PRIMARY KEY AUTOINCREMENT",
                                 "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")

    def get_version(self) -> int:
        row = self.conn.execute("SELECT max(version) AS v FROM cmectl_schema").fetchone()
        return row["v"] or 0

    def set_version(self, number: int) -> None:
        self.conn.execute("DELETE FROM cmectl_schema")
        self.conn.execute("INSERT INTO cmectl_schema (version) VALUES (%s)", (number,))

    def lock_schema(self) -> None:
        # One migrating process at a time, across every engineer sharing the store.
        self.conn.execute("SELECT pg_advisory_xact_lock(7261803)")

    def close(self) -> None:
        self.conn.close()


def mask_url(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:****@", url)


class RecordStore:
    def __init__(self, path: Path | None = None, url: str | None = None):
        self.backend = _Postgres(url) if url else _SQLite(path)
        self.path = self.backend.where
        self.db = self.backend
        self._migrate()

    def close(self) -> None:
        self.backend.close()

    @contextmanager
    def _tx(self):
        self.backend.execute(self.backend.BEGIN)
        try:
            yield self.backend
        except BaseException:
            self.backend.execute("ROLLBACK")
            raise
        self.backend.execute("COMMIT")

    def _migrate(self) -> None:
        if self.backend.get_version() == len(MIGRATIONS):
            return
        with self._tx() as db:
            db.lock_schema()
            version = db.get_version()  # again, now that no one else is migrating
            if version > len(MIGRATIONS):
                raise EnvironmentProblem(
                    f"the record store {self.path} is schema {version}, newer than this cmectl "
                    f"understands ({len(MIGRATIONS)})",
                    "upgrade cmectl; the store is left untouched",
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    db.execute(db.ddl(statement))
                db.set_version(number)

    @property
    def schema_version(self) -> int:
        return self.backend.get_version()

    # -- writing ---------------------------------------------------------------------------

    def start_run(self, run: Run) -> None:
        """Record a run as started, creating its service request if it is new."""
        run.controller = run.controller or socket.gethostname()
        run.pid = run.pid or os.getpid()
        with self._tx() as db:
            # A run may name a request nobody opened with 'cmectl request open': the run then
            # opens it, asking for what the run does.
            db.execute(
                "INSERT INTO requests (id, requester, created_at, received_at, action, packages) "
                "VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET requester = COALESCE(requests.requester, "
                "excluded.requester)",
                (run.request_id, run.requester, run.started_at, run.started_at,
                 "install" if run.action == "verify" else run.action,
                 json.dumps(run.packages)),
            )
            db.execute(
                "INSERT INTO runs (id, request_id, action, packages, inventory, limit_expr, "
                "check_mode, options, extra_vars, operator, controller, pid, started_at, status, "
                "log_path) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run.id, run.request_id, run.action, json.dumps(run.packages), run.inventory,
                 run.limit_expr, int(run.check_mode), json.dumps(run.options),
                 json.dumps(run.extra_vars), run.operator, run.controller, run.pid,
                 run.started_at, run.status, run.log_path),
            )

    def finish_run(self, run: Run) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET ended_at=?, status=?, exit_code=?, message=?, log_path=? "
                "WHERE id=?",
                (run.ended_at, run.status, run.exit_code, run.message, run.log_path, run.id),
            )
            db.execute("DELETE FROM host_results WHERE run_id=?", (run.id,))
            db.executemany(
                "INSERT INTO host_results (run_id, host, status, ok, changed, failed, "
                "unreachable, skipped, failed_task, message, started_at, ended_at, installed) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(run.id, h.host, h.status, h.ok, h.changed, h.failed, h.unreachable, h.skipped,
                  h.failed_task, h.message, h.started_at, h.ended_at, json.dumps(h.installed))
                 for h in run.hosts],
            )

    def open_request(self, req: Request) -> None:
        with self._tx() as db:
            exists = db.execute("SELECT 1 FROM requests WHERE id=?", (req.id,)).fetchone()
            if exists:
                raise UsageError(f"request {req.id} already exists",
                                 "choose another --id, or omit it to have one generated")
            db.execute(
                "INSERT INTO requests (id, requester, title, created_at, customer, channel, "
                "priority, action, packages, hosts, inventory, limit_expr, status, received_at, "
                "notes, sla) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (req.id, req.requester, req.title, req.created_at, req.customer, req.channel,
                 req.priority, req.action, json.dumps(req.packages), json.dumps(req.hosts),
                 req.inventory, req.limit_expr, req.status, req.received_at,
                 json.dumps(req.notes), json.dumps(req.sla) if req.sla else None))

    def update_request(self, req: Request) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE requests SET status=?, acknowledged_at=?, fulfilled_at=?, closed_at=?, "
                "cancelled_at=?, notes=?, packages=?, hosts=? WHERE id=?",
                (req.status, req.acknowledged_at, req.fulfilled_at, req.closed_at,
                 req.cancelled_at, json.dumps(req.notes), json.dumps(req.packages),
                 json.dumps(req.hosts), req.id))

    def get_request(self, request_id: str) -> Request:
        row = self.db.execute("SELECT * FROM requests WHERE id=?", (request_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no request {request_id!r} in the record store",
                                "see 'cmectl request list'")
        return self._request_from_row(row)

    def list_requests(self, customer: str | None = None, status: str | None = None,
                      since: str | None = None, until: str | None = None,
                      limit: int = 200) -> list[Request]:
        where, args = [], []
        for clause, value in (("customer = ?", customer), ("status = ?", status),
                              ("received_at >= ?", since), ("received_at < ?", until)):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = "SELECT * FROM requests" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self.db.execute(sql + " ORDER BY received_at DESC LIMIT ?", [*args, limit])
        return [self._request_from_row(r) for r in rows.fetchall()]

    @staticmethod
    def _request_from_row(row) -> Request:
        return Request(
            id=row["id"], created_at=row["created_at"],
            received_at=row["received_at"] or row["created_at"], status=row["status"],
            title=row["title"], customer=row["customer"], requester=row["requester"],
            channel=row["channel"], priority=row["priority"], action=row["action"],
            packages=json.loads(row["packages"]), hosts=json.loads(row["hosts"]),
            inventory=row["inventory"], limit_expr=row["limit_expr"],
            acknowledged_at=row["acknowledged_at"], fulfilled_at=row["fulfilled_at"],
            closed_at=row["closed_at"], cancelled_at=row["cancelled_at"],
            notes=json.loads(row["notes"]),
            sla=json.loads(row["sla"]) if row["sla"] else None)

    def record_notification(self, *, event: str, channel: str, target: str, ok: bool,
                            error: str | None = None, request_id: str | None = None,
                            run_id: str | None = None, at: str | None = None) -> None:
        """Keep a notification attempt. ``target`` must already be free of secrets (e.g. a
        webhook URL with its access token masked)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO notifications (request_id, run_id, event, channel, target, at, ok, "
                "error) VALUES (?,?,?,?,?,?,?,?)",
                (request_id, run_id, event, channel, target, at or utcnow(), int(ok), error))

    def list_notifications(self, request_id: str | None = None) -> list[dict[str, Any]]:
        where, args = ("WHERE request_id = ?", [request_id]) if request_id else ("", [])
        rows = self.db.execute(f"SELECT * FROM notifications {where} ORDER BY id", args)
        return [{**dict(r), "ok": bool(r["ok"])} for r in rows.fetchall()]

    def save_host_view(self, inventory: str, host: str, packages: dict[str, Any],
                       source: str, complete: bool) -> None:
        """Record what a host has. ``complete``: ``packages`` is everything on the host (so
        packages not in it are gone); otherwise only these packages are updated."""
        now = utcnow()
        with self._tx() as db:
            if complete:
                db.execute("DELETE FROM host_packages WHERE inventory=? AND host=?",
                           (inventory, host))
            for package, facts in packages.items():
                if facts is None:
                    db.execute("DELETE FROM host_packages WHERE inventory=? AND host=? AND "
                               "package=?", (inventory, host, package))
                    continue
                db.execute(
                    "INSERT INTO host_packages (inventory, host, package, facts, seen_at, source) "
                    "VALUES (?,?,?,?,?,?) ON CONFLICT(inventory, host, package) DO UPDATE SET "
                    "facts=excluded.facts, seen_at=excluded.seen_at, source=excluded.source",
                    (inventory, host, package, json.dumps(facts), now, source))

    def host_view(self, inventory: str) -> dict[str, dict[str, dict[str, Any]]]:
        rows = self.db.execute("SELECT * FROM host_packages WHERE inventory=? "
                               "ORDER BY host, package", (inventory,)).fetchall()
        view: dict[str, dict[str, dict[str, Any]]] = {}
        for r in rows:
            view.setdefault(r["host"], {})[r["package"]] = {
                **json.loads(r["facts"]), "_seen_at": r["seen_at"], "_source": r["source"]}
        return view

    # -- reading ---------------------------------------------------------------------------

    def _run_from_row(self, row, hosts: list[HostResult]) -> Run:
        status = row["status"]
        if status == "running" and row["controller"] == socket.gethostname() and \
                not _pid_alive(row["pid"]):
            status = "lost"  # the process that ran it died without recording an end
        return Run(
            id=row["id"], request_id=row["request_id"], action=row["action"],
            packages=json.loads(row["packages"]), inventory=row["inventory"],
            limit_expr=row["limit_expr"], check_mode=bool(row["check_mode"]),
            options=json.loads(row["options"]), extra_vars=json.loads(row["extra_vars"]),
            operator=row["operator"], controller=row["controller"], pid=row["pid"],
            started_at=row["started_at"], ended_at=row["ended_at"], status=status,
            exit_code=row["exit_code"], message=row["message"], log_path=row["log_path"],
            requester=row["requester"], hosts=hosts,
        )

    def _hosts(self, run_id: str) -> list[HostResult]:
        rows = self.db.execute(
            "SELECT * FROM host_results WHERE run_id=? ORDER BY host", (run_id,)).fetchall()
        return [HostResult(
            host=r["host"], status=r["status"], ok=r["ok"], changed=r["changed"],
            failed=r["failed"], unreachable=r["unreachable"], skipped=r["skipped"],
            failed_task=r["failed_task"], message=r["message"], started_at=r["started_at"],
            ended_at=r["ended_at"], installed=json.loads(r["installed"])) for r in rows]

    _SELECT = ("SELECT runs.*, requests.requester AS requester FROM runs "
               "JOIN requests ON requests.id = runs.request_id")

    def list_runs(self, limit: int = 50, request_id: str | None = None) -> list[Run]:
        where, args = ("WHERE runs.request_id = ?", [request_id]) if request_id else ("", [])
        rows = self.db.execute(
            f"{self._SELECT} {where} ORDER BY runs.started_at DESC, runs.id DESC LIMIT ?",
            [*args, limit]).fetchall()
        return [self._run_from_row(r, self._hosts(r["id"])) for r in rows]

    def get_run(self, ref: str) -> Run:
        """A run by id, unique id prefix, or ``last``."""
        if ref == "last":
            rows = self.db.execute(
                f"{self._SELECT} ORDER BY runs.started_at DESC, runs.id DESC LIMIT 1").fetchall()
        else:
            rows = self.db.execute(
                f"{self._SELECT} WHERE runs.id = ? OR runs.id LIKE ? ORDER BY runs.id LIMIT 2",
                (ref, ref.replace("%", "") + "%")).fetchall()
            exact = [r for r in rows if r["id"] == ref]
            rows = exact or rows
            if len(rows) > 1:
                raise NotFoundError(f"run {ref!r} is ambiguous", "give more of the run id")
        if not rows:
            raise NotFoundError(f"no run {ref!r} in the record store",
                                "see 'cmectl runs list' for run ids")
        return self._run_from_row(rows[0], self._hosts(rows[0]["id"]))


def open_store(home: Path, url: str | None = None) -> RecordStore:
    """The record store: SQLite under ``home`` unless a PostgreSQL URL is configured
    (argument, else the ``store`` setting: $CMECTL_HOME/config.toml or CMECTL_STORE)."""
    if url is None:
        from cmectl.config import load_settings

        url = load_settings(home=home).store or None
    if url and not url.startswith(("postgresql://", "postgres://")):
        raise UsageError(f"record store URL {mask_url(url)!r} is not supported",
                         "use postgresql://USER:PASSWORD@HOST/DB, or leave 'store' empty for "
                         "SQLite")
    return RecordStore(home / "cmectl.db", url)
