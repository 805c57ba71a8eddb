"""The one module that uses ansible-runner.

It runs ``playbooks/apply.yml`` for a :class:`Plan`, feeds every job event through the
:class:`~cmectl.events.EventReducer` (and on to a progress callback), honours Ctrl-C by
cancelling the run cleanly, rotates old artifact folders, and keeps secrets out of the
artifacts: extra variables go to ansible-playbook through a private temporary file that is
deleted when the run ends, never through ansible-runner's ``env/extravars``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmectl.config import project_root
from cmectl.events import EventReducer, HostUpdate
from cmectl.records import HostResult


@dataclass
class Plan:
    run_id: str
    roles: list[str]
    entry: str  # role entry point: main | verify
    inventory: Path
    hosts: tuple[str, ...]
    limit: str | None = None
    extravars: dict[str, Any] = field(default_factory=dict)
    check: bool = False
    diff: bool = False
    forks: int = 10
    serial: list[int | str] | None = None
    max_fail: int | None = None
    skip_unreachable: bool = False
    transport: str = "ssh"
    connect_timeout: int = 15
    keep_artifacts: int = 50


@dataclass
class Outcome:
    status: str  # successful | failed | canceled | timeout | error
    rc: int | None
    hosts: list[HostResult]
    interrupted: bool
    gate_closed: bool
    artifacts: Path | None
    stdout_tail: str = ""


def _playbook_vars(plan: Plan) -> dict[str, Any]:
    data = dict(plan.extravars)
    data.update(
        cmectl_run_id=plan.run_id,
        cmectl_roles=plan.roles,
        cmectl_entry=plan.entry,
        cmectl_skip_unreachable=plan.skip_unreachable,
    )
    if plan.serial:
        data["cmectl_serial"] = plan.serial
    if plan.max_fail is not None:
        data["cmectl_max_fail"] = plan.max_fail
    return data


def _options(plan: Plan) -> list[str]:
    parts: list[str] = []
    if plan.check:
        parts.append("--check")
    if plan.diff:
        parts.append("--diff")
    if plan.transport == "paramiko":
        # cmectl's own paramiko plugin (plugins/connection): strict host key checking against
        # the known_hosts files the inventory names, and no interactive prompts.
        parts += ["-c", "cmectl_paramiko"]
    return parts


def _envvars(plan: Plan) -> dict[str, str]:
    root = project_root()
    bindir = str(Path(sys.executable).parent)
    return {
        "ANSIBLE_CONFIG": str(root / "ansible.cfg"),
        "ANSIBLE_TIMEOUT": str(plan.connect_timeout),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
    }


# Environment variables worth keeping in the run's ``command`` artifact. ansible-runner records
# the whole environment there, and an engineer's shell may hold credentials.
SAFE_ENV = ("HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "SHELL", "PWD", "TERM", "VIRTUAL_ENV")


def _scrub_command(path: Path, ours: dict[str, str]) -> None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    env = data.get("env") or {}
    data["env"] = {k: v for k, v in env.items()
                   if k in ours or k in SAFE_ENV or k.startswith("ANSIBLE_")}
    path.write_text(json.dumps(data))


GRACE_SECONDS = 10  # after Ctrl-C, how long ansible may take to stop its workers itself


def _processes_with(marker: str) -> list[tuple[int, int]]:
    """(pid, parent pid) of processes whose command line contains ``marker``."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                stat = (proc / "stat").read_text()
                found.append((int(proc.name), int(stat.rsplit(")", 1)[1].split()[1])))
        except (OSError, ValueError, IndexError):
            continue
    return found


