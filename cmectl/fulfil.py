"""Fulfil a service request: check everything, record the run, apply the roles, record what
happened on each host. Commands call :func:`apply`; nothing here prints."""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cmectl.catalog import load_catalogue
from cmectl.config import Settings
from cmectl.errors import CmectlError, ExitCode, NotFoundError, UsageError, VariableError
from cmectl.events import HostUpdate
from cmectl.inventory import resolve_targets
from cmectl.records import Run, new_request_id, new_run_id, open_store, utcnow
from cmectl.requests import refresh_fulfilment
from cmectl.variables import check_vars, parse_extra_vars

SERIAL_ITEM = re.compile(r"^(\d+)(%?)$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


@dataclass
class ApplyRequest:
    action: str  # install | uninstall | verify
    package_ids: list[str]
    inventory: str
    limit: str | None = None
    extra_vars: list[str] = field(default_factory=list)
    check: bool = False
    diff: bool = False
    serial: str | None = None
    max_fail: int | None = None
    skip_unreachable: bool = False
    request_id: str | None = None
    requester: str | None = None


def parse_serial(spec: str | None) -> list[int | str] | None:
    """``1,10%,50%`` -> [1, "10%", "50%"]: rolling batch sizes, the last one repeating."""
    if not spec:
        return None
    out: list[int | str] = []
    for part in spec.split(","):
        m = SERIAL_ITEM.match(part.strip())
        if not m or int(m.group(1)) < 1 or (m.group(2) and int(m.group(1)) > 100):
            raise UsageError(f"--serial {spec!r}: {part.strip()!r} is not a batch size",
                             "give sizes like 1,10%,50% (hosts, or 1% to 100% of them)")
        out.append(f"{m.group(1)}%" if m.group(2) else int(m.group(1)))
    return out


def exit_code_for(run: Run) -> ExitCode:
    statuses = {h.status for h in run.hosts}
    if run.status == "interrupted":
        return ExitCode.INTERRUPTED
    if run.status == "error":
        return ExitCode.INTERNAL
    if "unreachable" in statuses:
        reachable = statuses - {"unreachable", "aborted"}
        return ExitCode.HOSTS_UNREACHABLE if reachable or "aborted" in statuses \
            else ExitCode.ALL_UNREACHABLE
    if "failed" in statuses or "not_run" in statuses:
        return ExitCode.HOSTS_FAILED
    return ExitCode.OK


def _summary(run: Run, stdout_tail: str) -> tuple[str, str | None]:
    hosts = run.hosts
    count = {s: sum(1 for h in hosts if h.status == s) for s in
             ("ok", "changed", "failed", "unreachable", "aborted", "not_run")}
    if run.status == "interrupted":
        return "interrupted", "interrupted with Ctrl-C; hosts may be half-way through a task"
    if count["unreachable"]:
        names = ", ".join(h.host for h in hosts if h.status == "unreachable")
        if count["aborted"] or count["unreachable"] == len(hosts):
            return "unreachable", (f"{count['unreachable']} of {len(hosts)} hosts unreachable "
                                   f"({names}); nothing was changed on any host")
        return "unreachable", f"{count['unreachable']} of {len(hosts)} hosts unreachable ({names})"
    if count["failed"] or count["not_run"]:
        return "failed", (f"failed on {count['failed']} of {len(hosts)} hosts"
                          + (f", {count['not_run']} not reached" if count["not_run"] else ""))
    if not hosts or all(h.status == "not_run" for h in hosts):
        last = stdout_tail.strip().splitlines()[-1:] or ["no output"]
        return "error", f"ansible-playbook failed before any host: {last[0]}"
    verb = "would change" if run.check_mode else "changed"
    return "ok", f"{count['changed']} {verb}, {count['ok']} unchanged, of {len(hosts)} hosts"


NOTIFY_TIMEOUT = 5  # seconds per delivery; a slow robot must not hold up the engineer


def _customer_of(store, request_id: str) -> str | None:
    try:
        return store.get_request(request_id).customer
    except NotFoundError:
        return None


def _update_host_view(store, run: Run, roles: list[str]) -> None:
    """What a finished run tells about each host it succeeded on."""
    for host in run.hosts:
        if host.status not in ("ok", "changed"):
            continue
        if run.action == "uninstall":
            packages = dict.fromkeys(roles)  # gone
        else:
            packages = {role: host.installed[role] for role in roles if role in host.installed}
        store.save_host_view(run.inventory, host.host, packages, f"run {run.id}", complete=False)


def apply(req: ApplyRequest, settings: Settings, home: Path,
          on_update: Callable[[HostUpdate], None] | None = None,
          on_start: Callable[[Run], None] | None = None,
          warn: Callable[[str], None] | None = None) -> Run:
    """Check the request, then run it and record it. Returns the recorded run.

    Every check that can fail on bad input happens before the run is recorded and before
    any host is contacted.
    """
    from cmectl import notify, runner

    catalogue = load_catalogue()
    packages = catalogue.resolve(req.package_ids, req.action)
    serial = parse_serial(req.serial)
    if req.max_fail is not None and not 0 <= req.max_fail <= 100:
        raise UsageError(f"--max-fail {req.max_fail} is not a percentage",
                         "give a number from 0 to 100")
    if req.request_id and not REQUEST_ID.match(req.request_id):
        raise UsageError(f"--request {req.request_id!r} is not a valid request id",
                         "use letters, digits and . _ : - (at most 64)")
    entry = "verify" if req.action == "verify" else "main"
    checked = check_vars(catalogue, packages, parse_extra_vars(req.extra_vars), entry)
    roles = [p.role for p in packages]
    if req.action == "uninstall":
        roles.reverse()  # take dependants away before what they depend on
        for role in roles:
            state = checked.values.get(f"{role}_state", "absent")
            if state != "absent":
                raise VariableError(f"{role}_state={state} contradicts uninstall",
                                    f"drop -e {role}_state, or use 'cmectl install'")
            checked.values[f"{role}_state"] = "absent"
    target = resolve_targets(req.inventory, req.limit)

    run = Run(
        id=new_run_id(),
        request_id=req.request_id or new_request_id(),
        requester=req.requester,
        action=req.action,
        packages=[p.id for p in packages],
        inventory=str(target.inventory),
        limit_expr=req.limit,
        check_mode=req.check,
        options={"forks": settings.forks, "serial": serial, "max_fail": req.max_fail,
                 "transport": settings.transport, "diff": req.diff,
                 "skip_unreachable": req.skip_unreachable, "hosts": list(target.hosts)},
        extra_vars=checked.redacted(),
        operator=getpass.getuser(),
        started_at=utcnow(),
        status="running",
    )
    checked.values["cmectl_request_id"] = run.request_id
    plan = runner.Plan(
        run_id=run.id, roles=roles, entry=entry, inventory=target.inventory,
        hosts=target.hosts, limit=req.limit, extravars=checked.values, check=req.check,
        diff=req.diff, forks=settings.forks, serial=serial, max_fail=req.max_fail,
        skip_unreachable=req.skip_unreachable, transport=settings.transport,
        connect_timeout=settings.connect_timeout, keep_artifacts=settings.keep_artifacts,
    )
    store = open_store(home)
    # The customer's notification settings are checked now, before any host is touched:
    # a broken file is an input error. Delivering later never fails the run.
    customer = _customer_of(store, run.request_id)
    notify.load_config(customer, home, warn)
    run.log_path = str(home / "runner" / "artifacts" / run.id / "stdout")
    store.start_run(run)
    if on_start:
        on_start(run)
    notify.notify(store, "run_started", customer=customer, run=run, home=home,
                  timeout=NOTIFY_TIMEOUT, warn=warn)
    outcome = None
    try:
        outcome = runner.run(plan, home, on_update)
    except KeyboardInterrupt:
        run.status = "interrupted"
        raise
    except CmectlError:
        run.status = "error"
        raise
    except Exception as exc:  # record it, then let the boundary report the bug
        run.status = "error"
        run.message = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        run.ended_at = utcnow()
        if outcome is not None:
            run.hosts = outcome.hosts
            if outcome.interrupted:
                run.status = "interrupted"
            run.status, run.message = _summary(run, outcome.stdout_tail)
        elif run.status == "interrupted":
            run.message = "interrupted with Ctrl-C"
        run.exit_code = int(exit_code_for(run))
        store.finish_run(run)
        if not run.check_mode:
            refresh_fulfilment(store, run.request_id)
            _update_host_view(store, run, roles)
        notify.notify(store, "run_finished", customer=customer, run=run, home=home,
                      timeout=NOTIFY_TIMEOUT, warn=warn)
        store.close()
    return run
