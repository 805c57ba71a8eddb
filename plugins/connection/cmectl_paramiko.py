# Copyright: cmectl contributors
# Apache-2.0 (see the project's licence)
"""cmectl's SSH transport: paramiko, strict host key checking, never an interactive prompt.

Runs on the controller. Select it with ``-c cmectl_paramiko`` or ``ansible_connection:
cmectl_paramiko``; ``connection_plugins = plugins/connection`` in ansible.cfg makes it visible.
"""

from __future__ import annotations

import contextlib
import os
import select
import time

from ansible.errors import (
    AnsibleAuthenticationFailure,
    AnsibleConnectionFailure,
    AnsibleError,
    AnsibleFileNotFound,
)
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

try:
    import paramiko
except ImportError as _import_error:  # reported when a connection is attempted
    paramiko = None
    _PARAMIKO_IMPORT_ERROR: ImportError | None = _import_error
else:
    _PARAMIKO_IMPORT_ERROR = None

DOCUMENTATION = r"""
name: cmectl_paramiko
short_description: SSH over paramiko with host keys checked against named known_hosts files
description:
  - Runs commands and copies files over SSH using the paramiko library.
  - Host key checking is on by default. Keys are looked up in C(/etc/ssh/ssh_known_hosts),
    C(~/.ssh/known_hosts) and every file named by O(known_hosts_file). A host whose key is in
    none of them is refused at once; a host whose key differs from the recorded one is refused
    too. The plugin never asks a question and never writes to a known_hosts file.
  - With host key checking off, any key is accepted for the life of the connection only.
author: cmectl contributors
options:
  remote_addr:
    description: Address (name or IP) of the host to connect to.
    type: string
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: ansible_ssh_host
  port:
    description: SSH port of the remote host.
    type: int
    default: 22
    ini:
      - section: defaults
        key: remote_port
    env:
      - name: ANSIBLE_REMOTE_PORT
    vars:
      - name: ansible_port
      - name: ansible_ssh_port
    keyword:
      - name: port
  remote_user:
    description:
      - User to log in as. When unset, paramiko uses the name of the local user.
    type: string
    ini:
      - section: defaults
        key: remote_user
    env:
      - name: ANSIBLE_REMOTE_USER
    vars:
      - name: ansible_user
      - name: ansible_ssh_user
    cli:
      - name: user
    keyword:
      - name: remote_user
  password:
    description: Password for password authentication (tried after keys).
    type: string
    vars:
      - name: ansible_password
      - name: ansible_ssh_pass
      - name: ansible_ssh_password
  private_key_file:
    description: Private key to authenticate with; tried before the agent and other keys.
    type: string
    ini:
      - section: defaults
        key: private_key_file
    env:
      - name: ANSIBLE_PRIVATE_KEY_FILE
    vars:
      - name: ansible_ssh_private_key_file
      - name: ansible_private_key_file
    cli:
      - name: private_key_file
        option: '--private-key'
  timeout:
    description:
      - Seconds to wait for the TCP connection, the SSH banner, authentication, a new
        channel and a privilege escalation prompt.
    type: int
    default: 10
    ini:
      - section: defaults
        key: timeout
    env:
      - name: ANSIBLE_TIMEOUT
    vars:
      - name: ansible_ssh_timeout
    cli:
      - name: timeout
  host_key_checking:
    description:
      - Refuse hosts whose key is unknown or does not match the recorded one.
      - When false, any key is accepted (kept in memory only) and a warning is shown.
    type: boolean
    default: true
    ini:
      - section: defaults
        key: host_key_checking
    env:
      - name: ANSIBLE_HOST_KEY_CHECKING
    vars:
      - name: ansible_host_key_checking
      - name: ansible_ssh_host_key_checking
  known_hosts_file:
    description:
      - One known_hosts file or a list of them to trust in addition to the system and user
        files. Hashed entries and C([host]:port) entries are understood.
      - A named file that does not exist is an error while host key checking is on.
    type: list
    elements: string
    default: []
    vars:
      - name: cmectl_known_hosts_file
      - name: ansible_paramiko_known_hosts_file
  look_for_keys:
    description: Also try the private keys found in C(~/.ssh/).
    type: boolean
    default: true
    ini:
      - section: paramiko_connection
        key: look_for_keys
    env:
      - name: ANSIBLE_PARAMIKO_LOOK_FOR_KEYS
    vars:
      - name: ansible_paramiko_look_for_keys
  allow_agent:
    description: Also try the keys held by a running SSH agent.
    type: boolean
    default: true
    env:
      - name: ANSIBLE_PARAMIKO_ALLOW_AGENT
    vars:
      - name: ansible_paramiko_allow_agent
  pty:
    description:
      - Request a pseudo terminal for every privileged command, even without a become password.
      - A pseudo terminal is always requested when a become password has to be typed and the
        command's input is not pipelined; pipelined commands never get one unless the become
        method demands it.
    type: boolean
    default: false
    ini:
      - section: paramiko_connection
        key: pty
    env:
      - name: ANSIBLE_PARAMIKO_PTY
    vars:
      - name: ansible_paramiko_pty
  pipelining:
    description:
      - Send module code on the command's standard input instead of copying it first.
    type: boolean
    default: false
    ini:
      - section: defaults
        key: pipelining
      - section: connection
        key: pipelining
      - section: ssh_connection
        key: pipelining
    env:
      - name: ANSIBLE_PIPELINING
    vars:
      - name: ansible_pipelining
"""