class _Canceller:
    """Stop a run cleanly on Ctrl-C.

    ansible-playbook runs its workers in sessions of their own, so killing its process group
    (what ansible-runner does on cancel) leaves workers behind that go on changing hosts.
    Instead: interrupt ansible-playbook itself, which stops its workers, and only if it has
    not ended after a grace period let ansible-runner kill it; then sweep any leftovers.
    """

    def __init__(self, marker: str):
        self.marker = marker
        self.requested = threading.Event()
        self.deadline: float | None = None

    def __call__(self) -> bool:
        if not self.requested.is_set():
            return False
        if self.deadline is None:
            self.deadline = time.monotonic() + GRACE_SECONDS
            me = os.getpid()
            for pid, parent in _processes_with(self.marker):
                if parent == me:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGINT)
        return time.monotonic() > self.deadline

    def sweep(self) -> None:
        for pid, _ in _processes_with(self.marker):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _rotate(artifacts: Path, keep: int) -> None:
    runs = sorted((p for p in artifacts.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in runs[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)


@dataclass
class _Execution:
    status: str
    rc: int | None
    interrupted: bool
    run_dir: Path
    stdout_tail: str


def _execute(ident: str, home: Path, variables: dict[str, Any], options: list[str],
             envvars: dict[str, str], keep_artifacts: int,
             handler: Callable[[dict[str, Any]], Any], **target: Any) -> _Execution:
    """Run ansible (a playbook or one module) through ansible-runner, safely.

    Variables reach ansible through a private 0600 file, deleted afterwards, never through
    ansible-runner's env/ files; Ctrl-C stops ansible and its workers; the recorded
    environment is scrubbed; old artifact folders rotate out.
    """
    import ansible_runner  # heavy: imported only when something runs

    artifacts = home / "runner" / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    secret_dir = Path(tempfile.mkdtemp(prefix="cmectl-run-"))
    varsfile = secret_dir / "vars.json"
    (secret_dir / "private").mkdir()
    fd = os.open(varsfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(variables, fh)
    cancel = _Canceller(marker=str(varsfile))

    def on_sigint(signum, frame):
        cancel.requested.set()

    def on_event(event: dict[str, Any]) -> bool:
        handler(event)
        return True

    previous = signal.signal(signal.SIGINT, on_sigint) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        result = ansible_runner.run(
            private_data_dir=str(secret_dir / "private"),
            artifact_dir=str(artifacts),
            ident=ident,
            cmdline=" ".join(["-e", f"@{varsfile}", *options]),
            envvars=envvars,
            event_handler=on_event,
            cancel_callback=cancel,
            quiet=True,
            rotate_artifacts=0,
            settings={"suppress_ansible_output": True, "job_timeout": 0},
            **target,
        )
    finally:
        if cancel.requested.is_set():
            cancel.sweep()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        shutil.rmtree(secret_dir, ignore_errors=True)
        _scrub_command(artifacts / ident / "command", envvars)
        _rotate(artifacts, keep_artifacts)

    run_dir = artifacts / ident
    stdout = run_dir / "stdout"
    tail = "\n".join(stdout.read_text(errors="replace").strip().splitlines()[-15:]) \
        if stdout.is_file() else ""
    return _Execution(result.status, result.rc,
                      cancel.requested.is_set() or result.status == "canceled", run_dir, tail)


def run(plan: Plan, home: Path, on_update: Callable[[HostUpdate], None] | None = None
        ) -> Outcome:
    """Run the plan; block until it ends or is interrupted (Ctrl-C)."""
    reducer = EventReducer(plan.hosts)

    def handle(event: dict[str, Any]) -> None:
        update = reducer.feed(event)
        if update and on_update:
            on_update(update)

    done = _execute(
        plan.run_id, home, _playbook_vars(plan), _options(plan), _envvars(plan),
        plan.keep_artifacts, handle,
        playbook=str(project_root() / "playbooks" / "apply.yml"),
        inventory=str(plan.inventory), limit=plan.limit, forks=plan.forks,
    )
    return Outcome(
        status=done.status,
        rc=done.rc,
        hosts=reducer.results(done.interrupted),
        interrupted=done.interrupted,
        gate_closed=reducer.gate_closed,
        artifacts=done.run_dir if done.run_dir.exists() else None,
        stdout_tail=done.stdout_tail,
    )


@dataclass
class HostFacts:
    host: str
    reachable: bool
    local: dict[str, Any]  # ansible_local: what each role recorded on the host
    message: str | None = None


def ping(inventory: Path, limit: str | None, hosts: tuple[str, ...], home: Path,
         forks: int = 10, transport: str = "ssh", connect_timeout: int = 15,
         keep_artifacts: int = 50) -> list[HostFacts]:
    """Whether each host answers (over SSH or WinRM); ``local`` is empty."""
    found: dict[str, HostFacts] = {h: HostFacts(h, False, {}, "no answer") for h in hosts}

    def handle(event: dict[str, Any]) -> None:
        data = event.get("event_data") or {}
        host, res = data.get("host"), data.get("res") or {}
        kind = event.get("event")
        if not host or kind not in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable"):
            return
        if kind == "runner_on_ok" and not res.get("skipped"):
            found[host] = HostFacts(host, True, {})
        elif kind != "runner_on_ok":
            found[host] = HostFacts(host, False, {}, str(res.get("msg", "failed"))[:300])

    plan = Plan(run_id="", roles=[], entry="", inventory=inventory, hosts=hosts,
                transport=transport, connect_timeout=connect_timeout)
    _execute(f"ping-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}", home, {}, _options(plan),
             _envvars(plan), keep_artifacts, handle,
             playbook=str(project_root() / "playbooks" / "ping.yml"),
             inventory=str(inventory), limit=limit, forks=forks)
    return [found[h] for h in sorted(found)]


WINDOWS_FACT_PATH = "C:\\ProgramData\\cmectl\\facts"


def gather_local_facts(inventory: Path, limit: str | None, hosts: tuple[str, ...], home: Path,
                       forks: int = 10, transport: str = "ssh", connect_timeout: int = 15,
                       keep_artifacts: int = 50, ident: str | None = None,
                       windows: tuple[str, ...] = (),
                       roles: tuple[str, ...] = ()) -> list[HostFacts]:
    """Read the local facts cmectl's roles left on each host (changes nothing).

    Linux hosts keep them in /etc/ansible/facts.d (``ansible_local``); Windows hosts (those in
    ``windows``) as JSON files in :data:`WINDOWS_FACT_PATH`, which Windows' setup module turns
    into top-level facts ``ansible_<name>``: of those, the ones named in ``roles`` are kept."""
    found: dict[str, HostFacts] = {h: HostFacts(h, False, {}, "no answer") for h in hosts}

    def handle(event: dict[str, Any]) -> None:
        data = event.get("event_data") or {}
        host, res = data.get("host"), data.get("res") or {}
        if not host:
            return
        if event.get("event") == "runner_on_ok":
            facts = res.get("ansible_facts") or {}
            if host in windows:
                local = {r: facts[f"ansible_{r}"] for r in roles if f"ansible_{r}" in facts}
            else:
                local = facts.get("ansible_local") or {}
            found[host] = HostFacts(host, True, local)
        elif event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            found[host] = HostFacts(host, False, {}, str(res.get("msg", "failed"))[:300])

    on_windows = tuple(h for h in hosts if h in windows)
    # (hosts, their --limit, module, arguments): the Linux pass is the caller's limit without
    # the Windows hosts, the Windows pass those hosts by name.
    passes = [(tuple(h for h in hosts if h not in windows),
               ":".join([limit or "all", *(f"!{h}" for h in on_windows)]),
               "ansible.builtin.setup", "gather_subset=!all,!min,local"),
              (on_windows, ":".join(on_windows), "ansible.windows.setup",
               f"gather_subset=!all,!min,local fact_path={WINDOWS_FACT_PATH}")]
    stamp = ident or f"facts-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    for number, (group, pattern, module, args) in enumerate(passes):
        if not group:
            continue
        plan = Plan(run_id="", roles=[], entry="", inventory=inventory, hosts=group,
                    transport=transport, connect_timeout=connect_timeout)
        _execute(
            stamp if number == 0 else f"{stamp}-windows", home, {}, _options(plan),
            _envvars(plan), keep_artifacts, handle, module=module, module_args=args,
            host_pattern="all", inventory=str(inventory), limit=pattern, forks=forks,
        )
    return [found[h] for h in sorted(found)]