display = Display()

READ_SIZE = 65536
POLL_SECONDS = 1.0
FIX_HINT = (
    "add its key to the known_hosts file named by cmectl_known_hosts_file, e.g. with "
    "ssh-keyscan after verifying it"
)


class _UnknownHostKey(Exception):
    """Raised from inside paramiko's handshake when a host's key is in no known_hosts file."""

    def __init__(self, name: str, key) -> None:
        super().__init__(name)
        self.name = name
        self.key = key


def _refusing_policy():
    """A RejectPolicy that raises something we can tell apart from other SSH errors."""

    class RefuseUnknownHost(paramiko.RejectPolicy):
        def missing_host_key(self, client, hostname, key):
            raise _UnknownHostKey(hostname, key)

    return RefuseUnknownHost()


def _describe_key(key) -> str:
    if key is None:
        return "no key"
    return f"{key.get_name()} {key.fingerprint}"


class _Output:
    """Reads a channel's stdout and stderr side by side, so neither can stall the other."""

    def __init__(self, chan) -> None:
        self.chan = chan
        self.out = bytearray()
        self.err = bytearray()

    @staticmethod
    def _drain(ready, recv, into: bytearray) -> bool:
        moved = False
        while ready():
            data = recv(READ_SIZE)
            if not data:
                break
            into += data
            moved = True
        return moved

    def _take(self) -> bool:
        # Both streams every time (no short-circuit): a full stderr window stalls stdout.
        took_out = self._drain(self.chan.recv_ready, self.chan.recv, self.out)
        took_err = self._drain(self.chan.recv_stderr_ready, self.chan.recv_stderr, self.err)
        return took_out or took_err

    def _finished(self) -> bool:
        # Only EOF (or close) means all output is here: sshd may send the exit status while
        # the command's last output is still on its way.
        chan = self.chan
        ended = chan.closed or chan.eof_received
        return bool(ended and not chan.recv_ready() and not chan.recv_stderr_ready())

    def read(self, until=None, deadline: float | None = None) -> bool:
        """Collect output until ``until()`` holds (True) or the channel ends (False).

        Raises TimeoutError when ``deadline`` (a time.monotonic() value) passes first.
        """
        while True:
            self._take()
            if until is not None and until():
                return True
            if self._finished():
                return False
            wait = POLL_SECONDS
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                wait = min(wait, left)
            select.select([self.chan], [], [], wait)


class Connection(ConnectionBase):
    """SSH through paramiko; see DOCUMENTATION."""

    transport = "cmectl_paramiko"
    has_pipelining = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._client = None
        self._sftp = None
        self._where = ""

    # -- connecting -----------------------------------------------------------------------

    def _connect(self):
        if self._connected and self._client is not None:
            return self
        if paramiko is None:
            raise AnsibleError(
                "the cmectl_paramiko connection needs the paramiko library: "
                f"{_PARAMIKO_IMPORT_ERROR}"
            )
        self._client = self._open_client()
        self._connected = True
        return self

    def _timeout(self) -> int:
        return int(self.get_option("timeout") or 10)

    def _named_known_hosts(self) -> list[str]:
        named = self.get_option("known_hosts_file") or []
        if isinstance(named, str):
            named = [named]
        return [os.path.expanduser(to_text(p)) for p in named if p]

    def _load_known_hosts(self, client) -> list[str]:
        files = [
            path
            for path in ("/etc/ssh/ssh_known_hosts", os.path.expanduser("~/.ssh/known_hosts"))
            if os.path.isfile(path)
        ]
        for path in self._named_known_hosts():
            if not os.path.isfile(path):
                raise AnsibleConnectionFailure(
                    f"the known_hosts file {path} (named by cmectl_known_hosts_file) does not "
                    f"exist, so the key of {self._where} cannot be checked"
                )
            files.append(path)
        for path in files:
            try:
                # "system" host keys are only ever read by paramiko, never saved back.
                client.load_system_host_keys(path)
            except (OSError, paramiko.SSHException, ValueError) as exc:
                raise AnsibleConnectionFailure(
                    f"could not read the known_hosts file {path}: {exc}"
                ) from exc
        return files

    def _open_client(self):
        host = to_text(self.get_option("remote_addr"))
        port = int(self.get_option("port") or 22)
        user = self.get_option("remote_user") or None
        password = self.get_option("password") or None
        key_file = self.get_option("private_key_file") or None
        timeout = self._timeout()
        self._where = f"{host}:{port}"
        known_as = host if port == 22 else f"[{host}]:{port}"  # how known_hosts names it

        if key_file:
            key_file = os.path.expanduser(to_text(key_file))
            if not os.path.isfile(key_file):
                raise AnsibleConnectionFailure(
                    f"the private key file {key_file} given for {self._where} does not exist"
                )

        display.vvv(
            f"ESTABLISH CMECTL_PARAMIKO CONNECTION FOR USER: {user} ON PORT {port} TO {host}",
            host=host,
        )

        client = paramiko.SSHClient()
        checking = boolean(self.get_option("host_key_checking"), strict=False)
        searched: list[str] = []
        if checking:
            searched = self._load_known_hosts(client)
            client.set_missing_host_key_policy(_refusing_policy())
        else:
            display.warning(
                "cmectl_paramiko: host key checking is off, so any host key is accepted "
                "(kept in memory only; no known_hosts file is written)"
            )
            # No known_hosts file is loaded and client.load_host_keys() is never called, so
            # AutoAddPolicy has no file to save into: the key stays in memory.
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())

        try:
            client.connect(
                host,
                port=port,
                username=user,
                password=password,
                key_filename=key_file,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                allow_agent=boolean(self.get_option("allow_agent"), strict=False),
                look_for_keys=boolean(self.get_option("look_for_keys"), strict=False),
            )
        except _UnknownHostKey as exc:
            client.close()
            where = ", ".join(searched) if searched else "none found"
            raise AnsibleConnectionFailure(
                f"host key checking failed for {self._where}: the host offered "
                f"{_describe_key(exc.key)}, which is not in any known_hosts file searched "
                f"({where}). The host was refused without asking. To trust it, {FIX_HINT} "
                f"('ssh-keyscan -p {port} {host}', then compare the fingerprint)."
            ) from None
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise AnsibleConnectionFailure(
                f"host key mismatch for {self._where}: the host offered "
                f"{_describe_key(exc.key)} but known_hosts records "
                f"{_describe_key(exc.expected_key)}. Either the host was rebuilt or someone is "
                f"intercepting the connection. Verify the new key out of band, then replace the "
                f"entry for {known_as} in the known_hosts file named by "
                f"cmectl_known_hosts_file."
            ) from None
        except paramiko.AuthenticationException as exc:
            client.close()
            tried = []
            if key_file:
                tried.append(f"key {key_file}")
            if boolean(self.get_option("allow_agent"), strict=False):
                tried.append("agent keys")
            if boolean(self.get_option("look_for_keys"), strict=False):
                tried.append("keys in ~/.ssh")
            if password:
                tried.append("a password")
            raise AnsibleAuthenticationFailure(
                f"authentication as {user or 'the local user name'} to {self._where} failed "
                f"({exc}); tried {', '.join(tried) or 'nothing'}. Check ansible_user, "
                f"ansible_ssh_private_key_file and ansible_password."
            ) from None
        except TimeoutError as exc:
            client.close()
            raise AnsibleConnectionFailure(
                f"timed out after {timeout}s connecting to {self._where} ({exc or 'no answer'})"
            ) from None
        except paramiko.ssh_exception.NoValidConnectionsError as exc:
            client.close()
            raise AnsibleConnectionFailure(
                f"could not connect to {self._where}: {exc.strerror or exc}"
            ) from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            client.close()
            reason = str(exc) or type(exc).__name__
            if isinstance(exc, EOFError) or reason == "No existing session" or "banner" in reason:
                reason = (
                    f"no SSH handshake within {timeout}s ({reason}); is an SSH server "
                    "listening on that port?"
                )
            raise AnsibleConnectionFailure(
                f"SSH connection to {self._where} failed: {reason}"
            ) from None

        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(15)
        return client

    def _transport(self):
        transport = self._client.get_transport() if self._client else None
        if transport is None or not transport.is_active():
            # The session died since the last command (a reboot, an idle cut): start again once.
            display.vvv("SSH session lost, reconnecting", host=self._where)
            self.close()
            self._connect()
            transport = self._client.get_transport()
        return transport

    # -- commands ------------------------------------------------------------------------

    def _become_password(self) -> bytes:
        password = self.become.get_option("become_pass", playcontext=self._play_context)
        return to_bytes(password or "", errors="surrogate_or_strict")

    def _scrub(self, text: str) -> str:
        """Take any password we know of out of a message before it is shown."""
        secrets = [self.get_option("password")]
        if self.become is not None:
            with contextlib.suppress(KeyError):
                secrets.append(
                    self.become.get_option("become_pass", playcontext=self._play_context)
                )
        for secret in secrets:
            if secret:
                text = text.replace(to_text(secret), "********")
        return text

    def _escalate(self, chan, output: _Output) -> None:
        """Answer the become prompt on ``chan`` and wait until escalation has succeeded."""
        become = self.become
        deadline = time.monotonic() + max(self._timeout(), 10)
        answered = False
        mark_out = mark_err = 0  # what was read before the password went

        def fresh() -> bytes:
            return bytes(output.out[mark_out:]) + b"\n" + bytes(output.err[mark_err:])

        def settled() -> bool:
            data = fresh()
            if become.check_success(data):
                return True
            if answered:
                return become.check_incorrect_password(data) or become.check_password_prompt(data)
            return become.check_password_prompt(data) or become.check_missing_password(data)

        while True:
            try:
                open_ = output.read(until=settled, deadline=deadline)
            except TimeoutError:
                chan.close()
                state = "success" if answered else "a password prompt"
                raise AnsibleError(
                    f"timed out waiting for {state} from '{become.name}' on {self._where}"
                ) from None
            data = fresh()
            if become.check_success(data):
                return
            if not open_:
                return  # the command ended; its output and exit code tell the story
            if answered:
                chan.close()
                raise AnsibleError(f"incorrect {become.name} password for {self._where}")
            if become.check_missing_password(data) and not become.check_password_prompt(data):
                chan.close()
                raise AnsibleError(f"missing {become.name} password for {self._where}")
            display.debug("cmectl_paramiko: become prompt seen, sending the password")
            mark_out, mark_err = len(output.out), len(output.err)
            chan.sendall(self._become_password() + b"\n")
            answered = True

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        transport = self._transport()
        timeout = self._timeout()

        become = self.become if sudoable else None
        escalate = bool(become and become.expect_prompt())
        needs_tty = bool(become and getattr(become, "require_tty", False))
        if in_data:
            # A terminal would echo and mangle the pipelined module, so use one only when the
            # become method cannot work without it.
            use_pty = needs_tty
        else:
            use_pty = needs_tty or escalate or bool(become and self.get_option("pty"))

        display.vvv(f"EXEC {cmd}", host=self._where)
        try:
            chan = transport.open_session(timeout=timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise AnsibleConnectionFailure(
                f"could not open an SSH channel to {self._where}: {exc or type(exc).__name__}"
            ) from None

        output = _Output(chan)
        try:
            if use_pty:
                chan.get_pty(term=os.environ.get("TERM", "vt100"), width=0, height=0)
            chan.exec_command(cmd)
            if escalate:
                self._escalate(chan, output)
            if in_data:
                chan.sendall(in_data)
            if in_data or not use_pty:
                chan.shutdown_write()
            output.read()
            rc = chan.recv_exit_status()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise AnsibleConnectionFailure(
                self._scrub(f"SSH command on {self._where} failed: {exc or type(exc).__name__}")
            ) from None
        finally:
            chan.close()

        stdout, stderr = bytes(output.out), bytes(output.err)
        if escalate:
            stdout = become.strip_become_success(become.strip_become_prompt(stdout))
            stderr = become.strip_become_prompt(stderr)
        return rc, stdout, stderr

    # -- files ---------------------------------------------------------------------------

    def _sftp_client(self):
        if self._sftp is None:
            try:
                self._transport()
                self._sftp = self._client.open_sftp()
            except (paramiko.SSHException, OSError, EOFError) as exc:
                raise AnsibleError(
                    f"could not start SFTP on {self._where}: {exc or type(exc).__name__}; "
                    "the host's sshd needs an sftp Subsystem"
                ) from None
        return self._sftp

    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        display.vvv(f"PUT {in_path} TO {out_path}", host=self._where)
        if not os.path.isfile(to_bytes(in_path, errors="surrogate_or_strict")):
            raise AnsibleFileNotFound(f"file or module does not exist: {in_path}")
        sftp = self._sftp_client()
        try:
            sftp.put(to_text(in_path), to_text(out_path))
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise AnsibleError(
                f"failed to copy {in_path} to {out_path} on {self._where}: {exc}"
            ) from None

    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        display.vvv(f"FETCH {in_path} TO {out_path}", host=self._where)
        sftp = self._sftp_client()
        try:
            sftp.get(to_text(in_path), to_text(out_path))
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise AnsibleError(
                f"failed to fetch {in_path} from {self._where} to {out_path}: {exc}"
            ) from None

    # -- teardown ------------------------------------------------------------------------

    def close(self) -> None:
        if self._sftp is not None:
            with contextlib.suppress(Exception):  # closing is best effort
                self._sftp.close()
            self._sftp = None
        if self._client is not None:
            self._client.close()
            self._client = None
        self._connected = False

    def reset(self) -> None:
        # The next command connects again; there is no persistent socket to clean up.
        self.close()
